// Command authsvc is the authentication service: Connect, gRPC and gRPC-Web
// on one port, over HTTP/1.1 and h2c.
//
//	authsvc            serve (runs pending migrations first)
//	authsvc migrate    apply pending migrations and exit
package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/uptrace/bun/extra/bunotel"

	"github.com/acme/authgw/authsvc/internal/auth"
	"github.com/acme/authgw/authsvc/internal/metrics"
	"github.com/acme/authgw/authsvc/internal/password"
	"github.com/acme/authgw/authsvc/internal/server"
	"github.com/acme/authgw/authsvc/internal/store"
	"github.com/acme/authgw/authsvc/internal/telemetry"
	"github.com/acme/authgw/authsvc/internal/token"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "authsvc:", err)
		os.Exit(1)
	}
}

const usage = `usage: authsvc [serve|migrate|healthcheck]

  serve        run the service (the default); pending migrations run first
  migrate      apply pending migrations and exit
  healthcheck  exit 0 when the local service is ready (for container health checks)

Configuration comes from AUTH_* environment variables; see the README.`

// run is the whole program; tests call it with their own arguments and
// environment. It returns when ctx ends or on SIGINT/SIGTERM, after the
// in-flight calls finish.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 1 {
		cmd = args[1]
	}
	switch cmd {
	case "serve", "migrate":
	case "healthcheck":
		return healthcheck(ctx, getenv)
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := newLogger(cfg, stderr)
	tracing, err := telemetry.Setup(ctx, "authsvc", getenv)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tracing.Shutdown(sctx); err != nil {
			log.Warn("flushing traces", "error", err)
		}
	}()
	if tracing.Endpoint != "" {
		log.Info("tracing on", "endpoint", tracing.Endpoint)
	}
	st, err := store.Open(cfg.DatabaseURL,
		bunotel.NewQueryHook(bunotel.WithTracerProvider(tracing.Provider), bunotel.WithDBName("authsvc")))
	if err != nil {
		return fmt.Errorf("AUTH_DATABASE_URL: %w", err)
	}
	defer st.Close()

	if err := migrate(ctx, st, cfg.DBWait, log); err != nil {
		return err
	}
	if cmd == "migrate" {
		return nil
	}

	issuer, err := newIssuer(cfg, log)
	if err != nil {
		return err
	}
	if p, min := cfg.HashParams, password.DefaultParams(); p.Memory < min.Memory || p.Time < min.Time {
		log.Warn("argon2id parameters below the OWASP minimum (m=19456 KiB, t=2): for tests only",
			"memory_kib", p.Memory, "iterations", p.Time)
	}
	m := metrics.New(st.DB().DB)

	hasher := password.NewHasher(password.Options{
		Params:        cfg.HashParams,
		MaxConcurrent: cfg.HashConcurrency,
		MaxWait:       cfg.HashMaxWait,
		OnQueue:       m.HashQueue,
	})
	svc := auth.NewService(st, hasher, issuer, auth.Config{
		RefreshIdleTTL:     cfg.RefreshIdleTTL,
		RefreshAbsoluteTTL: cfg.RefreshAbsTTL,
		ReuseGrace:         cfg.ReuseGrace,
	})
	srv, err := server.New(server.Deps{
		Service:  svc,
		Verifier: issuer,
		JWKS:     issuer.JWKS(),
		DB:       st,
		Logger:   log,
		Metrics:  m,
		Tracing:  tracing,

		TrustedProxies: cfg.TrustedProxies,
	})
	if err != nil {
		return err
	}
	return serve(ctx, cfg, srv, m.Handler(), log)
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// migrate applies pending migrations, waiting up to wait for a database
// that is still starting.
func migrate(ctx context.Context, st *store.Store, wait time.Duration, log *slog.Logger) error {
	deadline := time.Now().Add(wait)
	for {
		applied, err := st.Migrate(ctx)
		if err == nil {
			log.Info("database ready", "migrations_applied", len(applied))
			return nil
		}
		if !errors.Is(err, auth.ErrUnavailable) || time.Now().After(deadline) {
			return fmt.Errorf("database: %w", err)
		}
		log.Warn("database unavailable, retrying", "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// newIssuer loads the signing key (or generates one in the data directory
// for development) and the previous keys that still verify.
func newIssuer(cfg config, log *slog.Logger) (*token.Issuer, error) {
	var priv ed25519.PrivateKey
	if cfg.SigningKeyFile != "" {
		b, err := os.ReadFile(cfg.SigningKeyFile)
		if err != nil {
			return nil, fmt.Errorf("AUTH_SIGNING_KEY_FILE: %w", err)
		}
		if priv, err = token.ParsePrivateKeyPEM(b); err != nil {
			return nil, fmt.Errorf("AUTH_SIGNING_KEY_FILE: %w", err)
		}
	} else {
		path := filepath.Join(cfg.DataDir, "signing-key.pem")
		k, generated, err := token.LoadOrGenerate(path)
		if err != nil {
			return nil, fmt.Errorf("AUTH_DATA_DIR: signing key: %w", err)
		}
		priv = k
		if generated {
			log.Warn("AUTH_SIGNING_KEY_FILE not set: generated a signing key; set AUTH_SIGNING_KEY_FILE in production", "path", path)
		} else {
			log.Warn("AUTH_SIGNING_KEY_FILE not set: using the development signing key", "path", path)
		}
	}
	var prev []ed25519.PublicKey
	for _, f := range cfg.PreviousKeyFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("AUTH_PREVIOUS_KEY_FILES: %w", err)
		}
		pub, err := token.ParsePublicKeyPEM(b)
		if err != nil {
			return nil, fmt.Errorf("AUTH_PREVIOUS_KEY_FILES: %s: %w", f, err)
		}
		prev = append(prev, pub)
	}
	key := token.NewKey(priv)
	log.Info("signing key loaded", "kid", key.ID, "previous_keys", len(prev))
	return token.NewIssuer(key, prev, token.Options{
		Issuer:   cfg.Issuer,
		Audience: cfg.Audience,
		TTL:      cfg.AccessTTL,
	}), nil
}

// serve runs the HTTP/1.1 + h2c server until ctx ends, then drains: health
// turns NOT_SERVING, new connections are refused, in-flight calls finish.
func serve(ctx context.Context, cfg config, srv *server.Server, metrics http.Handler, log *slog.Logger) error {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	hs := &http.Server{
		Handler:           srv,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("AUTH_ADDR: %w", err)
	}
	adminMux := http.NewServeMux()
	adminMux.Handle("GET /metrics", metrics)
	adminMux.Handle("GET /readyz", srv.ReadyHandler())
	adminMux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	admin := &http.Server{Handler: adminMux, ReadHeaderTimeout: 10 * time.Second}
	adminLn, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		ln.Close()
		return fmt.Errorf("AUTH_ADMIN_ADDR: %w", err)
	}
	log.Info("admin listening", "addr", adminLn.Addr().String(), "paths", "/metrics /healthz /readyz")
	log.Info("listening", "addr", ln.Addr().String(), "protocols", "http/1.1,h2c", "database", dbKind(cfg.DatabaseURL))

	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	go func() { errc <- admin.Serve(adminLn) }()
	defer admin.Close()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Health turns NOT_SERVING first; during the drain delay calls are
	// still served, so load balancers that poll health move traffic away
	// before the listener closes.
	srv.Drain()
	log.Info("shutting down", "drain_delay", cfg.DrainDelay, "timeout", cfg.ShutdownTimeout)
	if cfg.DrainDelay > 0 {
		time.Sleep(cfg.DrainDelay)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// dbKind names the database without its credentials, for the log.
func dbKind(url string) string {
	if len(url) >= 8 && url[:8] == "postgres" {
		return "postgres"
	}
	return "sqlite"
}

// healthcheck asks the admin port of the service on this host whether it
// is ready; container images have no shell or curl to do it.
func healthcheck(ctx context.Context, getenv func(string) string) error {
	addr := getenv("AUTH_ADMIN_ADDR")
	if addr == "" {
		addr = ":9090"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("AUTH_ADMIN_ADDR: %w", err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/readyz", nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: %s", res.Status)
	}
	return nil
}
