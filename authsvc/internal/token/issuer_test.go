package token_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/acme/authgw/authsvc/internal/token"
)

const (
	testIssuer   = "https://auth.example.test"
	testAudience = "authgw"
	testTTL      = 15 * time.Minute
	testLeeway   = 5 * time.Second
)

// now is the fixed clock of the tests; NumericDate has second precision.
var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// env is an Issuer with its current key and a previous key it also
// accepts.
type env struct {
	issuer   *token.Issuer
	current  token.Key
	previous token.Key
}

func newEnv(tb testing.TB) env {
	tb.Helper()
	current, previous := genKey(tb), genKey(tb)
	return env{
		issuer: token.NewIssuer(current, []ed25519.PublicKey{previous.Private.Public().(ed25519.PublicKey)}, token.Options{
			Issuer:   testIssuer,
			Audience: testAudience,
			TTL:      testTTL,
			Leeway:   testLeeway,
			Now:      func() time.Time { return now },
		}),
		current:  current,
		previous: previous,
	}
}

func genKey(tb testing.TB) token.Key {
	tb.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return token.NewKey(priv)
}

// claims are valid claims at now, as a map so attacks can change any of
// them.
func claims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss":   testIssuer,
		"aud":   testAudience,
		"sub":   "user-1",
		"sid":   "session-1",
		"email": "ada@example.test",
		"roles": []string{"admin"},
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(testTTL).Unix(),
		"jti":   "id-1",
	}
}

// header is a valid header for kid, less alg, which signing sets.
func header(kid string) map[string]any {
	return map[string]any{"typ": "at+jwt", "kid": kid}
}

