package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/acme/authgw/authsvc/internal/token"
)

// Config holds the session rules.
type Config struct {
	// RefreshIdleTTL ends a session that is not refreshed for this long.
	RefreshIdleTTL time.Duration
	// RefreshAbsoluteTTL ends a session this long after login, refreshed or not.
	RefreshAbsoluteTTL time.Duration
	// ReuseGrace is how long the refresh token rotated away last may still be
	// exchanged (for two tabs refreshing at once); it gets the current token.
	ReuseGrace time.Duration
	// DefaultRoles are granted to new users.
	DefaultRoles []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service implements the auth use cases.
type Service struct {
	store  Store
	hasher Hasher
	tokens Tokens
	cfg    Config
}

// NewService returns a Service over its dependencies.
func NewService(store Store, hasher Hasher, tokens Tokens, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DefaultRoles == nil {
		cfg.DefaultRoles = []string{"user"}
	}
	return &Service{store: store, hasher: hasher, tokens: tokens, cfg: cfg}
}

// Client describes where a login comes from.
type Client struct {
	UserAgent string
	IPAddress string
}

// TokenPair is the tokens of a session, with its user.
type TokenPair struct {
	AccessToken string
	// ExpiresIn is the access token's remaining lifetime.
	ExpiresIn    time.Duration
	RefreshToken string
	User         *User
}

// now is the clock at the precision both databases keep, so what a call
// returns equals what a later read returns.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// Register creates an account with the default roles.
func (s *Service) Register(ctx context.Context, email, password string) (*User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if err := CheckPassword("password", password); err != nil {
		return nil, err
	}
	// A cheap look-up first spares a hash for a taken email; the unique
	// index still decides races.
	switch _, err := s.store.UserByEmail(ctx, email); {
	case err == nil:
		return nil, ErrEmailTaken
	case !errors.Is(err, ErrNotFound):
		return nil, err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("auth: new user id: %w", err)
	}
	now := s.now()
	u := &User{
		ID:           id.String(),
		Email:        email,
		PasswordHash: hash,
		Roles:        slices.Clone(s.cfg.DefaultRoles),
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

// Login checks the credentials and starts a session. An unknown email costs
// the same hashing work as a wrong password and gives the same error.
func (s *Service) Login(ctx context.Context, email, password string, c Client) (*TokenPair, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if password == "" {
		return nil, invalidInput("password is required")
	}
	u, err := s.store.UserByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		if err := s.hasher.Dummy(ctx, password); err != nil {
			return nil, err
		}
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, err
	}
	match, rehash, err := s.hasher.Verify(ctx, password, u.PasswordHash)
	if err != nil {
		return nil, err
	}
	if !match {
		return nil, ErrInvalidCredentials
	}
	if rehash {
		s.rehash(ctx, u, password)
	}
	return s.startSession(ctx, u, c)
}

// rehash upgrades a stored hash made with old parameters. It is best effort:
// a failure leaves the old hash, which still verifies, and the next login
// tries again.
func (s *Service) rehash(ctx context.Context, u *User, password string) {
	h, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return
	}
	if s.store.SetPasswordHash(ctx, u.ID, h, s.now()) == nil {
		u.PasswordHash = h
	}
}

func (s *Service) startSession(ctx context.Context, u *User, c Client) (*TokenPair, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("auth: new session id: %w", err)
	}
	refresh, err := newRefreshToken()
	if err != nil {
		return nil, err
	}
	now := s.now()
	abs := now.Add(s.cfg.RefreshAbsoluteTTL)
	sess := &Session{
		ID:                id.String(),
		UserID:            u.ID,
		RefreshHash:       hashRefreshToken(refresh),
		CreatedAt:         now,
		LastUsedAt:        now,
		ExpiresAt:         minTime(now.Add(s.cfg.RefreshIdleTTL), abs),
		AbsoluteExpiresAt: abs,
		UserAgent:         truncate(c.UserAgent, 512),
		IPAddress:         truncate(c.IPAddress, 64),
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return nil, err
	}
	return s.pair(u, sess.ID, refresh)
}

