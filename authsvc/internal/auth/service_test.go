package auth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/authgw/authsvc/internal/auth"
	"github.com/acme/authgw/authsvc/internal/dbtest"
	"github.com/acme/authgw/authsvc/internal/password"
	"github.com/acme/authgw/authsvc/internal/store"
	"github.com/acme/authgw/authsvc/internal/token"
)

// cheap are argon2id parameters that keep the suite fast; the real
// parameters are exercised by package password and its benchmarks.
var cheap = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// clock is an injectable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// countingHasher counts the argon2 computations of a real Hasher, to show
// that paths cost the same work.
type countingHasher struct {
	*password.Hasher
	n atomic.Int64
}

func (h *countingHasher) Hash(ctx context.Context, pw string) (string, error) {
	h.n.Add(1)
	return h.Hasher.Hash(ctx, pw)
}

func (h *countingHasher) Verify(ctx context.Context, pw, enc string) (bool, bool, error) {
	h.n.Add(1)
	return h.Hasher.Verify(ctx, pw, enc)
}

func (h *countingHasher) Dummy(ctx context.Context, pw string) error {
	h.n.Add(1)
	return h.Hasher.Dummy(ctx, pw)
}

type env struct {
	svc    *auth.Service
	store  *store.Store
	clock  *clock
	hasher *countingHasher
	tokens *token.Issuer
}

func newEnv(t *testing.T, url string) *env {
	t.Helper()
	st, err := store.Open(url)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	clk := &clock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tokens := token.NewIssuer(token.NewKey(priv), nil, token.Options{
		Issuer: "authsvc", Audience: "authgw", TTL: 15 * time.Minute, Now: clk.Now,
	})
	h := &countingHasher{Hasher: password.NewHasher(password.Options{Params: cheap})}
	svc := auth.NewService(st, h, tokens, auth.Config{
		RefreshIdleTTL:     7 * 24 * time.Hour,
		RefreshAbsoluteTTL: 30 * 24 * time.Hour,
		ReuseGrace:         10 * time.Second,
		Now:                clk.Now,
	})
	return &env{svc: svc, store: st, clock: clk, hasher: h, tokens: tokens}
}

// as returns a context that carries the identity of an access token, as
// the server's interceptor makes it.
func (e *env) as(t *testing.T, accessToken string) context.Context {
	t.Helper()
	c, err := e.tokens.Verify(accessToken)
	if err != nil {
		t.Fatalf("Verify(access token): %v", err)
	}
	return auth.WithIdentity(t.Context(), auth.Identity{UserID: c.Subject, SessionID: c.SessionID, Email: c.Email, Roles: c.Roles})
}

func (e *env) register(t *testing.T, email, pw string) *auth.User {
	t.Helper()
	u, err := e.svc.Register(t.Context(), email, pw)
	if err != nil {
		t.Fatalf("Register(%q): %v", email, err)
	}
	return u
}

func (e *env) login(t *testing.T, email, pw string) *auth.TokenPair {
	t.Helper()
	p, err := e.svc.Login(t.Context(), email, pw, auth.Client{UserAgent: "test", IPAddress: "192.0.2.7"})
	if err != nil {
		t.Fatalf("Login(%q): %v", email, err)
	}
	return p
}

func TestRegisterValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dbtest.SQLite(t))
	u := e.register(t, "  Ann@Example.COM ", "correct horse")
	if u.Email != "ann@example.com" {
		t.Errorf("Register email = %q, want %q", u.Email, "ann@example.com")
	}
	if len(u.Roles) != 1 || u.Roles[0] != "user" {
		t.Errorf("Register roles = %v, want [user]", u.Roles)
	}
	tests := []struct {
		name, email, pw string
		want            error
	}{
		{"taken in other case", "ANN@example.com", "another password", auth.ErrEmailTaken},
		{"empty email", "", "long enough", auth.ErrInvalidInput},
		{"no at sign", "ann.example.com", "long enough", auth.ErrInvalidInput},
		{"display name", "Ann <ann2@example.com>", "long enough", auth.ErrInvalidInput},
		{"space inside", "an n@example.com", "long enough", auth.ErrInvalidInput},
		{"too long", strings.Repeat("a", 250) + "@example.com", "long enough", auth.ErrInvalidInput},
		{"short password", "bob@example.com", "1234567", auth.ErrInvalidInput},
		{"long password", "bob@example.com", strings.Repeat("p", 129), auth.ErrInvalidInput},
		{"7 chars plus spaces count as given", "bob@example.com", " 123456", auth.ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.svc.Register(t.Context(), tt.email, tt.pw)
			if !errors.Is(err, tt.want) {
				t.Errorf("Register(%q) = %v, want %v", tt.email, err, tt.want)
			}
		})
	}
	t.Run("password kept exactly, spaces and all", func(t *testing.T) {
		t.Parallel()
		e.register(t, "carol@example.com", "  spaced out  ")
		if _, err := e.svc.Login(t.Context(), "carol@example.com", "spaced out", auth.Client{}); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("Login(trimmed password) = %v, want %v", err, auth.ErrInvalidCredentials)
		}
		e.login(t, "carol@example.com", "  spaced out  ")
	})
	t.Run("128 multibyte characters accepted", func(t *testing.T) {
		t.Parallel()
		e.register(t, "dave@example.com", strings.Repeat("é", 128))
	})
}

func TestConcurrentRegistrationOfOneEmail(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		t.Parallel()
		e := newEnv(t, url)
		const n = 20
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				email := "race@example.com"
				if i%2 == 1 {
					email = "RACE@Example.com"
				}
				if i%3 == 0 {
					email = "Race@EXAMPLE.COM"
				}
				_, errs[i] = e.svc.Register(context.Background(), email, fmt.Sprintf("password-%02d", i))
			})
		}
		wg.Wait()
		created := 0
		for i, err := range errs {
			switch {
			case err == nil:
				created++
			case errors.Is(err, auth.ErrEmailTaken):
			default:
				t.Errorf("Register #%d = %v, want nil or %v", i, err, auth.ErrEmailTaken)
			}
		}
		if created != 1 {
			t.Errorf("%d registrations succeeded, want exactly 1", created)
		}
	})
}

func TestLoginEnumerationParity(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dbtest.SQLite(t))
	e.register(t, "ann@example.com", "right password")

	before := e.hasher.n.Load()
	_, errUnknown := e.svc.Login(t.Context(), "nobody@example.com", "right password", auth.Client{})
	unknownWork := e.hasher.n.Load() - before

	before = e.hasher.n.Load()
	_, errWrong := e.svc.Login(t.Context(), "ann@example.com", "wrong password", auth.Client{})
	wrongWork := e.hasher.n.Load() - before

	if !errors.Is(errUnknown, auth.ErrInvalidCredentials) || !errors.Is(errWrong, auth.ErrInvalidCredentials) {
		t.Fatalf("Login errors: unknown email %v, wrong password %v; want both %v", errUnknown, errWrong, auth.ErrInvalidCredentials)
	}
	if errUnknown.Error() != errWrong.Error() {
		t.Errorf("messages differ: unknown email %q, wrong password %q", errUnknown, errWrong)
	}
	if unknownWork != 1 || wrongWork != 1 {
		t.Errorf("hash computations: unknown email %d, wrong password %d; want 1 each", unknownWork, wrongWork)
	}
}

func TestRehashOnLoginWhenParamsChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dbtest.SQLite(t))
	u := e.register(t, "ann@example.com", "right password")

	stronger := cheap
	stronger.Time = 2
	h := password.NewHasher(password.Options{Params: stronger})
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	svc := auth.NewService(e.store, h, token.NewIssuer(token.NewKey(priv), nil, token.Options{Issuer: "i", Audience: "a", TTL: time.Minute}), auth.Config{
		RefreshIdleTTL: time.Hour, RefreshAbsoluteTTL: time.Hour, ReuseGrace: time.Second,
	})
	if _, err := svc.Login(t.Context(), "ann@example.com", "right password", auth.Client{}); err != nil {
		t.Fatalf("Login: %v", err)
	}
	got, err := e.store.UserByID(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.PasswordHash, "t=2") || got.PasswordHash == u.PasswordHash {
		t.Errorf("stored hash after login = %q, want rehashed with t=2", got.PasswordHash)
	}
	if _, err := svc.Login(t.Context(), "ann@example.com", "right password", auth.Client{}); err != nil {
		t.Errorf("Login after rehash: %v", err)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		t.Parallel()
		e := newEnv(t, url)
		e.register(t, "ann@example.com", "right password")
		ctx := t.Context()

		t.Run("rotation retires the presented token", func(t *testing.T) {
			p0 := e.login(t, "ann@example.com", "right password")
			p1, err := e.svc.Refresh(ctx, p0.RefreshToken)
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if p1.RefreshToken == p0.RefreshToken || p1.AccessToken == "" {
				t.Fatalf("Refresh returned the same refresh token or no access token")
			}
			p2, err := e.svc.Refresh(ctx, p1.RefreshToken)
			if err != nil {
				t.Fatalf("Refresh(second): %v", err)
			}
			// p0 is two rotations old: reuse, the session ends.
			if _, err := e.svc.Refresh(ctx, p0.RefreshToken); !errors.Is(err, auth.ErrInvalidRefreshToken) {
				t.Fatalf("Refresh(two rotations old) = %v, want %v", err, auth.ErrInvalidRefreshToken)
			}
			if _, err := e.svc.Refresh(ctx, p2.RefreshToken); !errors.Is(err, auth.ErrInvalidRefreshToken) {
				t.Errorf("Refresh(current, after reuse) = %v, want %v: reuse must end the session", err, auth.ErrInvalidRefreshToken)
			}
			if _, err := e.svc.Me(e.as(t, p2.AccessToken)); !errors.Is(err, auth.ErrUnauthenticated) {
				t.Errorf("Me(after reuse) = %v, want %v", err, auth.ErrUnauthenticated)
			}
		})

		t.Run("predecessor within grace gets the current pair", func(t *testing.T) {
			p0 := e.login(t, "ann@example.com", "right password")
			tabA, err := e.svc.Refresh(ctx, p0.RefreshToken)
			if err != nil {
				t.Fatalf("Refresh(tab A): %v", err)
			}
			e.clock.Advance(5 * time.Second)
			tabB, err := e.svc.Refresh(ctx, p0.RefreshToken)
			if err != nil {
				t.Fatalf("Refresh(tab B, within grace): %v", err)
			}
			if tabB.RefreshToken != tabA.RefreshToken {
				t.Errorf("tab B got a different refresh token than tab A, want the current one")
			}
			// Both tabs hold the current token; the session goes on.
			if _, err := e.svc.Refresh(ctx, tabA.RefreshToken); err != nil {
				t.Errorf("Refresh(current, after grace use): %v", err)
			}
		})

		t.Run("predecessor after grace ends the session", func(t *testing.T) {
			p0 := e.login(t, "ann@example.com", "right password")
			p1, err := e.svc.Refresh(ctx, p0.RefreshToken)
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			e.clock.Advance(11 * time.Second)
			if _, err := e.svc.Refresh(ctx, p0.RefreshToken); !errors.Is(err, auth.ErrInvalidRefreshToken) {
				t.Fatalf("Refresh(predecessor after grace) = %v, want %v", err, auth.ErrInvalidRefreshToken)
			}
			if _, err := e.svc.Refresh(ctx, p1.RefreshToken); !errors.Is(err, auth.ErrInvalidRefreshToken) {
				t.Errorf("Refresh(current after reuse) = %v, want %v", err, auth.ErrInvalidRefreshToken)
			}
		})

		t.Run("concurrent refreshes of one token all succeed with one result", func(t *testing.T) {
			p0 := e.login(t, "ann@example.com", "right password")
			const n = 8
			got := make([]string, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					p, err := e.svc.Refresh(context.Background(), p0.RefreshToken)
					errs[i] = err
					if err == nil {
						got[i] = p.RefreshToken
					}
				})
			}
			wg.Wait()
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("Refresh #%d: %v", i, errs[i])
				}
				if got[i] != got[0] {
					t.Errorf("Refresh #%d returned another refresh token than #0", i)
				}
			}
		})

		t.Run("idle and absolute lifetimes", func(t *testing.T) {
			p := e.login(t, "ann@example.com", "right password")
			e.clock.Advance(7*24*time.Hour + time.Second)
			if _, err := e.svc.Refresh(ctx, p.RefreshToken); !errors.Is(err, auth.ErrInvalidRefreshToken) {
				t.Errorf("Refresh(idle expired) = %v, want %v", err, auth.ErrInvalidRefreshToken)
			}
			p = e.login(t, "ann@example.com", "right password")
			for range 4 { // refreshed every 6 days: idle never passes
				e.clock.Advance(6 * 24 * time.Hour)
				next, err := e.svc.Refresh(ctx, p.RefreshToken)
				if err != nil {
					t.Fatalf("Refresh(within idle lifetime): %v", err)
				}
				p = next
			}
			// 30 days after login: the absolute lifetime has passed.
			e.clock.Advance(6 * 24 * time.Hour)
			if _, err := e.svc.Refresh(ctx, p.RefreshToken); !errors.Is(err, auth.ErrInvalidRefreshToken) {
				t.Errorf("Refresh(absolute expired) = %v, want %v", err, auth.ErrInvalidRefreshToken)
			}
		})

		t.Run("garbage and unknown tokens", func(t *testing.T) {
			for _, tok := range []string{"x", strings.Repeat("A", 43), strings.Repeat("!", 43)} {
				if _, err := e.svc.Refresh(ctx, tok); !errors.Is(err, auth.ErrInvalidRefreshToken) {
					t.Errorf("Refresh(%q) = %v, want %v", tok, err, auth.ErrInvalidRefreshToken)
				}
			}
			if _, err := e.svc.Refresh(ctx, ""); !errors.Is(err, auth.ErrInvalidInput) {
				t.Errorf("Refresh(\"\") = %v, want %v", err, auth.ErrInvalidInput)
			}
		})
	})
}