// sign signs c with method and key under header h (alg is added).
func sign(tb testing.TB, method jwt.SigningMethod, key any, h map[string]any, c jwt.Claims) string {
	tb.Helper()
	t := jwt.NewWithClaims(method, c)
	t.Header = map[string]any{"alg": method.Alg()}
	for k, v := range h {
		t.Header[k] = v
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func with(f func(jwt.MapClaims)) jwt.MapClaims {
	c := claims()
	f(c)
	return c
}

func withHeader(kid string, f func(map[string]any)) map[string]any {
	h := header(kid)
	f(h)
	return h
}

func seg(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

type attack struct {
	name  string
	token string
	// reason is in the error's text, so each case fails for its own
	// reason and not for an accident of how it was built.
	reason string
}

// attacks are tokens an Issuer from e must reject, one per attack.
func attacks(tb testing.TB, e env) []attack {
	tb.Helper()
	kid := e.current.ID
	priv := e.current.Private
	pub := priv.Public().(ed25519.PublicKey)
	valid := sign(tb, jwt.SigningMethodEdDSA, priv, header(kid), claims())
	parts := strings.Split(valid, ".")

	tamperedPayload := parts[0] + "." + seg(with(func(c jwt.MapClaims) { c["sub"] = "user-2" })) + "." + parts[2]
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		tb.Fatal(err)
	}
	sig[0] ^= 1
	tamperedSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	none := func(alg string) string {
		h := withHeader(kid, func(h map[string]any) { h["alg"] = alg })
		return seg(h) + "." + parts[1] + "."
	}
	_, foreign, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	rsaKey, err := jwt.ParseRSAPrivateKeyFromPEM(readFile(tb, "testdata/rsa.pem"))
	if err != nil {
		tb.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	ed := func(h map[string]any, c jwt.Claims) string {
		return sign(tb, jwt.SigningMethodEdDSA, priv, h, c)
	}
	late := now.Add(testLeeway + time.Minute)

	return []attack{
		{"tampered payload", tamperedPayload, "signature is invalid"},
		{"tampered signature", tamperedSig, "signature is invalid"},
		{"signature stripped", parts[0] + "." + parts[1] + ".", "signature is invalid"},
		{"alg none", none("none"), "signature is invalid"},
		{"alg None", none("None"), "unverifiable"},
		{"alg NONE", none("NONE"), "unverifiable"},
		{"alg none with signature", none("none") + parts[2], "signature is invalid"},
		{"HS256 with public key as secret", sign(tb, jwt.SigningMethodHS256, []byte(pub), header(kid), claims()), "signature is invalid"},
		{"HS256 with PEM public key as secret", sign(tb, jwt.SigningMethodHS256, readFile(tb, "testdata/ed25519.pub.pem"), header(kid), claims()), "signature is invalid"},
		{"foreign key with same kid", sign(tb, jwt.SigningMethodEdDSA, foreign, header(kid), claims()), "signature is invalid"},
		{"RS256", sign(tb, jwt.SigningMethodRS256, rsaKey, header(kid), claims()), "signature is invalid"},
		{"ES256", sign(tb, jwt.SigningMethodES256, ecKey, header(kid), claims()), "signature is invalid"},
		{"expired", ed(header(kid), with(func(c jwt.MapClaims) {
			c["iat"] = now.Add(-time.Hour).Unix()
			c["nbf"] = now.Add(-time.Hour).Unix()
			c["exp"] = now.Add(-testLeeway - time.Second).Unix()
		})), "expired"},
		{"not yet valid", ed(header(kid), with(func(c jwt.MapClaims) { c["nbf"] = late.Unix() })), "not valid yet"},
		{"issued in the future", ed(header(kid), with(func(c jwt.MapClaims) { c["iat"] = late.Unix() })), "used before issued"},
		{"wrong audience", ed(header(kid), with(func(c jwt.MapClaims) { c["aud"] = "other" })), "invalid audience"},
		{"wrong audience array", ed(header(kid), with(func(c jwt.MapClaims) { c["aud"] = []string{"other", "more"} })), "invalid audience"},
		{"missing audience", ed(header(kid), with(func(c jwt.MapClaims) { delete(c, "aud") })), "missing required claim"},
		{"wrong issuer", ed(header(kid), with(func(c jwt.MapClaims) { c["iss"] = "https://evil.test" })), "invalid issuer"},
		{"missing issuer", ed(header(kid), with(func(c jwt.MapClaims) { delete(c, "iss") })), "missing required claim"},
		{"missing exp", ed(header(kid), with(func(c jwt.MapClaims) { delete(c, "exp") })), "missing required claim"},
		{"exp as string", ed(header(kid), with(func(c jwt.MapClaims) { c["exp"] = "tomorrow" })), "malformed"},
		{"missing sub", ed(header(kid), with(func(c jwt.MapClaims) { delete(c, "sub") })), "sub or sid missing"},
		{"missing sid", ed(header(kid), with(func(c jwt.MapClaims) { delete(c, "sid") })), "sub or sid missing"},
		{"typ JWT", ed(withHeader(kid, func(h map[string]any) { h["typ"] = "JWT" }), claims()), "typ"},
		{"typ upper case", ed(withHeader(kid, func(h map[string]any) { h["typ"] = "AT+JWT" }), claims()), "typ"},
		{"typ not a string", ed(withHeader(kid, func(h map[string]any) { h["typ"] = 1 }), claims()), "typ"},
		{"missing typ", ed(withHeader(kid, func(h map[string]any) { delete(h, "typ") }), claims()), "typ"},
		{"missing kid", ed(withHeader(kid, func(h map[string]any) { delete(h, "kid") }), claims()), "kid missing"},
		{"empty kid", ed(withHeader(kid, func(h map[string]any) { h["kid"] = "" }), claims()), "kid missing"},
		{"unknown kid", ed(withHeader(kid, func(h map[string]any) { h["kid"] = "not-a-known-key" }), claims()), "no known key"},
		{"kid not a string", ed(withHeader(kid, func(h map[string]any) { h["kid"] = []string{kid} }), claims()), "kid missing"},
		{"crit header", ed(withHeader(kid, func(h map[string]any) { h["crit"] = []string{"exp"} }), claims()), "crit"},
		{"padded segments", parts[0] + "=." + parts[1] + "." + parts[2], "malformed"},
		{"two segments", parts[0] + "." + parts[1], "malformed"},
		{"four segments", valid + "." + parts[2], "malformed"},
		{"too long", ed(header(kid), with(func(c jwt.MapClaims) { c["pad"] = strings.Repeat("x", 8<<10) })), "too long"},
		{"empty string", "", "malformed"},
		{"garbage", "this is not a token", "malformed"},
		{"dots", "..", "malformed"},
	}
}

func readFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The attacks start from a token that is valid, so each case tests
	// its one change.
	valid := sign(t, jwt.SigningMethodEdDSA, e.current.Private, header(e.current.ID), claims())
	if _, err := e.issuer.Verify(valid); err != nil {
		t.Fatalf("Verify(valid) error = %v", err)
	}
	for _, tt := range attacks(t, e) {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := e.issuer.Verify(tt.token)
			if !errors.Is(err, token.ErrInvalidToken) {
				t.Fatalf("Verify() = (%+v, %v), want error %v", c, err, token.ErrInvalidToken)
			}
			if c != nil {
				t.Errorf("Verify() claims = %+v, want nil", c)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Verify() error = %q, want reason %q", err, tt.reason)
			}
			if len(tt.token) > 10 && strings.Contains(err.Error(), tt.token) {
				t.Errorf("Verify() error %q contains the token", err)
			}
		})
	}
}

