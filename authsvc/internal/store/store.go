// Package store persists users and sessions with Bun, in PostgreSQL
// (production) or an embedded SQLite file (the zero-setup default).
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/migrate"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/acme/authgw/authsvc/internal/auth"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store is the Bun implementation of auth.Store.
type Store struct {
	db *bun.DB
}

var _ auth.Store = (*Store)(nil)

// Open connects to the database named by url: "postgres://…" or
// "postgresql://…" for PostgreSQL, "sqlite:PATH" or "file:PATH" for SQLite.
// It does not wait for the database to answer. Hooks see every query, for
// tracing.
func Open(url string, hooks ...bun.QueryHook) (*Store, error) {
	s, err := open(url)
	if err != nil {
		return nil, err
	}
	for _, h := range hooks {
		s.db = s.db.WithQueryHook(h)
	}
	return s, nil
}

func open(url string) (*Store, error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		sqldb, err := sql.Open("pgx", url)
		if err != nil {
			return nil, fmt.Errorf("store: open postgres: %w", err)
		}
		sqldb.SetMaxOpenConns(20)
		sqldb.SetMaxIdleConns(20)
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
		return &Store{db: bun.NewDB(sqldb, pgdialect.New())}, nil
	case strings.HasPrefix(url, "sqlite:"), strings.HasPrefix(url, "file:"):
		path := url[strings.IndexByte(url, ':')+1:]
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if path == "" {
			return nil, errors.New("store: sqlite url has no path")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("store: sqlite directory: %w", err)
		}
		// WAL lets readers run beside the writer; BEGIN IMMEDIATE takes the
		// write lock up front, so concurrent transactions wait (busy_timeout)
		// instead of failing on a lock upgrade.
		dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
			"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		sqldb, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
		sqldb.SetMaxOpenConns(4)
		sqldb.SetMaxIdleConns(4)
		return &Store{db: bun.NewDB(sqldb, sqlitedialect.New())}, nil
	default:
		return nil, errors.New("store: database url must start with postgres://, postgresql://, sqlite: or file: followed by a path")
	}
}

// DB returns the underlying Bun database, for instrumentation.
func (s *Store) DB() *bun.DB { return s.db }

// Close closes the connection pool.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return classify(s.db.PingContext(ctx))
}

// Migrate applies the embedded migrations that are not applied yet, under
// Bun's migration lock so replicas starting together take turns. It returns
// the names of the applied migrations.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	ms := migrate.NewMigrations()
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	if err := ms.Discover(sub); err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	ts := "TIMESTAMP"
	if s.db.Dialect().Name().String() == "pg" {
		ts = "TIMESTAMPTZ"
	}
	m := migrate.NewMigrator(s.db, ms, migrate.WithTemplateData(map[string]string{"Timestamp": ts}))
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("store: init migrations: %w", classify(err))
	}
	if err := m.Lock(ctx); err != nil {
		return nil, fmt.Errorf("store: lock migrations: %w", classify(err))
	}
	group, err := m.Migrate(ctx)
	if uerr := m.Unlock(context.WithoutCancel(ctx)); err == nil && uerr != nil {
		err = uerr
	}
	if err != nil {
		return nil, fmt.Errorf("store: migrate: %w", classify(err))
	}
	var names []string
	for _, mig := range group.Migrations {
		names = append(names, mig.Name)
	}
	return names, nil
}

// usedRefreshToken is a refresh token rotated away.
type usedRefreshToken struct {
	bun.BaseModel `bun:"table:used_refresh_tokens"`

	Hash      string    `bun:"hash,pk"`
	SessionID string    `bun:"session_id,notnull"`
	UsedAt    time.Time `bun:"used_at,notnull"`
}

// CreateUser inserts u; a taken email gives auth.ErrEmailTaken.
func (s *Store) CreateUser(ctx context.Context, u *auth.User) error {
	_, err := s.db.NewInsert().Model(u).Exec(ctx)
	if isUniqueViolation(err) {
		return auth.ErrEmailTaken
	}
	return classify(err)
}

// UserByEmail finds a user by normalized email.
func (s *Store) UserByEmail(ctx context.Context, email string) (*auth.User, error) {
	u := new(auth.User)
	err := s.db.NewSelect().Model(u).Where("email = ?", email).Scan(ctx)
	return u, classify(err)
}

// UserByID finds a user by id.
func (s *Store) UserByID(ctx context.Context, id string) (*auth.User, error) {
	u := new(auth.User)
	err := s.db.NewSelect().Model(u).Where("id = ?", id).Scan(ctx)
	return u, classify(err)
}

// SetPasswordHash replaces a user's password hash.
func (s *Store) SetPasswordHash(ctx context.Context, userID, hash string, at time.Time) error {
	res, err := s.db.NewUpdate().Model((*auth.User)(nil)).
		Set("password_hash = ?", hash).
		Set("updated_at = ?", at).
		Where("id = ?", userID).
		Exec(ctx)
	return affectedOne(res, err)
}

