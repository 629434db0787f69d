package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/acme/authgw/authsvc/internal/auth"
	"github.com/acme/authgw/authsvc/internal/dbtest"
	"github.com/acme/authgw/authsvc/internal/store"
)

func open(t *testing.T, url string) *store.Store {
	t.Helper()
	st, err := store.Open(url)
	if err != nil {
		t.Fatalf("Open(%q): %v", url, err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return st
}

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func newUser(id, email string) *auth.User {
	return &auth.User{ID: id, Email: email, PasswordHash: "$argon2id$x", Roles: []string{"user", "admin"}, CreatedAt: t0, UpdatedAt: t0}
}

func newSession(id, userID, hash string, created time.Time) *auth.Session {
	return &auth.Session{
		ID: id, UserID: userID, RefreshHash: hash,
		CreatedAt: created, LastUsedAt: created,
		ExpiresAt: created.Add(time.Hour), AbsoluteExpiresAt: created.Add(2 * time.Hour),
		UserAgent: "test/1.0", IPAddress: "192.0.2.1",
	}
}

func hash(c byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

func TestUsers(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		t.Parallel()
		st := open(t, url)
		ctx := t.Context()
		want := newUser("0190a000-0000-7000-8000-000000000001", "ann@example.com")
		if err := st.CreateUser(ctx, want); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		got, err := st.UserByEmail(ctx, "ann@example.com")
		if err != nil {
			t.Fatalf("UserByEmail: %v", err)
		}
		if diff := cmp.Diff(want, got, timeEqual); diff != "" {
			t.Errorf("UserByEmail mismatch (-want +got):\n%s", diff)
		}
		dup := newUser("0190a000-0000-7000-8000-000000000002", "ann@example.com")
		if err := st.CreateUser(ctx, dup); !errors.Is(err, auth.ErrEmailTaken) {
			t.Errorf("CreateUser(duplicate email) = %v, want %v", err, auth.ErrEmailTaken)
		}
		if _, err := st.UserByID(ctx, "0190a000-0000-7000-8000-00000000ffff"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("UserByID(unknown) = %v, want %v", err, auth.ErrNotFound)
		}
		if err := st.SetPasswordHash(ctx, want.ID, "$argon2id$new", t0.Add(time.Minute)); err != nil {
			t.Fatalf("SetPasswordHash: %v", err)
		}
		got, err = st.UserByID(ctx, want.ID)
		if err != nil {
			t.Fatalf("UserByID: %v", err)
		}
		if got.PasswordHash != "$argon2id$new" || !got.UpdatedAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("after SetPasswordHash: hash %q updated %v, want new hash and %v", got.PasswordHash, got.UpdatedAt, t0.Add(time.Minute))
		}
		if err := st.SetPasswordHash(ctx, "0190a000-0000-7000-8000-00000000ffff", "x", t0); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("SetPasswordHash(unknown) = %v, want %v", err, auth.ErrNotFound)
		}
	})
}

var timeEqual = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

