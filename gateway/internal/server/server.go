// Package server assembles the gateway's HTTP handler: edge middleware,
// CORS, route policies, the JWT check, the proxy, health and static files.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/trace"

	"github.com/acme/authgw/gateway/internal/accesslog"
	"github.com/acme/authgw/gateway/internal/config"
	"github.com/acme/authgw/gateway/internal/jwtauth"
	"github.com/acme/authgw/gateway/internal/metrics"
	"github.com/acme/authgw/gateway/internal/protocol"
	"github.com/acme/authgw/gateway/internal/proxy"
	"github.com/acme/authgw/gateway/internal/route"
)

// Identity headers: set by the gateway from a verified token, stripped from
// every request as the client sent it.
const (
	HeaderUserID    = "X-User-Id"
	HeaderUserRoles = "X-User-Roles"
	HeaderRequestID = "X-Request-Id"
	identityPrefix  = "X-User-"
)

// policy is a route as the handler applies it.
type policy struct {
	target proxy.Target
	public bool
	roles  []string
}

// Server is the gateway's handler and the state behind it.
type Server struct {
	log       *slog.Logger
	routes    route.Table[*policy]
	upstreams map[string]*proxy.Upstream
	proxy     *proxy.Proxy
	verifier  *jwtauth.Verifier
	keys      *jwtauth.KeySet
	trusted   []netip.Prefix
	static    http.Handler
	handler   http.Handler
	// tracer is nil when tracing is off.
	tracer  trace.Tracer
	metrics *metrics.Metrics
}

// New builds the gateway from a validated configuration. With a non-nil
// tp every request gets a server span, continued from the caller's W3C
// traceparent and passed on to the upstream.
func New(cfg *config.Config, log *slog.Logger, tp trace.TracerProvider) (*Server, error) {
	s := &Server{
		log:       log,
		upstreams: map[string]*proxy.Upstream{},
		proxy:     proxy.New(log),
		metrics:   metrics.New(),
		trusted:   cfg.Server.TrustedPrefixes(),
	}
	for name, u := range cfg.Upstreams {
		up, err := proxy.NewUpstream(name, u.URL, u.Protocol)
		if err != nil {
			return nil, err
		}
		s.upstreams[name] = up
	}
	needsJWT := false
	for i, r := range cfg.Routes {
		p := &policy{
			target: proxy.Target{Upstream: s.upstreams[r.Upstream], Timeout: r.Timeout.Duration(), BodyLimit: r.BodyLimit},
			public: r.Auth == config.AuthPublic,
			roles:  r.Roles,
		}
		needsJWT = needsJWT || !p.public
		var err error
		if r.Procedure != "" {
			err = s.routes.AddProcedure(r.Procedure, p)
		} else {
			err = s.routes.AddPrefix(r.Prefix, p)
		}
		if err != nil {
			return nil, fmt.Errorf("routes[%d]: %w", i, err)
		}
	}
	if needsJWT {
		client := &http.Client{Timeout: 5 * time.Second}
		s.keys = jwtauth.NewKeySet(cfg.JWT.JWKSURL, client, log, cfg.JWT.RefreshInterval, cfg.JWT.MinRefetchInterval)
		s.verifier = jwtauth.NewVerifier(s.keys, cfg.JWT.Issuer, cfg.JWT.Audience, cfg.JWT.Leeway)
	}
	if tp != nil {
		s.tracer = tp.Tracer("github.com/acme/authgw/gateway")
	}
	if cfg.Server.WebDir != "" {
		s.static = newStatic(cfg.Server.WebDir)
	}
	s.handler = s.routesHandler(cfg)
	return s, nil
}

// Start fetches the JWKS once in the background so the first request does
// not wait for it; failures are logged and retried on demand.
func (s *Server) Start(ctx context.Context) {
	if s.keys != nil {
		go func() { _ = s.keys.Refresh(ctx) }()
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// Close releases pooled upstream connections.
func (s *Server) Close() {
	for _, u := range s.upstreams {
		u.CloseIdleConnections()
	}
}

// rpc applies the matched route's policy and forwards the request.
func (s *Server) rpc(w http.ResponseWriter, r *http.Request, p *policy) {
	accesslog.EntryFrom(r.Context()).Routed = true
	if !p.public {
		id, err := s.authenticate(r)
		if err != nil {
			s.reject(w, r, err)
			return
		}
		if !id.HasRoles(p.roles) {
			s.reject(w, r, connect.NewError(connect.CodePermissionDenied, errors.New("missing role")))
			return
		}
		accesslog.EntryFrom(r.Context()).UserID = id.UserID
		r.Header[HeaderUserID] = []string{id.UserID}
		r.Header[HeaderUserRoles] = []string{id.RolesHeader}
	}
	s.proxy.Forward(w, r, p.target)
}

func (s *Server) authenticate(r *http.Request) (*jwtauth.Identity, *connect.Error) {
	token, ok := jwtauth.Bearer(r.Header.Get("Authorization"))
	if !ok {
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("missing bearer token"))
	}
	id, err := s.verifier.Verify(r.Context(), token)
	switch {
	case errors.Is(err, jwtauth.ErrNoKeys):
		s.log.Warn("cannot verify tokens", "error", err)
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("token keys unavailable"))
	case err != nil:
		s.log.Debug("token rejected", "error", err)
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("invalid access token"))
	}
	return id, nil
}

// reject answers with err in the caller's protocol.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, err *connect.Error) {
	e := accesslog.EntryFrom(r.Context())
	e.Protocol = protocol.Detect(r).String()
	e.Code = err.Code().String()
	protocol.WriteError(w, r, err)
}

// MetricsHandler serves the gateway's Prometheus metrics, for the admin
// listener.
func (s *Server) MetricsHandler() http.Handler { return s.metrics.Handler() }
