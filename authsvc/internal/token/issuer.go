package token

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalidToken reports an access token that is malformed, badly signed,
// expired or otherwise not acceptable. The error wrapping it names the
// reason (often a jwt sentinel such as jwt.ErrTokenExpired) for logs; it
// never contains the token.
var ErrInvalidToken = errors.New("token: invalid access token")

// Reasons a token is refused before its signature is checked. They are
// wrapped, with ErrInvalidToken, by Verify's errors.
var (
	errTooLong    = errors.New("token too long")
	errType       = errors.New(`header typ is not "at+jwt"`)
	errNoKeyID    = errors.New("header kid missing")
	errUnknownKey = errors.New("header kid names no known key")
	errCritical   = errors.New("header crit not supported")
	errNoSubject  = errors.New("claim sub or sid missing")
)

// invalid turns a parser error into ErrInvalidToken wrapping one fixed
// reason, the most specific that applies. The parser's own error is
// dropped because its text may quote attacker-chosen header values.
func invalid(err error) error {
	for _, r := range [...]error{
		errType, errNoKeyID, errUnknownKey, errCritical,
		jwt.ErrTokenExpired, jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued,
		jwt.ErrTokenInvalidAudience, jwt.ErrTokenInvalidIssuer, jwt.ErrTokenRequiredClaimMissing,
		jwt.ErrTokenSignatureInvalid, jwt.ErrTokenMalformed, jwt.ErrTokenUnverifiable,
		jwt.ErrTokenInvalidClaims,
	} {
		if errors.Is(err, r) {
			return fmt.Errorf("%w: %w", ErrInvalidToken, r)
		}
	}
	return ErrInvalidToken
}

// Defaults for Options fields left zero.
const (
	// DefaultTTL is the lifetime of an access token.
	DefaultTTL = 15 * time.Minute
	// DefaultLeeway is the clock skew allowed when checking exp, nbf and iat.
	DefaultLeeway = 5 * time.Second
)

// maxTokenLen bounds the input of Verify. Real tokens are well under 1 KiB;
// the bound keeps a huge header from costing base64 and JSON work.
const maxTokenLen = 8 << 10

// typ is the header typ of access tokens (RFC 9068 section 2.1), which
// keeps an ID token or any other JWT signed by the same key from being
// accepted as an access token.
const typ = "at+jwt"

// Claims are the claims of an access token.
type Claims struct {
	jwt.RegisteredClaims
	// SessionID is the id of the login session the token belongs to.
	SessionID string `json:"sid"`
	// Email is the user's normalized email address.
	Email string `json:"email"`
	// Roles are the user's roles when the token was issued.
	Roles []string `json:"roles"`
}

// wireClaims is what Issue signs: Claims with aud as a single string, as
// RFC 9068 tokens usually carry it. jwt.ClaimStrings would write an array
// unless a package variable of jwt were changed for everyone. Audience
// here shadows the embedded one in both Go and JSON.
type wireClaims struct {
	jwt.RegisteredClaims
	Audience  string   `json:"aud"`
	SessionID string   `json:"sid"`
	Email     string   `json:"email"`
	Roles     []string `json:"roles"`
}

// Subject is whom an access token is issued to.
type Subject struct {
	// UserID becomes the sub claim. It must not be empty.
	UserID string
	// SessionID becomes the sid claim. It must not be empty.
	SessionID string
	// Email becomes the email claim.
	Email string
	// Roles become the roles claim.
	Roles []string
}