func TestSessionsLogoutAndPasswordChange(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		t.Parallel()
		e := newEnv(t, url)
		e.register(t, "ann@example.com", "first password")
		e.register(t, "bob@example.com", "bobs password")
		a1 := e.login(t, "ann@example.com", "first password")
		e.clock.Advance(time.Second)
		a2 := e.login(t, "ann@example.com", "first password")
		e.clock.Advance(time.Second)
		a3 := e.login(t, "ann@example.com", "first password")
		b1 := e.login(t, "bob@example.com", "bobs password")

		list, err := e.svc.ListSessions(e.as(t, a3.AccessToken))
		if err != nil {
			t.Fatalf("ListSessions: %v", err)
		}
		if len(list) != 3 || !list[0].Current || list[1].Current || list[0].UserAgent != "test" || list[0].IPAddress != "192.0.2.7" {
			t.Fatalf("ListSessions = %+v, want 3 sessions, newest (current) first", list)
		}

		bobSession := e.sessionID(t, b1.AccessToken)
		if err := e.svc.RevokeSession(e.as(t, a3.AccessToken), bobSession); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("RevokeSession(another user's) = %v, want %v", err, auth.ErrNotFound)
		}
		if _, err := e.svc.Me(e.as(t, b1.AccessToken)); err != nil {
			t.Errorf("Me(bob) after ann tried to revoke his session: %v", err)
		}
		if err := e.svc.RevokeSession(e.as(t, a3.AccessToken), e.sessionID(t, a2.AccessToken)); err != nil {
			t.Fatalf("RevokeSession(own): %v", err)
		}
		if _, err := e.svc.Me(e.as(t, a2.AccessToken)); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("Me(revoked session) = %v, want %v", err, auth.ErrUnauthenticated)
		}
		if _, err := e.svc.Refresh(t.Context(), a2.RefreshToken); !errors.Is(err, auth.ErrInvalidRefreshToken) {
			t.Errorf("Refresh(revoked session) = %v, want %v", err, auth.ErrInvalidRefreshToken)
		}

		if err := e.svc.ChangePassword(e.as(t, a3.AccessToken), "wrong current", "second password"); !errors.Is(err, auth.ErrInvalidInput) {
			t.Errorf("ChangePassword(wrong current) = %v, want %v", err, auth.ErrInvalidInput)
		}
		if err := e.svc.ChangePassword(e.as(t, a3.AccessToken), "first password", "short"); !errors.Is(err, auth.ErrInvalidInput) {
			t.Errorf("ChangePassword(short new) = %v, want %v", err, auth.ErrInvalidInput)
		}
		if err := e.svc.ChangePassword(e.as(t, a3.AccessToken), "first password", "second password"); err != nil {
			t.Fatalf("ChangePassword: %v", err)
		}
		if _, err := e.svc.Me(e.as(t, a1.AccessToken)); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("Me(other session after password change) = %v, want %v", err, auth.ErrUnauthenticated)
		}
		if _, err := e.svc.Me(e.as(t, a3.AccessToken)); err != nil {
			t.Errorf("Me(changing session) = %v, want it kept", err)
		}
		if _, err := e.svc.Login(t.Context(), "ann@example.com", "first password", auth.Client{}); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("Login(old password) = %v, want %v", err, auth.ErrInvalidCredentials)
		}
		a4 := e.login(t, "ann@example.com", "second password")

		if err := e.svc.Logout(e.as(t, a3.AccessToken), ""); err != nil {
			t.Fatalf("Logout(bearer): %v", err)
		}
		if _, err := e.svc.Me(e.as(t, a3.AccessToken)); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("Me(after logout) = %v, want %v", err, auth.ErrUnauthenticated)
		}
		if err := e.svc.Logout(t.Context(), a4.RefreshToken); err != nil {
			t.Fatalf("Logout(refresh token): %v", err)
		}
		if err := e.svc.Logout(t.Context(), a4.RefreshToken); err != nil {
			t.Errorf("Logout(again) = %v, want nil", err)
		}
		if _, err := e.svc.Refresh(t.Context(), a4.RefreshToken); !errors.Is(err, auth.ErrInvalidRefreshToken) {
			t.Errorf("Refresh(after logout) = %v, want %v", err, auth.ErrInvalidRefreshToken)
		}
		if err := e.svc.Logout(t.Context(), ""); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("Logout(nothing) = %v, want %v", err, auth.ErrUnauthenticated)
		}
	})
}

