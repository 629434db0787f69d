// Package server exposes the auth service over Connect: one set of handlers
// for gRPC, gRPC-Web and Connect (JSON and binary), plus the JWKS document,
// grpc.health.v1 and gRPC reflection, all on one http.Handler.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync/atomic"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"connectrpc.com/otelconnect"

	"github.com/acme/authgw/gen/auth/v1/authv1connect"

	"github.com/acme/authgw/authsvc/internal/auth"
	"github.com/acme/authgw/authsvc/internal/telemetry"
)

// maxMessageBytes bounds request messages: the largest legitimate one is a
// password change, far below this.
const maxMessageBytes = 64 << 10

// Pinger reports whether the database answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are what the server needs.
type Deps struct {
	Service  *auth.Service
	Verifier Verifier
	// JWKS is the JSON Web Key Set document of the verification keys.
	JWKS    []byte
	DB      Pinger
	Logger  *slog.Logger
	Metrics Metrics
	// TrustedProxies are the networks of proxies (the gateway) whose
	// X-Forwarded-For names the client of a login.
	TrustedProxies []netip.Prefix
	// Tracing instruments the calls (otelconnect); it continues the trace
	// of the caller, which is the gateway or another trusted service.
	Tracing *telemetry.Tracing
}

// Server is the auth service's HTTP surface.
type Server struct {
	handler  http.Handler
	db       Pinger
	draining atomic.Bool
}

// New returns the server; routes lists the whole surface.
func New(d Deps) (*Server, error) {
	s := &Server{db: d.DB}
	h, err := s.routes(d)
	if err != nil {
		return nil, err
	}
	s.handler = h
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Drain makes the health check answer NOT_SERVING, so load balancers stop
// sending new calls while in-flight ones finish.
func (s *Server) Drain() { s.draining.Store(true) }

func (s *Server) routes(d Deps) (http.Handler, error) {
	otel, err := otelconnect.NewInterceptor(
		otelconnect.WithTracerProvider(d.Tracing.Provider),
		otelconnect.WithPropagator(d.Tracing.Propagator),
		otelconnect.WithTrustRemote(),
		otelconnect.WithoutMetrics(), // Prometheus has them, see Metrics
	)
	if err != nil {
		return nil, fmt.Errorf("server: tracing: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(authv1connect.NewAuthServiceHandler(
		&handler{svc: d.Service, trusted: d.TrustedProxies},
		connect.WithInterceptors(otel, observeInterceptor(d.Logger, d.Metrics), authInterceptor(d.Verifier)),
		connect.WithReadMaxBytes(maxMessageBytes),
	))
	mux.Handle(grpchealth.NewHandler(healthChecker{s}))
	reflector := grpcreflect.NewStaticReflector(authv1connect.AuthServiceName, grpchealth.HealthV1ServiceName)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	mux.Handle("GET /.well-known/jwks.json", jwksHandler(d.JWKS))
	return mux, nil
}

func jwksHandler(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		// Short enough that a rotated key reaches verifiers quickly; they
		// refetch on an unknown kid anyway.
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(doc)
	})
}

// Ready reports whether the server should get traffic: it is not draining
// and its database answers.
func (s *Server) Ready(ctx context.Context) error {
	if s.draining.Load() {
		return errors.New("server: draining")
	}
	return s.db.Ping(ctx)
}

// ReadyHandler answers 200 when Ready, 503 otherwise, for orchestrators
// that probe over plain HTTP.
func (s *Server) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.Ready(r.Context()); err != nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
}

// healthChecker answers grpc.health.v1 for the whole server ("") and the
// auth service: SERVING while the server is Ready.
type healthChecker struct{ s *Server }

func (h healthChecker) Check(ctx context.Context, req *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	if req.Service != "" && req.Service != authv1connect.AuthServiceName {
		return nil, connect.NewError(connect.CodeNotFound, nil)
	}
	if h.s.Ready(ctx) != nil {
		return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
	}
	return &grpchealth.CheckResponse{Status: grpchealth.StatusServing}, nil
}