func TestIssueVerify(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name    string
		subject token.Subject
		roles   []string
	}{
		{
			name:    "all claims",
			subject: token.Subject{UserID: "user-1", SessionID: "session-1", Email: "ada@example.test", Roles: []string{"admin", "user"}},
			roles:   []string{"admin", "user"},
		},
		{
			name:    "no roles",
			subject: token.Subject{UserID: "user-2", SessionID: "session-2", Email: "bob@example.test"},
			roles:   []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, expires, err := e.issuer.Issue(tt.subject)
			if err != nil {
				t.Fatalf("Issue() error = %v", err)
			}
			if want := now.Add(testTTL); !expires.Equal(want) {
				t.Errorf("Issue() expires = %v, want %v", expires, want)
			}
			got, err := e.issuer.Verify(s)
			if err != nil {
				t.Fatalf("Verify(Issue()) error = %v", err)
			}
			if len(got.ID) != 22 {
				t.Errorf("jti = %q, want 22 base64url characters (128 bits)", got.ID)
			}
			want := &token.Claims{
				RegisteredClaims: jwt.RegisteredClaims{
					Issuer:    testIssuer,
					Subject:   tt.subject.UserID,
					Audience:  jwt.ClaimStrings{testAudience},
					ExpiresAt: jwt.NewNumericDate(now.Add(testTTL)),
					NotBefore: jwt.NewNumericDate(now),
					IssuedAt:  jwt.NewNumericDate(now),
					ID:        got.ID,
				},
				SessionID: tt.subject.SessionID,
				Email:     tt.subject.Email,
				Roles:     tt.roles,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Verify(Issue()) claims mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestIssueWire pins what other services see: the header and the JSON
// form of the claims, aud as a single string.
func TestIssueWire(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s, _, err := e.issuer.Issue(token.Subject{UserID: "user-1", SessionID: "session-1", Email: "ada@example.test", Roles: []string{"admin"}})
	if err != nil {
		t.Fatalf("Issue() error = %v", err)
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		t.Fatalf("Issue() = %d segments, want 3", len(parts))
	}
	var h map[string]any
	var c map[string]any
	decodeSeg(t, parts[0], &h)
	decodeSeg(t, parts[1], &c)
	wantHeader := map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": e.current.ID}
	if diff := cmp.Diff(wantHeader, h); diff != "" {
		t.Errorf("header mismatch (-want +got):\n%s", diff)
	}
	wantClaims := map[string]any{
		"iss": testIssuer, "aud": testAudience, "sub": "user-1", "sid": "session-1",
		"email": "ada@example.test", "roles": []any{"admin"},
		"iat": float64(now.Unix()), "nbf": float64(now.Unix()), "exp": float64(now.Add(testTTL).Unix()),
		"jti": c["jti"],
	}
	if diff := cmp.Diff(wantClaims, c); diff != "" {
		t.Errorf("claims mismatch (-want +got):\n%s", diff)
	}
}

func decodeSeg(t *testing.T, s string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("segment %q: %v", s, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("segment %s: %v", b, err)
	}
}

func TestIssueNeedsSubject(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name    string
		subject token.Subject
	}{
		{name: "no user id", subject: token.Subject{SessionID: "s"}},
		{name: "no session id", subject: token.Subject{UserID: "u"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if s, _, err := e.issuer.Issue(tt.subject); err == nil {
				t.Errorf("Issue(%+v) = %q, want an error", tt.subject, s)
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	kid := e.current.ID
	ed := func(h map[string]any, c jwt.Claims) string {
		return sign(t, jwt.SigningMethodEdDSA, e.current.Private, h, c)
	}
	tests := []struct {
		name  string
		token string
	}{
		{name: "valid", token: ed(header(kid), claims())},
		{name: "typ application/at+jwt", token: ed(withHeader(kid, func(h map[string]any) { h["typ"] = "application/at+jwt" }), claims())},
		{name: "previous key", token: sign(t, jwt.SigningMethodEdDSA, e.previous.Private, header(e.previous.ID), claims())},
		{name: "aud array with ours", token: ed(header(kid), with(func(c jwt.MapClaims) { c["aud"] = []string{"other", testAudience} }))},
		{name: "expired within leeway", token: ed(header(kid), with(func(c jwt.MapClaims) { c["exp"] = now.Add(-testLeeway + time.Second).Unix() }))},
		{name: "nbf within leeway", token: ed(header(kid), with(func(c jwt.MapClaims) { c["nbf"] = now.Add(testLeeway - time.Second).Unix() }))},
		{name: "no nbf", token: ed(header(kid), with(func(c jwt.MapClaims) { delete(c, "nbf") }))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := e.issuer.Verify(tt.token)
			if err != nil {
				t.Fatalf("Verify() error = %v, want <nil>", err)
			}
			if c.Subject != "user-1" || c.SessionID != "session-1" {
				t.Errorf("Verify() sub, sid = %q, %q, want %q, %q", c.Subject, c.SessionID, "user-1", "session-1")
			}
		})
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	opts := token.Options{Issuer: testIssuer, Audience: testAudience, Now: func() time.Time { return now }}
	old, next := genKey(t), genKey(t)
	oldPub := old.Private.Public().(ed25519.PublicKey)

	before := token.NewIssuer(old, nil, opts)
	s, _, err := before.Issue(token.Subject{UserID: "u", SessionID: "s"})
	if err != nil {
		t.Fatalf("Issue() error = %v", err)
	}
	tests := []struct {
		name    string
		issuer  *token.Issuer
		wantErr error
	}{
		{name: "before rotation", issuer: before},
		{name: "after rotation, old key kept", issuer: token.NewIssuer(next, []ed25519.PublicKey{oldPub}, opts)},
		{name: "old key dropped", issuer: token.NewIssuer(next, nil, opts), wantErr: token.ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := tt.issuer.Verify(s); !errors.Is(err, tt.wantErr) {
				t.Errorf("Verify(token of old key) error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// jwks mirrors the JWK Set JSON.
type jwks struct {
	Keys []struct {
		Kty, Crv, X, Kid, Alg, Use string
	}
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The current key listed again as previous appears once.
	i := token.NewIssuer(e.current, []ed25519.PublicKey{
		e.previous.Private.Public().(ed25519.PublicKey),
		e.current.Private.Public().(ed25519.PublicKey),
	}, token.Options{Issuer: testIssuer, Audience: testAudience})
	raw := i.JWKS()
	var got jwks
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("JWKS() = %s: %v", raw, err)
	}
	wantKeys := []token.Key{e.current, e.previous}
	if len(got.Keys) != len(wantKeys) {
		t.Fatalf("JWKS() has %d keys, want %d: %s", len(got.Keys), len(wantKeys), raw)
	}
	for n, k := range got.Keys {
		want := wantKeys[n]
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" || k.Use != "sig" {
			t.Errorf("key %d = %+v, want kty OKP, crv Ed25519, alg EdDSA, use sig", n, k)
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil {
			t.Errorf("key %d x = %q: %v", n, k.X, err)
		}
		if pub := want.Private.Public().(ed25519.PublicKey); !pub.Equal(ed25519.PublicKey(x)) {
			t.Errorf("key %d x decodes to %x, want %x", n, x, []byte(pub))
		}
		if k.Kid != want.ID {
			t.Errorf("key %d kid = %q, want %q", n, k.Kid, want.ID)
		}
	}
	raw[0] = 'X'
	if again := i.JWKS(); again[0] != '{' {
		t.Errorf("JWKS() after the caller changed its copy starts with %q, want '{'", again[0])
	}
}

// TestKeyID checks the key id against RFC 8037 appendix A: the Ed25519
// key of A.1 has the RFC 7638 thumbprint of A.3.
func TestKeyID(t *testing.T) {
	t.Parallel()
	d, err := base64.RawURLEncoding.DecodeString("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
	if err != nil {
		t.Fatal(err)
	}
	k := token.NewKey(ed25519.NewKeyFromSeed(d))
	if got, want := base64.RawURLEncoding.EncodeToString(k.Private.Public().(ed25519.PublicKey)), "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"; got != want {
		t.Fatalf("public key x = %q, want %q", got, want)
	}
	if got, want := k.ID, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("NewKey(RFC 8037 A.1).ID = %q, want %q", got, want)
	}
	i := token.NewIssuer(k, nil, token.Options{Issuer: testIssuer, Audience: testAudience})
	if got := i.KeyID(); got != k.ID {
		t.Errorf("KeyID() = %q, want %q", got, k.ID)
	}
}

func TestNewIssuerDefaults(t *testing.T) {
	t.Parallel()
	k := genKey(t)
	i := token.NewIssuer(token.Key{Private: k.Private}, nil, token.Options{Issuer: testIssuer, Audience: testAudience})
	if got := i.TTL(); got != token.DefaultTTL {
		t.Errorf("TTL() = %v, want %v", got, token.DefaultTTL)
	}
	if got := i.KeyID(); got != k.ID {
		t.Errorf("KeyID() with Key.ID unset = %q, want the thumbprint %q", got, k.ID)
	}
}

func TestNewIssuerPanics(t *testing.T) {
	t.Parallel()
	k := genKey(t)
	opts := token.Options{Issuer: testIssuer, Audience: testAudience}
	tests := []struct {
		name     string
		current  token.Key
		previous []ed25519.PublicKey
		opts     token.Options
	}{
		{name: "no issuer", current: k, opts: token.Options{Audience: testAudience}},
		{name: "no audience", current: k, opts: token.Options{Issuer: testIssuer}},
		{name: "no key", opts: opts},
		{name: "short key", current: token.Key{Private: k.Private[:32]}, opts: opts},
		{name: "wrong key id", current: token.Key{ID: "mine", Private: k.Private}, opts: opts},
		{name: "short previous key", current: k, previous: []ed25519.PublicKey{make([]byte, 31)}, opts: opts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if recover() == nil {
					t.Errorf("NewIssuer() did not panic")
				}
			}()
			token.NewIssuer(tt.current, tt.previous, tt.opts)
		})
	}
}

func FuzzVerify(f *testing.F) {
	e := newEnv(f)
	known := map[string]bool{e.current.ID: true, e.previous.ID: true}
	valid, _, err := e.issuer.Issue(token.Subject{UserID: "u", SessionID: "s", Email: "e@example.test", Roles: []string{"r"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	for _, a := range attacks(f, e) {
		f.Add(a.token)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := e.issuer.Verify(s)
		if err != nil {
			if !errors.Is(err, token.ErrInvalidToken) {
				t.Fatalf("Verify() error = %v, want %v", err, token.ErrInvalidToken)
			}
			if c != nil {
				t.Fatalf("Verify() = (%+v, %v), want nil claims with an error", c, err)
			}
			return
		}
		if c.Subject == "" || c.SessionID == "" {
			t.Fatalf("Verify() accepted claims without sub or sid: %+v", c)
		}
		b, err := base64.RawURLEncoding.DecodeString(strings.Split(s, ".")[0])
		if err != nil {
			t.Fatalf("Verify() accepted a token whose header is not base64url: %v", err)
		}
		var h struct {
			Alg string `json:"alg"`
			Kid string `json:"kid"`
		}
		if err := json.Unmarshal(b, &h); err != nil {
			t.Fatalf("Verify() accepted a token whose header is not JSON: %v", err)
		}
		if h.Alg != "EdDSA" || !known[h.Kid] {
			t.Fatalf("Verify() accepted alg %q kid %q, want EdDSA and a known kid", h.Alg, h.Kid)
		}
	})
}

func BenchmarkIssue(b *testing.B) {
	e := newEnv(b)
	s := token.Subject{UserID: "user-1", SessionID: "session-1", Email: "ada@example.test", Roles: []string{"admin"}}
	for b.Loop() {
		if _, _, err := e.issuer.Issue(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	e := newEnv(b)
	s, _, err := e.issuer.Issue(token.Subject{UserID: "user-1", SessionID: "session-1", Email: "ada@example.test", Roles: []string{"admin"}})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := e.issuer.Verify(s); err != nil {
			b.Fatal(err)
		}
	}
}