func TestSessions(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		t.Parallel()
		st := open(t, url)
		ctx := t.Context()
		u := newUser("0190a000-0000-7000-8000-000000000001", "ann@example.com")
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		s1 := newSession("0190a000-0000-7000-8000-0000000000a1", u.ID, hash('a'), t0)
		s2 := newSession("0190a000-0000-7000-8000-0000000000a2", u.ID, hash('b'), t0.Add(time.Second))
		for _, s := range []*auth.Session{s1, s2} {
			if err := st.CreateSession(ctx, s); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
		}
		got, err := st.SessionByRefreshHash(ctx, hash('a'))
		if err != nil {
			t.Fatalf("SessionByRefreshHash: %v", err)
		}
		if diff := cmp.Diff(s1, got, timeEqual); diff != "" {
			t.Errorf("SessionByRefreshHash mismatch (-want +got):\n%s", diff)
		}

		rot := auth.Rotation{SessionID: s1.ID, OldHash: hash('a'), NewHash: hash('c'), Successor: "sealed", At: t0.Add(time.Minute), ExpiresAt: t0.Add(90 * time.Minute)}
		if err := st.RotateRefresh(ctx, rot); err != nil {
			t.Fatalf("RotateRefresh: %v", err)
		}
		if err := st.RotateRefresh(ctx, rot); !errors.Is(err, auth.ErrConflict) {
			t.Errorf("RotateRefresh(same old hash again) = %v, want %v", err, auth.ErrConflict)
		}
		if _, err := st.SessionByRefreshHash(ctx, hash('a')); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("SessionByRefreshHash(rotated) = %v, want %v", err, auth.ErrNotFound)
		}
		got, err = st.SessionByUsedRefreshHash(ctx, hash('a'))
		if err != nil {
			t.Fatalf("SessionByUsedRefreshHash: %v", err)
		}
		if got.ID != s1.ID || got.RefreshHash != hash('c') || got.PrevRefreshHash != hash('a') ||
			got.Successor != "sealed" || got.RotatedAt == nil || !got.RotatedAt.Equal(rot.At) || !got.ExpiresAt.Equal(rot.ExpiresAt) {
			t.Errorf("after rotation: %+v, want refresh c, prev a, successor, rotated and expiry updated", got)
		}
		if _, err := st.SessionByUsedRefreshHash(ctx, hash('c')); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("SessionByUsedRefreshHash(current) = %v, want %v", err, auth.ErrNotFound)
		}

		list, err := st.UserSessions(ctx, u.ID)
		if err != nil {
			t.Fatalf("UserSessions: %v", err)
		}
		if len(list) != 2 || list[0].ID != s2.ID || list[1].ID != s1.ID {
			t.Errorf("UserSessions = %v, want [%s %s] newest first", ids(list), s2.ID, s1.ID)
		}

		if err := st.RevokeUserSessions(ctx, u.ID, s2.ID, t0.Add(2*time.Minute)); err != nil {
			t.Fatalf("RevokeUserSessions: %v", err)
		}
		list, err = st.UserSessions(ctx, u.ID)
		if err != nil {
			t.Fatalf("UserSessions: %v", err)
		}
		if len(list) != 1 || list[0].ID != s2.ID {
			t.Errorf("UserSessions after RevokeUserSessions(keep %s) = %v", s2.ID, ids(list))
		}
		revoked, err := st.Session(ctx, s1.ID)
		if err != nil {
			t.Fatalf("Session: %v", err)
		}
		if revoked.RevokedAt == nil || revoked.Successor != "" {
			t.Errorf("revoked session: revoked_at %v successor %q, want set and cleared", revoked.RevokedAt, revoked.Successor)
		}
		if err := st.RotateRefresh(ctx, auth.Rotation{SessionID: s1.ID, OldHash: hash('c'), NewHash: hash('d'), At: t0, ExpiresAt: t0}); !errors.Is(err, auth.ErrConflict) {
			t.Errorf("RotateRefresh(revoked session) = %v, want %v", err, auth.ErrConflict)
		}
		if err := st.RevokeSession(ctx, s2.ID, t0.Add(3*time.Minute)); err != nil {
			t.Fatalf("RevokeSession: %v", err)
		}
		if err := st.RevokeSession(ctx, s2.ID, t0.Add(4*time.Minute)); err != nil {
			t.Errorf("RevokeSession(again) = %v, want nil", err)
		}
		again, err := st.Session(ctx, s2.ID)
		if err != nil {
			t.Fatalf("Session: %v", err)
		}
		if again.RevokedAt == nil || !again.RevokedAt.Equal(t0.Add(3*time.Minute)) {
			t.Errorf("RevokedAt = %v, want the first revocation %v", again.RevokedAt, t0.Add(3*time.Minute))
		}
	})
}

func ids(list []auth.Session) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.ID)
	}
	return out
}

func TestMigrateIsIdempotentAndDataSurvivesReopen(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, url string) {
		t.Parallel()
		st := open(t, url)
		u := newUser("0190a000-0000-7000-8000-000000000001", "ann@example.com")
		if err := st.CreateUser(t.Context(), u); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		st.Close()

		again, err := store.Open(url)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer again.Close()
		applied, err := again.Migrate(t.Context())
		if err != nil {
			t.Fatalf("Migrate (second time): %v", err)
		}
		if len(applied) != 0 {
			t.Errorf("Migrate (second time) applied %v, want none", applied)
		}
		if _, err := again.UserByEmail(t.Context(), "ann@example.com"); err != nil {
			t.Errorf("UserByEmail after reopen: %v", err)
		}
	})
}

func TestOpenRejectsUnknownURL(t *testing.T) {
	t.Parallel()
	for _, url := range []string{"", "mysql://x", "sqlite:", "/tmp/x.db"} {
		if _, err := store.Open(url); err == nil {
			t.Errorf("Open(%q) = nil error, want an error", url)
		}
	}
}
