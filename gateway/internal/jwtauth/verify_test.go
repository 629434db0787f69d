package jwtauth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

type staticKeys map[string]ed25519.PublicKey

func (s staticKeys) Key(_ context.Context, kid string) (ed25519.PublicKey, error) {
	if k, ok := s[kid]; ok {
		return k, nil
	}
	return nil, ErrUnknownKey
}

// TestVerifyCacheHonoursExpiry checks that a cached verification ends when
// the token expires (plus leeway).
func TestVerifyCacheHonoursExpiry(t *testing.T) {
	t.Parallel()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Unix(1_800_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	v := newVerifier(staticKeys{"k": pub}, "authsvc", "authgw", 10*time.Second, clock)
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
		"iss": "authsvc", "aud": "authgw", "sub": "u1", "roles": []string{"admin", "bad,role", "user"},
		"exp": now.Add(time.Minute).Unix(),
	})
	tok.Header["kid"] = "k"
	tok.Header["typ"] = "at+jwt"
	s, err := tok.SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // the second answer comes from the cache
		id, err := v.Verify(t.Context(), s)
		if err != nil {
			t.Fatalf("Verify() #%d error = %v", i, err)
		}
		if id.UserID != "u1" || id.RolesHeader != "admin,user" {
			t.Errorf("Verify() #%d = %+v, want u1 with roles admin,user", i, id)
		}
	}
	mu.Lock()
	now = now.Add(time.Minute + 11*time.Second)
	mu.Unlock()
	if _, err := v.Verify(t.Context(), s); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify() after expiry error = %v, want %v", err, ErrInvalidToken)
	}
}