func (s *Service) pair(u *User, sessionID, refresh string) (*TokenPair, error) {
	at, exp, err := s.tokens.Issue(token.Subject{
		UserID: u.ID, SessionID: sessionID, Email: u.Email, Roles: u.Roles,
	})
	if err != nil {
		return nil, err
	}
	return &TokenPair{AccessToken: at, ExpiresIn: exp.Sub(s.now()), RefreshToken: refresh, User: u}, nil
}

// Refresh rotates a refresh token. A token rotated away earlier ends its
// session (reuse detection), except the last one within the reuse grace,
// which gets the current token so that two tabs refreshing at once both
// stay logged in.
func (s *Service) Refresh(ctx context.Context, refresh string) (*TokenPair, error) {
	if refresh == "" {
		return nil, invalidInput("refresh_token is required")
	}
	if !wellFormedRefreshToken(refresh) {
		return nil, ErrInvalidRefreshToken
	}
	hash := hashRefreshToken(refresh)
	// Two attempts: a rotation that loses a race sees the winner's result
	// on the second pass, through the grace path.
	for range 2 {
		sess, err := s.store.SessionByRefreshHash(ctx, hash)
		if errors.Is(err, ErrNotFound) {
			return s.refreshRotated(ctx, refresh, hash)
		}
		if err != nil {
			return nil, err
		}
		now := s.now()
		if !sess.Active(now) {
			return nil, ErrInvalidRefreshToken
		}
		next, err := newRefreshToken()
		if err != nil {
			return nil, err
		}
		successor, err := sealSuccessor(refresh, next)
		if err != nil {
			return nil, err
		}
		err = s.store.RotateRefresh(ctx, Rotation{
			SessionID: sess.ID,
			OldHash:   hash,
			NewHash:   hashRefreshToken(next),
			Successor: successor,
			At:        now,
			ExpiresAt: minTime(now.Add(s.cfg.RefreshIdleTTL), sess.AbsoluteExpiresAt),
		})
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return s.sessionPair(ctx, sess, next)
	}
	return nil, ErrInvalidRefreshToken
}

