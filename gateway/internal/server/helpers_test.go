package server_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/golang-jwt/jwt/v5"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	authv1 "github.com/acme/authgw/gen/auth/v1"
	"github.com/acme/authgw/gen/auth/v1/authv1connect"

	"github.com/acme/authgw/gateway/internal/config"
	"github.com/acme/authgw/gateway/internal/server"
)

// upstream is an in-process stand-in for the auth service: an authv1connect
// handler, grpc.health.v1 served by connect (Watch is the server stream of
// these tests, in every protocol), and a JWKS.
type upstream struct {
	URL string
	key ed25519.PrivateKey
	kid string
	// nudge makes a Watch stream send its second message.
	nudge chan struct{}
	// seen records the headers of each request by X-Request-Id.
	seen sync.Map
}

const (
	procedureCheck = "/grpc.health.v1.Health/Check"
	procedureWatch = "/grpc.health.v1.Health/Watch"
)

func check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

// watch sends SERVING, NOT_SERVING once nudged, then holds the stream open.
func (u *upstream) watch(ctx context.Context, _ *healthpb.HealthCheckRequest, s *connect.ServerStream[healthpb.HealthCheckResponse]) error {
	if err := s.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}); err != nil {
		return err
	}
	select {
	case <-u.nudge:
	case <-ctx.Done():
		return connect.NewError(connect.CodeDeadlineExceeded, ctx.Err())
	}
	if err := s.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING}); err != nil {
		return err
	}
	<-ctx.Done()
	return connect.NewError(connect.CodeDeadlineExceeded, ctx.Err())
}

// testService answers Login and Me; Register waits until its context ends
// (a slow procedure) and reports the deadline it was given.
type testService struct {
	authv1connect.UnimplementedAuthServiceHandler
}

func (testService) Login(_ context.Context, req *authv1.LoginRequest) (*authv1.LoginResponse, error) {
	return &authv1.LoginResponse{AccessToken: "at", TokenType: "Bearer", User: &authv1.User{Id: "u1", Email: req.GetEmail()}}, nil
}

func (testService) Me(ctx context.Context, _ *authv1.MeRequest) (*authv1.MeResponse, error) {
	info, _ := connect.CallInfoForHandlerContext(ctx)
	h := info.RequestHeader()
	var roles []string
	if r := h.Get(server.HeaderUserRoles); r != "" {
		roles = strings.Split(r, ",")
	}
	return &authv1.MeResponse{User: &authv1.User{Id: h.Get(server.HeaderUserID), Roles: roles}}, nil
}

func (testService) ListSessions(context.Context, *authv1.ListSessionsRequest) (*authv1.ListSessionsResponse, error) {
	return &authv1.ListSessionsResponse{}, nil
}

func (testService) Register(ctx context.Context, _ *authv1.RegisterRequest) (*authv1.RegisterResponse, error) {
	select {
	case <-ctx.Done():
		return nil, connect.NewError(connect.CodeDeadlineExceeded, ctx.Err())
	case <-time.After(5 * time.Second):
		return &authv1.RegisterResponse{}, nil
	}
}

func (testService) Refresh(_ context.Context, req *authv1.RefreshRequest) (*authv1.RefreshResponse, error) {
	return &authv1.RefreshResponse{AccessToken: req.GetRefreshToken()}, nil
}

func h1h2c() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &p
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{key: priv, kid: thumbprint(pub), nudge: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	mux.Handle(authv1connect.NewAuthServiceHandler(testService{}))
	mux.Handle(procedureCheck, connect.NewUnaryHandlerSimple(procedureCheck, check))
	mux.Handle(procedureWatch, connect.NewServerStreamHandlerSimple(procedureWatch, u.watch))
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "OKP", "crv": "Ed25519", "kid": u.kid, "alg": "EdDSA", "use": "sig",
		"x": base64.RawURLEncoding.EncodeToString(pub),
	}}})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get(server.HeaderRequestID); id != "" {
			u.seen.Store(id, r.Header.Clone())
		}
		if r.URL.Path == procedureWatch {
			// Watch ignores its deadline, so that ending the stream in time
			// is the gateway's job.
			r.Header.Del("Grpc-Timeout")
			r.Header.Del("Connect-Timeout-Ms")
		}
		mux.ServeHTTP(w, r)
	}))
	srv.Config.Protocols = h1h2c()
	srv.Start()
	t.Cleanup(srv.Close)
	u.URL = srv.URL
	return u
}

// headers returns what the upstream received for request id.
func (u *upstream) headers(t *testing.T, id string) http.Header {
	t.Helper()
	v, ok := u.seen.Load(id)
	if !ok {
		t.Fatalf("upstream saw no request with %s %q", server.HeaderRequestID, id)
	}
	return v.(http.Header)
}

