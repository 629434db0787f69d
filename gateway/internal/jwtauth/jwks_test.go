package jwtauth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// jwksServer serves a mutable key set and counts fetches.
type jwksServer struct {
	mu      sync.Mutex
	keys    map[string]ed25519.PublicKey
	down    bool
	fetches atomic.Int32
	url     string
}

func newJWKSServer(t *testing.T) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: map[string]ed25519.PublicKey{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var keys []map[string]string
		for kid, k := range s.keys {
			keys = append(keys, map[string]string{"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": base64.RawURLEncoding.EncodeToString(k)})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *jwksServer) add(t *testing.T, kid string) ed25519.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.keys[kid] = pub
	s.mu.Unlock()
	return pub
}

func (s *jwksServer) setDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestKeySetRefetchOnUnknownKid(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t)
	k1 := srv.add(t, "k1")
	ks := NewKeySet(srv.url, http.DefaultClient, discard(), time.Hour, 0)
	ctx := t.Context()
	if got, err := ks.Key(ctx, "k1"); err != nil || !got.Equal(k1) {
		t.Fatalf("Key(k1) = %v, %v, want k1", got, err)
	}
	k2 := srv.add(t, "k2") // rotation
	if got, err := ks.Key(ctx, "k2"); err != nil || !got.Equal(k2) {
		t.Fatalf("Key(k2) after rotation = %v, %v, want k2", got, err)
	}
	if _, err := ks.Key(ctx, "k1"); err != nil {
		t.Errorf("Key(k1) after rotation error = %v, want the previous key kept", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("fetches = %d, want 2", n)
	}
}

func TestKeySetRateLimit(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t)
	srv.add(t, "k1")
	ks := NewKeySet(srv.url, http.DefaultClient, discard(), time.Hour, time.Hour)
	ctx := t.Context()
	if _, err := ks.Key(ctx, "k1"); err != nil {
		t.Fatalf("Key(k1) error = %v", err)
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := ks.Key(ctx, "forged"); !errors.Is(err, ErrUnknownKey) {
				t.Errorf("Key(forged) error = %v, want %v", err, ErrUnknownKey)
			}
		})
	}
	wg.Wait()
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("fetches = %d, want 1: unknown kids must not hammer the auth service", n)
	}
}

func TestKeySetSingleFlight(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t)
	srv.add(t, "k1")
	ks := NewKeySet(srv.url, http.DefaultClient, discard(), time.Hour, 0)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { _, _ = ks.Key(t.Context(), "k1") })
	}
	wg.Wait()
	// Concurrent first lookups share fetches; a few may follow one another.
	if n := srv.fetches.Load(); n > 5 {
		t.Errorf("fetches = %d for 20 concurrent lookups, want them shared", n)
	}
}

func TestKeySetKeptWhileUnreachable(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t)
	k1 := srv.add(t, "k1")
	now := time.Now()
	var mu sync.Mutex
	ks := NewKeySet(srv.url, http.DefaultClient, discard(), time.Minute, 0)
	ks.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ctx := t.Context()
	if _, err := ks.Key(ctx, "k1"); err != nil {
		t.Fatalf("Key(k1) error = %v", err)
	}
	srv.setDown(true)
	mu.Lock()
	now = now.Add(time.Hour) // stale: a background refresh fails
	mu.Unlock()
	if err := ks.Refresh(ctx); err == nil {
		t.Errorf("Refresh() with the auth service down error = nil, want an error")
	}
	if got, err := ks.Key(ctx, "k1"); err != nil || !got.Equal(k1) {
		t.Errorf("Key(k1) while unreachable = %v, %v, want the cached key", got, err)
	}
}

func TestKeySetNoKeys(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t)
	srv.setDown(true)
	ks := NewKeySet(srv.url, http.DefaultClient, discard(), time.Hour, 0)
	if _, err := ks.Key(context.Background(), "k1"); !errors.Is(err, ErrNoKeys) {
		t.Errorf("Key(k1) with no keys ever fetched error = %v, want %v", err, ErrNoKeys)
	}
}

func TestParseJWKS(t *testing.T) {
	t.Parallel()
	x := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	tests := []struct {
		name string
		doc  string
		want int
	}{
		{"ed25519", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"` + x + `","alg":"EdDSA","use":"sig"}]}`, 1},
		{"rsa skipped", `{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]}`, 0},
		{"encryption key skipped", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"` + x + `","use":"enc"}]}`, 0},
		{"other alg skipped", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"` + x + `","alg":"HS256"}]}`, 0},
		{"no kid skipped", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `"}]}`, 0},
		{"short key skipped", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"AAAA"}]}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keys, err := ParseJWKS([]byte(tt.doc))
			if err != nil || len(keys) != tt.want {
				t.Errorf("ParseJWKS(%s) = %d keys, %v, want %d", tt.name, len(keys), err, tt.want)
			}
		})
	}
	if _, err := ParseJWKS([]byte("not json")); err == nil {
		t.Errorf("ParseJWKS(not json) error = nil, want an error")
	}
}
