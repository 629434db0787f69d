package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/acme/authgw/gateway/internal/config"
	"github.com/acme/authgw/gateway/internal/server"
	"github.com/acme/authgw/gateway/internal/telemetry"
)

// run starts the gateway and serves until ctx is done, then shuts down
// gracefully. Logs go to stderr as JSON (GATEWAY_LOG_FORMAT=text for text);
// -check validates the configuration, prints it to stdout and exits.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", getenv("GATEWAY_CONFIG"), "YAML configuration `file` (default: embedded, $GATEWAY_CONFIG)")
	check := fs.Bool("check", false, "validate the configuration and exit")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := config.Load(*configPath, getenv)
	if err != nil {
		return err
	}
	if *check {
		fmt.Fprintf(stdout, "configuration ok: %d upstreams, %d routes\n", len(cfg.Upstreams), len(cfg.Routes))
		return nil
	}
	log, err := newLogger(stderr, getenv("GATEWAY_LOG_FORMAT"), getenv("GATEWAY_LOG_LEVEL"))
	if err != nil {
		return err
	}

	tracing, err := telemetry.Setup(ctx, "gateway", getenv)
	if err != nil {
		return err
	}
	defer func() {
		// Flushes the spans still batched.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tracing.Shutdown(sctx)
	}()
	gw, err := server.New(cfg, log, tracing.Provider)
	if err != nil {
		return err
	}
	defer gw.Close()
	gw.Start(ctx)

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           gw,
		Protocols:         &protocols,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: 250,
		},
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	adminAddr := getenv("GATEWAY_ADMIN_ADDR")
	if adminAddr == "" {
		adminAddr = ":9091"
	}
	adminLn, err := (&net.ListenConfig{}).Listen(ctx, "tcp", adminAddr)
	if err != nil {
		ln.Close()
		return fmt.Errorf("GATEWAY_ADMIN_ADDR: %w", err)
	}
	adminMux := http.NewServeMux()
	adminMux.Handle("GET /metrics", gw.MetricsHandler())
	admin := &http.Server{Handler: adminMux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = admin.Serve(adminLn) }()
	defer admin.Close()
	log.Info("admin listening", "listener", "admin", "addr", adminLn.Addr().String(), "paths", "/metrics")
	log.Info("listening", "listener", "gateway", "addr", ln.Addr().String(), "protocols", "http/1.1,h2c")

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Streams still open after the grace period are cut.
		_ = srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if level != "" {
		if err := lvl.UnmarshalText([]byte(level)); err != nil {
			return nil, fmt.Errorf("GATEWAY_LOG_LEVEL: %w", err)
		}
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(format) {
	case "", "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("GATEWAY_LOG_FORMAT: %q is not json or text", format)
}