// Options configure an Issuer.
type Options struct {
	// Issuer is the iss claim written and required. It must not be empty.
	Issuer string
	// Audience is the aud claim written and required. It must not be empty.
	Audience string
	// TTL is the lifetime of issued tokens. Zero or less means DefaultTTL.
	TTL time.Duration
	// Leeway is the clock skew allowed when verifying. Zero means
	// DefaultLeeway; negative means none.
	Leeway time.Duration
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Issuer signs access tokens with the current key and verifies tokens
// signed with the current or a previous key. It is safe for concurrent
// use.
type Issuer struct {
	current  Key
	keys     map[string]ed25519.PublicKey // by key id: current and previous
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
	parser   *jwt.Parser
	jwks     []byte
}

// NewIssuer returns an Issuer that signs with current and also accepts
// tokens signed by the previous keys. It panics on an empty issuer or
// audience, on a key that is not a valid Ed25519 key, and on a
// current.ID that is set but not the key's thumbprint: these are
// configuration errors to be caught at start-up.
func NewIssuer(current Key, previous []ed25519.PublicKey, o Options) *Issuer {
	if o.Issuer == "" || o.Audience == "" {
		panic("token: NewIssuer needs an issuer and an audience")
	}
	if len(current.Private) != ed25519.PrivateKeySize {
		panic("token: NewIssuer current key is not an Ed25519 private key")
	}
	if k := NewKey(current.Private); current.ID != k.ID {
		if current.ID != "" {
			panic("token: NewIssuer current key id is not the key's thumbprint")
		}
		current = k
	}
	ttl := o.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	leeway := o.Leeway
	switch {
	case leeway == 0:
		leeway = DefaultLeeway
	case leeway < 0:
		leeway = 0
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}

	pubs := []ed25519.PublicKey{current.Private.Public().(ed25519.PublicKey)}
	ids := []string{current.ID}
	keys := map[string]ed25519.PublicKey{current.ID: pubs[0]}
	for _, pub := range previous {
		if len(pub) != ed25519.PublicKeySize {
			panic("token: NewIssuer previous key is not an Ed25519 public key")
		}
		id := thumbprint(pub)
		if _, dup := keys[id]; dup {
			continue
		}
		keys[id] = pub
		pubs = append(pubs, pub)
		ids = append(ids, id)
	}

	return &Issuer{
		current:  current,
		keys:     keys,
		issuer:   o.Issuer,
		audience: o.Audience,
		ttl:      ttl,
		now:      now,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
			jwt.WithIssuer(o.Issuer),
			jwt.WithAudience(o.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(leeway),
			jwt.WithTimeFunc(now),
			jwt.WithStrictDecoding(),
		),
		jwks: marshalJWKS(pubs, ids),
	}
}

// TTL returns the lifetime of the tokens i issues.
func (i *Issuer) TTL() time.Duration { return i.ttl }

// KeyID returns the key id of the current signing key.
func (i *Issuer) KeyID() string { return i.current.ID }

// Issue returns a signed access token for s and its expiry. The header
// carries alg EdDSA, typ at+jwt and the current kid; the claims are iss,
// aud, sub, sid, email, roles, iat, nbf, exp and a random jti.
func (i *Issuer) Issue(s Subject) (token string, expires time.Time, err error) {
	if s.UserID == "" || s.SessionID == "" {
		return "", time.Time{}, errors.New("token: subject needs a user id and a session id")
	}
	now := jwt.NewNumericDate(i.now())
	exp := jwt.NewNumericDate(now.Add(i.ttl))
	roles := s.Roles
	if roles == nil {
		roles = []string{}
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, wireClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   s.UserID,
			ExpiresAt: exp,
			NotBefore: now,
			IssuedAt:  now,
			ID:        newID(),
		},
		Audience:  i.audience,
		SessionID: s.SessionID,
		Email:     s.Email,
		Roles:     roles,
	})
	t.Header["typ"] = typ
	t.Header["kid"] = i.current.ID
	token, err = t.SignedString(i.current.Private)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("token: sign: %w", err)
	}
	return token, exp.Time, nil
}

// Verify checks token's size, header (alg EdDSA, typ at+jwt, a kid of a
// known key, no crit), signature, iss, aud, exp, nbf and iat, and that sub
// and sid are set, and returns its claims. Every failure wraps
// ErrInvalidToken.
func (i *Issuer) Verify(token string) (*Claims, error) {
	if len(token) > maxTokenLen {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, errTooLong)
	}
	var c Claims
	if _, err := i.parser.ParseWithClaims(token, &c, i.key); err != nil {
		return nil, invalid(err)
	}
	if c.Subject == "" || c.SessionID == "" {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, errNoSubject)
	}
	return &c, nil
}

// key is the jwt.Keyfunc of Verify. The parser has already checked alg
// against the allowed methods when it is called.
func (i *Issuer) key(t *jwt.Token) (any, error) {
	if v, _ := t.Header["typ"].(string); v != typ && v != "application/"+typ {
		return nil, errType
	}
	if _, ok := t.Header["crit"]; ok {
		return nil, errCritical
	}
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, errNoKeyID
	}
	pub, ok := i.keys[kid]
	if !ok {
		return nil, errUnknownKey
	}
	return pub, nil
}

// JWKS returns the JSON Web Key Set of the verification keys, current
// first, then previous:
// {"keys":[{"kty":"OKP","crv":"Ed25519","x":...,"kid":...,"alg":"EdDSA","use":"sig"}]}.
// It is computed once; the caller gets its own copy.
func (i *Issuer) JWKS() []byte { return bytes.Clone(i.jwks) }

// jwk is an Ed25519 public key as a JSON Web Key (RFC 8037).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// marshalJWKS encodes pubs, whose key ids are ids, as a JWK Set.
func marshalJWKS(pubs []ed25519.PublicKey, ids []string) []byte {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, len(pubs))}
	for n, pub := range pubs {
		set.Keys[n] = jwk{
			Kty: "OKP",
			Crv: "Ed25519",
			X:   base64.RawURLEncoding.EncodeToString(pub),
			Kid: ids[n],
			Alg: jwt.SigningMethodEdDSA.Alg(),
			Use: "sig",
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		// Only strings are marshaled; this cannot happen.
		panic(err)
	}
	return b
}

// newID returns a random 128-bit token id, base64url.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