func (e *env) sessionID(t *testing.T, accessToken string) string {
	t.Helper()
	c, err := e.tokens.Verify(accessToken)
	if err != nil {
		t.Fatal(err)
	}
	return c.SessionID
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"ann@example.com", " A@B.C ", "", "a@", "@b", "a b@c", "Ann <a@b.c>", "\x00@x.y", "\"q\"@x.y", "é@ü.de"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := auth.NormalizeEmail(in)
		if err != nil {
			if !errors.Is(err, auth.ErrInvalidInput) {
				t.Fatalf("NormalizeEmail(%q) error %v is not ErrInvalidInput", in, err)
			}
			return
		}
		if got != strings.ToLower(strings.TrimSpace(got)) || len(got) > 254 || !strings.Contains(got, "@") {
			t.Fatalf("NormalizeEmail(%q) = %q, not normalized", in, got)
		}
		again, err := auth.NormalizeEmail(got)
		if err != nil || again != got {
			t.Fatalf("NormalizeEmail(%q) = %q, %v; not idempotent", got, again, err)
		}
	})
}

func FuzzCheckPassword(f *testing.F) {
	for _, s := range []string{"", "1234567", "12345678", strings.Repeat("x", 128), strings.Repeat("x", 129), "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		err := auth.CheckPassword("password", in)
		n := len([]rune(in))
		valid := err == nil
		if valid != (n >= 8 && n <= 128 && strings.ToValidUTF8(in, "") == in) {
			t.Fatalf("CheckPassword(%q) = %v for %d runes", in, err, n)
		}
		if err != nil && strings.Contains(err.Error(), in) && in != "" {
			t.Fatalf("CheckPassword error %q contains the password", err)
		}
	})
}
