// Package auth holds the business rules of the authentication service:
// accounts, password checks, sessions and refresh-token rotation. It knows
// nothing of transports or databases; those adapt to the interfaces here.
package auth

import (
	"context"
	"time"

	"github.com/acme/authgw/authsvc/internal/token"
)

// User is a registered account.
type User struct {
	ID           string    `bun:"id,pk"`
	Email        string    `bun:"email,notnull"`
	PasswordHash string    `bun:"password_hash,notnull"`
	Roles        []string  `bun:"roles,notnull"`
	CreatedAt    time.Time `bun:"created_at,notnull"`
	UpdatedAt    time.Time `bun:"updated_at,notnull"`
}

// Session is one login of a user. Its refresh token is known only by its
// SHA-256 hash (hex).
type Session struct {
	ID          string `bun:"id,pk"`
	UserID      string `bun:"user_id,notnull"`
	RefreshHash string `bun:"refresh_hash,notnull"`
	// PrevRefreshHash is the hash of the token rotated away last, at
	// RotatedAt. Within the reuse grace it may be exchanged again and gets
	// the current token, which is kept sealed under a key that only the
	// previous token derives (Successor).
	PrevRefreshHash string     `bun:"prev_refresh_hash,nullzero"`
	RotatedAt       *time.Time `bun:"rotated_at"`
	Successor       string     `bun:"successor,nullzero"`
	CreatedAt       time.Time  `bun:"created_at,notnull"`
	LastUsedAt      time.Time  `bun:"last_used_at,notnull"`
	// ExpiresAt is the idle expiry, never later than AbsoluteExpiresAt.
	ExpiresAt         time.Time  `bun:"expires_at,notnull"`
	AbsoluteExpiresAt time.Time  `bun:"absolute_expires_at,notnull"`
	RevokedAt         *time.Time `bun:"revoked_at"`
	UserAgent         string     `bun:"user_agent,notnull"`
	IPAddress         string     `bun:"ip_address,notnull"`
}

// Active reports whether the session can still be used at now.
func (s *Session) Active(now time.Time) bool {
	return s.RevokedAt == nil && now.Before(s.ExpiresAt) && now.Before(s.AbsoluteExpiresAt)
}

// Rotation is a refresh-token rotation to store atomically.
type Rotation struct {
	SessionID string
	OldHash   string
	NewHash   string
	Successor string
	At        time.Time
	ExpiresAt time.Time
}

// Store persists users and sessions. Implementations return ErrNotFound,
// ErrEmailTaken, ErrConflict and ErrUnavailable where they apply.
type Store interface {
	CreateUser(ctx context.Context, u *User) error
	UserByEmail(ctx context.Context, email string) (*User, error)
	UserByID(ctx context.Context, id string) (*User, error)
	SetPasswordHash(ctx context.Context, userID, hash string, at time.Time) error

	CreateSession(ctx context.Context, s *Session) error
	Session(ctx context.Context, id string) (*Session, error)
	SessionByRefreshHash(ctx context.Context, hash string) (*Session, error)
	// SessionByUsedRefreshHash finds the session of a refresh token that was
	// already rotated away.
	SessionByUsedRefreshHash(ctx context.Context, hash string) (*Session, error)
	// RotateRefresh replaces the session's refresh hash if it is still
	// r.OldHash, and remembers the old hash as used; otherwise ErrConflict.
	RotateRefresh(ctx context.Context, r Rotation) error
	// RevokeSession ends the session; it is a no-op for an ended one.
	RevokeSession(ctx context.Context, id string, at time.Time) error
	// RevokeUserSessions ends every session of the user except keep.
	RevokeUserSessions(ctx context.Context, userID, keep string, at time.Time) error
	// UserSessions lists the user's sessions that are not revoked, newest first.
	UserSessions(ctx context.Context, userID string) ([]Session, error)
}

// Hasher hashes and verifies passwords under admission control.
type Hasher interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, password, encoded string) (match, rehash bool, err error)
	Dummy(ctx context.Context, password string) error
}

// Tokens issues access tokens.
type Tokens interface {
	Issue(s token.Subject) (token string, expires time.Time, err error)
}

// Identity is the verified caller of a request, from its access token.
type Identity struct {
	UserID    string
	SessionID string
	Email     string
	Roles     []string
}

type identityKey struct{}

// WithIdentity returns a context carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity in ctx, if any.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
