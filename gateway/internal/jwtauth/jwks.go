// Package jwtauth verifies the auth service's access tokens: EdDSA JWTs whose
// keys come from its JWKS, fetched and cached by a KeySet.
package jwtauth

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Errors of the key set.
var (
	ErrUnknownKey   = errors.New("jwtauth: unknown key id")
	ErrNoKeys       = errors.New("jwtauth: no keys could be fetched")
	errBadJWKSReply = errors.New("jwtauth: bad JWKS response")
)

// maxJWKSBytes bounds a JWKS response.
const maxJWKSBytes = 1 << 20

// KeySet is the auth service's public keys by kid. It fetches them lazily,
// refetches on an unknown kid (one fetch at a time, at most once per
// minRefetch) and in the background once refresh has passed, and keeps the
// last good set while the auth service is unreachable.
type KeySet struct {
	url        string
	client     *http.Client
	log        *slog.Logger
	refresh    time.Duration
	minRefetch time.Duration
	now        func() time.Time

	group singleflight.Group

	mu          sync.RWMutex
	keys        map[string]ed25519.PublicKey
	fetchedAt   time.Time // last successful fetch
	attemptedAt time.Time // last attempt, successful or not
}

// NewKeySet returns a KeySet reading url with client.
func NewKeySet(url string, client *http.Client, log *slog.Logger, refresh, minRefetch time.Duration) *KeySet {
	return &KeySet{
		url: url, client: client, log: log,
		refresh: refresh, minRefetch: minRefetch, now: time.Now,
	}
}

// Key returns the public key for kid.
func (s *KeySet) Key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	s.mu.RLock()
	key, ok := s.keys[kid]
	now := s.now()
	stale := now.Sub(s.fetchedAt) > s.refresh && now.Sub(s.attemptedAt) >= s.minRefetch
	haveKeys := s.keys != nil
	s.mu.RUnlock()
	if ok {
		if stale {
			// Refresh in the background; the current key is still good.
			go func() { _ = s.fetch(context.WithoutCancel(ctx)) }()
		}
		return key, nil
	}
	err := s.fetch(ctx)
	s.mu.RLock()
	key, ok = s.keys[kid]
	haveKeys = haveKeys || s.keys != nil
	s.mu.RUnlock()
	switch {
	case ok:
		return key, nil
	case !haveKeys && err != nil:
		return nil, fmt.Errorf("%w: %w", ErrNoKeys, err)
	default:
		return nil, ErrUnknownKey
	}
}

// Refresh fetches the key set now, unless a fetch was attempted within the
// rate limit. It is used at start-up.
func (s *KeySet) Refresh(ctx context.Context) error {
	return s.fetch(ctx)
}

// fetch refetches the key set, one fetch at a time and at most once per
// minRefetch; callers arriving during a fetch share its result.
func (s *KeySet) fetch(ctx context.Context) error {
	ch := s.group.DoChan("jwks", func() (any, error) {
		s.mu.Lock()
		if !s.attemptedAt.IsZero() && s.now().Sub(s.attemptedAt) < s.minRefetch {
			s.mu.Unlock()
			return nil, nil
		}
		s.attemptedAt = s.now()
		s.mu.Unlock()
		// Detached: a caller that gives up must not fail the shared fetch.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		keys, err := s.get(fctx)
		if err != nil {
			s.log.Warn("jwks fetch failed, keeping the previous keys", "url", s.url, "error", err)
			return nil, err
		}
		s.mu.Lock()
		s.keys = keys
		s.fetchedAt = s.now()
		s.mu.Unlock()
		s.log.Debug("jwks fetched", "url", s.url, "keys", len(keys))
		return nil, nil
	})
	select {
	case res := <-ch:
		return res.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

func (s *KeySet) get(ctx context.Context) (map[string]ed25519.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: status %d", errBadJWKSReply, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes))
	if err != nil {
		return nil, err
	}
	return ParseJWKS(data)
}

// ParseJWKS returns the Ed25519 signing keys of a JWKS document by kid;
// other keys are skipped.
func ParseJWKS(data []byte) (map[string]ed25519.PublicKey, error) {
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadJWKSReply, err)
	}
	keys := make(map[string]ed25519.PublicKey, len(doc.Keys))
	for _, k := range doc.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Kid == "" ||
			(k.Alg != "" && k.Alg != "EdDSA") || (k.Use != "" && k.Use != "sig") {
			continue
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			continue
		}
		keys[k.Kid] = ed25519.PublicKey(x)
	}
	return keys, nil
}