// CreateSession inserts a session.
func (s *Store) CreateSession(ctx context.Context, sess *auth.Session) error {
	_, err := s.db.NewInsert().Model(sess).Exec(ctx)
	return classify(err)
}

// Session finds a session by id.
func (s *Store) Session(ctx context.Context, id string) (*auth.Session, error) {
	sess := new(auth.Session)
	err := s.db.NewSelect().Model(sess).Where("id = ?", id).Scan(ctx)
	return sess, classify(err)
}

// SessionByRefreshHash finds the session whose current refresh token has hash.
func (s *Store) SessionByRefreshHash(ctx context.Context, hash string) (*auth.Session, error) {
	sess := new(auth.Session)
	err := s.db.NewSelect().Model(sess).Where("refresh_hash = ?", hash).Scan(ctx)
	return sess, classify(err)
}

// SessionByUsedRefreshHash finds the session of a rotated-away refresh token.
func (s *Store) SessionByUsedRefreshHash(ctx context.Context, hash string) (*auth.Session, error) {
	sess := new(auth.Session)
	err := s.db.NewSelect().Model(sess).
		Where("id = (?)", s.db.NewSelect().Model((*usedRefreshToken)(nil)).Column("session_id").Where("hash = ?", hash)).
		Scan(ctx)
	return sess, classify(err)
}

// RotateRefresh swaps the session's refresh hash from r.OldHash to r.NewHash
// and records the old one as used, in one transaction. When the old hash is
// no longer current (a concurrent rotation won) it returns auth.ErrConflict.
func (s *Store) RotateRefresh(ctx context.Context, r auth.Rotation) error {
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*auth.Session)(nil)).
			Set("refresh_hash = ?", r.NewHash).
			Set("prev_refresh_hash = ?", r.OldHash).
			Set("rotated_at = ?", r.At).
			Set("successor = ?", r.Successor).
			Set("last_used_at = ?", r.At).
			Set("expires_at = ?", r.ExpiresAt).
			Where("id = ?", r.SessionID).
			Where("refresh_hash = ?", r.OldHash).
			Where("revoked_at IS NULL").
			Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return auth.ErrConflict
		}
		_, err = tx.NewInsert().Model(&usedRefreshToken{Hash: r.OldHash, SessionID: r.SessionID, UsedAt: r.At}).Exec(ctx)
		return err
	})
	return classify(err)
}

// RevokeSession marks a session revoked unless it already is.
func (s *Store) RevokeSession(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.NewUpdate().Model((*auth.Session)(nil)).
		Set("revoked_at = ?", at).
		Set("successor = NULL").
		Where("id = ?", id).
		Where("revoked_at IS NULL").
		Exec(ctx)
	return classify(err)
}

// RevokeUserSessions revokes every session of a user except keep.
func (s *Store) RevokeUserSessions(ctx context.Context, userID, keep string, at time.Time) error {
	_, err := s.db.NewUpdate().Model((*auth.Session)(nil)).
		Set("revoked_at = ?", at).
		Set("successor = NULL").
		Where("user_id = ?", userID).
		Where("id <> ?", keep).
		Where("revoked_at IS NULL").
		Exec(ctx)
	return classify(err)
}

// UserSessions lists a user's sessions that are not revoked, newest first.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]auth.Session, error) {
	var out []auth.Session
	err := s.db.NewSelect().Model(&out).
		Where("user_id = ?", userID).
		Where("revoked_at IS NULL").
		OrderExpr("created_at DESC, id DESC").
		Limit(1000).
		Scan(ctx)
	return out, classify(err)
}

func affectedOne(res sql.Result, err error) error {
	if err != nil {
		return classify(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return classify(err)
	}
	if n == 0 {
		return auth.ErrNotFound
	}
	return nil
}

// classify turns driver errors into the errors of package auth: no rows is
// ErrNotFound, a lost or refused connection is ErrUnavailable (the pool
// reconnects by itself once the database is back).
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return auth.ErrNotFound
	case errors.Is(err, auth.ErrConflict), errors.Is(err, auth.ErrNotFound):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case isUnavailable(err):
		return fmt.Errorf("%w: %w", auth.ErrUnavailable, err)
	}
	return err
}

func isUnavailable(err error) bool {
	var (
		netErr     net.Error
		connectErr *pgconn.ConnectError
		pgErr      *pgconn.PgError
		liteErr    *sqlite.Error
	)
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), pgconn.SafeToRetry(err):
		return true
	case errors.As(err, &pgErr):
		// Class 08: connection exception; 57P01..57P03: shutting down,
		// crash, cannot connect now; 53300: too many connections.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P") || pgErr.Code == "53300"
	case errors.As(err, &liteErr):
		switch liteErr.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR,
			sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL:
			return true
		}
	}
	return strings.Contains(err.Error(), "conn closed")
}

func isUniqueViolation(err error) bool {
	var (
		pgErr   *pgconn.PgError
		liteErr *sqlite.Error
	)
	switch {
	case errors.As(err, &pgErr):
		return pgErr.Code == "23505"
	case errors.As(err, &liteErr):
		return liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	}
	return false
}