// refreshRotated handles a refresh token that is not the current one of any
// session.
func (s *Service) refreshRotated(ctx context.Context, refresh, hash string) (*TokenPair, error) {
	sess, err := s.store.SessionByUsedRefreshHash(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidRefreshToken
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !sess.Active(now) {
		return nil, ErrInvalidRefreshToken
	}
	inGrace := sess.PrevRefreshHash == hash && sess.RotatedAt != nil &&
		now.Sub(*sess.RotatedAt) <= s.cfg.ReuseGrace
	if inGrace {
		current, err := openSuccessor(refresh, sess.Successor)
		if err == nil && hashRefreshToken(current) == sess.RefreshHash {
			return s.sessionPair(ctx, sess, current)
		}
	}
	// Reuse of a rotated token: someone else may hold the session's tokens.
	if err := s.store.RevokeSession(ctx, sess.ID, now); err != nil {
		return nil, err
	}
	return nil, ErrInvalidRefreshToken
}

func (s *Service) sessionPair(ctx context.Context, sess *Session, refresh string) (*TokenPair, error) {
	u, err := s.store.UserByID(ctx, sess.UserID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidRefreshToken
	}
	if err != nil {
		return nil, err
	}
	return s.pair(u, sess.ID, refresh)
}

// Logout ends the session of refresh when it is given, otherwise the
// session of the caller's access token. Ending an ended session succeeds.
func (s *Service) Logout(ctx context.Context, refresh string) error {
	if refresh == "" {
		id, err := s.caller(ctx)
		if err != nil {
			return err
		}
		return s.store.RevokeSession(ctx, id.SessionID, s.now())
	}
	if !wellFormedRefreshToken(refresh) {
		return ErrInvalidRefreshToken
	}
	hash := hashRefreshToken(refresh)
	sess, err := s.store.SessionByRefreshHash(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		sess, err = s.store.SessionByUsedRefreshHash(ctx, hash)
	}
	if errors.Is(err, ErrNotFound) {
		return ErrInvalidRefreshToken
	}
	if err != nil {
		return err
	}
	return s.store.RevokeSession(ctx, sess.ID, s.now())
}

// Me returns the caller's account.
func (s *Service) Me(ctx context.Context) (*User, error) {
	id, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	return s.callerUser(ctx, id)
}

// ChangePassword replaces the caller's password after checking the current
// one, and ends the caller's other sessions.
func (s *Service) ChangePassword(ctx context.Context, current, next string) error {
	id, err := s.caller(ctx)
	if err != nil {
		return err
	}
	if current == "" {
		return invalidInput("current_password is required")
	}
	if err := CheckPassword("new_password", next); err != nil {
		return err
	}
	u, err := s.callerUser(ctx, id)
	if err != nil {
		return err
	}
	match, _, err := s.hasher.Verify(ctx, current, u.PasswordHash)
	if err != nil {
		return err
	}
	if !match {
		// Not ErrInvalidCredentials: the caller is authenticated, and a
		// client must not take this for an expired token.
		return invalidInput("current_password is incorrect")
	}
	h, err := s.hasher.Hash(ctx, next)
	if err != nil {
		return err
	}
	now := s.now()
	if err := s.store.SetPasswordHash(ctx, u.ID, h, now); err != nil {
		return err
	}
	return s.store.RevokeUserSessions(ctx, u.ID, id.SessionID, now)
}

// SessionInfo is a session as its owner sees it.
type SessionInfo struct {
	Session
	Current bool
}

// ListSessions lists the caller's active sessions, newest first.
func (s *Service) ListSessions(ctx context.Context) ([]SessionInfo, error) {
	id, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	all, err := s.store.UserSessions(ctx, id.UserID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]SessionInfo, 0, len(all))
	for _, sess := range all {
		if sess.Active(now) {
			out = append(out, SessionInfo{Session: sess, Current: sess.ID == id.SessionID})
		}
	}
	return out, nil
}

// RevokeSession ends one of the caller's sessions. Another user's session
// is reported as not found, so ids cannot be probed.
func (s *Service) RevokeSession(ctx context.Context, sessionID string) error {
	id, err := s.caller(ctx)
	if err != nil {
		return err
	}
	if sessionID == "" {
		return invalidInput("session_id is required")
	}
	if uuid.Validate(sessionID) != nil {
		return invalidInput("session_id is not a valid id")
	}
	sess, err := s.store.Session(ctx, sessionID)
	if err != nil {
		return err
	}
	if sess.UserID != id.UserID {
		return ErrNotFound
	}
	return s.store.RevokeSession(ctx, sess.ID, s.now())
}

// caller returns the request's identity if its session is still active:
// access tokens outlive a logout, but not in this service.
func (s *Service) caller(ctx context.Context) (Identity, error) {
	id, ok := IdentityFrom(ctx)
	if !ok {
		return Identity{}, ErrUnauthenticated
	}
	sess, err := s.store.Session(ctx, id.SessionID)
	if errors.Is(err, ErrNotFound) {
		return Identity{}, ErrUnauthenticated
	}
	if err != nil {
		return Identity{}, err
	}
	if sess.UserID != id.UserID || !sess.Active(s.now()) {
		return Identity{}, ErrUnauthenticated
	}
	return id, nil
}

func (s *Service) callerUser(ctx context.Context, id Identity) (*User, error) {
	u, err := s.store.UserByID(ctx, id.UserID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	return u, err
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// truncate cuts s to at most n bytes of valid UTF-8: request headers are
// stored as given, but proto strings must be UTF-8.
func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
