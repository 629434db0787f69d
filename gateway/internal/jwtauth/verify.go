package jwtauth

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Errors of Verify. Callers map ErrInvalidToken to unauthenticated and
// ErrNoKeys to unavailable.
var (
	ErrInvalidToken = errors.New("jwtauth: invalid access token")
	ErrMissingKid   = errors.New("jwtauth: kid header required")
	ErrWrongType    = errors.New("jwtauth: typ must be at+jwt")
)

// Identity is who a verified token speaks for.
type Identity struct {
	UserID string
	Roles  []string
	// RolesHeader is Roles joined with commas, as sent upstream.
	RolesHeader string
	expires     time.Time
}

// HasRoles reports whether every role of want is held.
func (id *Identity) HasRoles(want []string) bool {
	for _, w := range want {
		found := false
		for _, r := range id.Roles {
			if r == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

type claims struct {
	jwt.RegisteredClaims
	SessionID string   `json:"sid"`
	Email     string   `json:"email"`
	Roles     []string `json:"roles"`
}

// keySource is what Verifier needs of a KeySet.
type keySource interface {
	Key(ctx context.Context, kid string) (ed25519.PublicKey, error)
}

var _ keySource = (*KeySet)(nil)

// Verifier checks access tokens: EdDSA only, kid and typ at+jwt required,
// iss, aud, exp and nbf checked with a leeway. Verified tokens are cached
// until they expire (bounded), since an Ed25519 verification costs more than
// proxying a small request.
type Verifier struct {
	keys   keySource
	parser *jwt.Parser
	leeway time.Duration
	now    func() time.Time

	mu    sync.RWMutex
	cache map[string]*Identity
}

// maxCache bounds the verified-token cache; when full it is emptied.
const maxCache = 10000

// NewVerifier returns a Verifier of tokens issued by issuer for audience.
func NewVerifier(keys *KeySet, issuer, audience string, leeway time.Duration) *Verifier {
	return newVerifier(keys, issuer, audience, leeway, time.Now)
}

func newVerifier(keys keySource, issuer, audience string, leeway time.Duration, now func() time.Time) *Verifier {
	return &Verifier{
		keys: keys,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{"EdDSA"}),
			jwt.WithIssuer(issuer),
			jwt.WithAudience(audience),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(leeway),
			jwt.WithTimeFunc(now),
		),
		leeway: leeway,
		now:    now,
		cache:  map[string]*Identity{},
	}
}

// Verify checks token and returns its identity.
func (v *Verifier) Verify(ctx context.Context, token string) (*Identity, error) {
	v.mu.RLock()
	id, ok := v.cache[token]
	v.mu.RUnlock()
	if ok {
		if v.now().Before(id.expires) {
			return id, nil
		}
		v.mu.Lock()
		delete(v.cache, token)
		v.mu.Unlock()
	}
	var c claims
	var keyErr error
	_, err := v.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
			return nil, ErrWrongType
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, ErrMissingKid
		}
		key, err := v.keys.Key(ctx, kid)
		if err != nil {
			keyErr = err
			return nil, err
		}
		return key, nil
	})
	if errors.Is(keyErr, ErrNoKeys) {
		return nil, keyErr
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Subject == "" || !printable(c.Subject) {
		return nil, fmt.Errorf("%w: bad sub", ErrInvalidToken)
	}
	roles := make([]string, 0, len(c.Roles))
	for _, r := range c.Roles {
		// A role that could split or break the header is not a role.
		if r != "" && printable(r) && !strings.ContainsAny(r, ", ") {
			roles = append(roles, r)
		}
	}
	id = &Identity{
		UserID:      c.Subject,
		Roles:       roles,
		RolesHeader: strings.Join(roles, ","),
		expires:     c.ExpiresAt.Add(v.leeway),
	}
	v.mu.Lock()
	if len(v.cache) >= maxCache {
		clear(v.cache)
	}
	v.cache[token] = id
	v.mu.Unlock()
	return id, nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Bearer extracts the token of an "Authorization: Bearer <token>" header
// value (RFC 6750: case-insensitive scheme, b64token syntax).
func Bearer(header string) (string, bool) {
	const scheme = "bearer "
	if len(header) <= len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		return "", false
	}
	token := strings.TrimLeft(header[len(scheme):], " ")
	if token == "" {
		return "", false
	}
	i := 0
	for ; i < len(token); i++ {
		c := token[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return "", false
	}
	for j := i; j < len(token); j++ {
		if token[j] != '=' {
			return "", false
		}
	}
	return token, true
}
