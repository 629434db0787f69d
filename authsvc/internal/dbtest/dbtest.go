// Package dbtest gives tests real databases: a fresh SQLite file always, and
// a fresh PostgreSQL database when AUTH_TEST_DATABASE_URL names a server
// (CI sets it; each test gets its own database, dropped afterwards).
package dbtest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// EnvPostgres names the environment variable with the PostgreSQL server URL
// that tests create their databases on.
const EnvPostgres = "AUTH_TEST_DATABASE_URL"

// Each runs fn as a subtest per available database, with a fresh empty
// database URL: "sqlite" always, "postgres" when EnvPostgres is set.
func Each(t *testing.T, fn func(t *testing.T, url string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		fn(t, SQLite(t))
	})
	if os.Getenv(EnvPostgres) == "" {
		t.Logf("%s not set: PostgreSQL variant not run", EnvPostgres)
		return
	}
	t.Run("postgres", func(t *testing.T) {
		fn(t, Postgres(t))
	})
}

// PostgresURL returns the PostgreSQL server URL of EnvPostgres, or "".
func PostgresURL() string { return os.Getenv(EnvPostgres) }

// SQLite returns the URL of a new SQLite file in a temporary directory.
func SQLite(t testing.TB) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "test.db")
}

// Postgres creates an empty database on the EnvPostgres server and returns
// its URL; the database is dropped when the test ends. It fails the test
// when EnvPostgres is unset.
func Postgres(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvPostgres)
	if admin == "" {
		t.Fatalf("%s is not set", EnvPostgres)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", EnvPostgres, err)
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("open %s: %v", EnvPostgres, err)
	}
	t.Cleanup(func() { db.Close() })
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "authtest_" + hex.EncodeToString(b)
	if _, err := db.ExecContext(t.Context(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