// thumbprint is the RFC 7638 thumbprint of an Ed25519 key.
func thumbprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// token mints an access token like the auth service's; edit may change the
// claims and header before signing.
func (u *upstream) token(t testing.TB, roles []string, edit func(c jwt.MapClaims, h map[string]any)) string {
	t.Helper()
	now := time.Now()
	c := jwt.MapClaims{
		"iss": "authsvc", "aud": "authgw", "sub": "user-1", "sid": "s1",
		"email": "a@example.com", "roles": roles,
		"iat": now.Unix(), "exp": now.Add(15 * time.Minute).Unix(), "jti": "j1",
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = u.kid
	if edit != nil {
		edit(c, tok.Header)
	}
	s, err := tok.SignedString(u.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// closedURL is an address where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "http://" + addr
}

// resetURL is an upstream that accepts connections and resets them.
func resetURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*net.TCPConn).SetLinger(0) // RST, not FIN
			_ = c.Close()
		}
	}()
	return "http://" + ln.Addr().String()
}

const testOrigin = "https://app.example.com"

// testConfig is the gateway configuration of these tests. Logout goes to
// down (nothing listening), ChangePassword to reset (connections reset).
func testConfig(up, down string) string {
	return testConfigReset(up, down, down)
}

func testConfigReset(up, down, reset string) string {
	return `
upstreams:
  app: {url: ` + up + `}
  down: {url: ` + down + `}
  reset: {url: ` + reset + `}
jwt:
  jwks_url: ` + up + `/.well-known/jwks.json
  min_refetch_interval: 1ms
cors:
  allowed_origins: [` + testOrigin + `]
  max_age: 10m
routes:
  - prefix: /auth.v1.AuthService/
    upstream: app
    auth: public
    timeout: 5s
  - procedure: /auth.v1.AuthService/Me
    upstream: app
    auth: token
  - procedure: /auth.v1.AuthService/ListSessions
    upstream: app
    roles: [admin]
  - procedure: /auth.v1.AuthService/Register
    upstream: app
    auth: public
    timeout: 200ms
  - procedure: /auth.v1.AuthService/Refresh
    upstream: app
    auth: public
    body_limit: 256
  - procedure: /auth.v1.AuthService/Logout
    upstream: down
    auth: public
    timeout: 5s
  - procedure: /auth.v1.AuthService/ChangePassword
    upstream: reset
    auth: public
    timeout: 5s
  - prefix: /grpc.health.v1.Health/
    upstream: app
    auth: public
    timeout: none
`
}

// newGateway starts the gateway over HTTP/1.1 and h2c and returns its URL.
func newGateway(t *testing.T, yaml string, env map[string]string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config.Load() error = %v", err)
	}
	gw, err := server.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatalf("server.New() error = %v", err)
	}
	t.Cleanup(gw.Close)
	srv := httptest.NewUnstartedServer(gw)
	srv.Config.Protocols = h1h2c()
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// setup starts an upstream and a gateway in front of it.
func setup(t *testing.T) (*upstream, string) {
	t.Helper()
	up := newUpstream(t)
	return up, newGateway(t, testConfig(up.URL, closedURL(t)), nil)
}

func httpClient(h2c bool) *http.Client {
	var p http.Protocols
	if h2c {
		p.SetUnencryptedHTTP2(true)
	} else {
		p.SetHTTP1(true)
	}
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}

// rpcClient is one way of calling the gateway.
type rpcClient struct {
	name   string
	client authv1connect.AuthServiceClient
}

// clients returns the generated client in every protocol, codec and HTTP
// version the gateway serves.
func clients(base string) []rpcClient {
	h1, h2 := httpClient(false), httpClient(true)
	return []rpcClient{
		{"connect+json/h1", authv1connect.NewAuthServiceClient(h1, base, connect.WithProtoJSON())},
		{"connect+proto/h1", authv1connect.NewAuthServiceClient(h1, base)},
		{"connect+proto/h2c", authv1connect.NewAuthServiceClient(h2, base)},
		{"connect+json-get/h1", authv1connect.NewAuthServiceClient(h1, base, connect.WithProtoJSON(), connect.WithHTTPGet())},
		{"grpc/h2c", authv1connect.NewAuthServiceClient(h2, base, connect.WithGRPC())},
		{"grpc-web/h1", authv1connect.NewAuthServiceClient(h1, base, connect.WithGRPCWeb())},
		{"grpc-web+json/h2c", authv1connect.NewAuthServiceClient(h2, base, connect.WithGRPCWeb(), connect.WithProtoJSON())},
	}
}

// withHeaders sets headers on every call made with the returned context.
func withHeaders(ctx context.Context, kv ...string) (context.Context, connect.CallInfo) {
	ctx, info := connect.NewClientContext(ctx)
	for i := 0; i+1 < len(kv); i += 2 {
		info.RequestHeader().Add(kv[i], kv[i+1])
	}
	return ctx, info
}
