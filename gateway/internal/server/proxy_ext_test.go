package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	authv1 "github.com/acme/authgw/gen/auth/v1"
)

func TestProxyEveryProtocol(t *testing.T) {
	t.Parallel()
	_, gw := setup(t)
	for _, c := range clients(gw) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res, err := c.client.Login(t.Context(), &authv1.LoginRequest{Email: "a@example.com", Password: "pw"})
			if err != nil {
				t.Fatalf("Login() error = %v", err)
			}
			if got := res.GetUser().GetEmail(); got != "a@example.com" {
				t.Errorf("Login().User.Email = %q, want %q", got, "a@example.com")
			}
		})
	}
}

func TestRawJSON(t *testing.T) {
	t.Parallel()
	_, gw := setup(t)
	resp, err := http.Post(gw+"/auth.v1.AuthService/Login", "application/json", strings.NewReader(`{"email":"a@example.com","password":"pw"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"accessToken"`
		TokenType   string `json:"tokenType"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || body.AccessToken != "at" || body.TokenType != "Bearer" {
		t.Errorf("POST Login = %d %+v, want 200 with accessToken and tokenType", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("POST Login X-Request-Id is empty, want a generated id")
	}
}

// TestGRPCGoClient goes through the gateway with google.golang.org/grpc: a
// unary call and a server stream whose messages arrive while it is open.
func TestGRPCGoClient(t *testing.T) {
	t.Parallel()
	up, gw := setup(t)
	conn, err := grpc.NewClient(strings.TrimPrefix(gw, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	client := healthpb.NewHealthClient(conn)
	ctx := t.Context()

	res, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("Check() error = %v", err)
	}
	if res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("Check() status = %v, want SERVING", res.GetStatus())
	}

	stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("Watch() error = %v", err)
	}
	msg, err := stream.Recv()
	if err != nil || msg.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch() first Recv = %v, %v, want SERVING", msg, err)
	}
	// The update exists only after the first message came through: the
	// stream is relayed while it is open, not buffered to its end.
	up.nudge <- struct{}{}
	msg, err = stream.Recv()
	if err != nil || msg.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Watch() second Recv = %v, %v, want NOT_SERVING", msg, err)
	}
}

// TestGRPCGoReflection checks that reflection (what grpcurl list uses) is
// an ordinary bidi stream through the gateway.
func TestGRPCGoReflection(t *testing.T) {
	t.Parallel()
	gs := grpc.NewServer()
	reflection.Register(gs)
	healthpb.RegisterHealthServer(gs, health.NewServer())
	ups := startH2C(t, gs)
	gw := newGateway(t, `
upstreams:
  r: {url: `+ups+`, protocol: h2c}
routes:
  - prefix: /grpc.reflection.
    upstream: r
    auth: public
`, nil)
	conn, err := grpc.NewClient(strings.TrimPrefix(gw, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	services, err := listServices(t.Context(), conn)
	if err != nil {
		t.Fatalf("list services error = %v", err)
	}
	if !strings.Contains(strings.Join(services, " "), "grpc.health.v1.Health") {
		t.Errorf("list services = %v, want grpc.health.v1.Health among them", services)
	}
}

func TestDeadlines(t *testing.T) {
	t.Parallel()
	_, gw := setup(t)
	for _, c := range clients(gw) {
		if strings.Contains(c.name, "get") {
			continue // Register has side effects: no GET
		}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := c.client.Register(t.Context(), &authv1.RegisterRequest{Email: "slow@example.com"})
			if got := connect.CodeOf(err); got != connect.CodeDeadlineExceeded {
				t.Errorf("Register() code = %v, want %v (error %v)", got, connect.CodeDeadlineExceeded, err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Register() took %v, want about the route's 200ms", d)
			}
		})
	}
}

// TestDeadlineWire checks what the caller gets on the wire when the route's
// timeout passes, and that the upstream was told the deadline.
func TestDeadlineWire(t *testing.T) {
	t.Parallel()
	up, gw := setup(t)
	tests := []struct {
		name        string
		contentType string
		h2c         bool
		body        []byte
		header      map[string]string
		wantStatus  int
		check       func(t *testing.T, resp *http.Response, body []byte)
		wantTimeout string // header name the upstream must receive
	}{
		{
			name: "connect unary json", contentType: "application/json", body: []byte(`{}`),
			wantStatus: http.StatusGatewayTimeout, wantTimeout: "Connect-Timeout-Ms",
			check: func(t *testing.T, resp *http.Response, body []byte) {
				var e struct{ Code string }
				if err := json.Unmarshal(body, &e); err != nil || e.Code != "deadline_exceeded" {
					t.Errorf("body = %s, want JSON error with code deadline_exceeded", body)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q, want application/json", ct)
				}
			},
		},
		{
			name: "grpc", contentType: "application/grpc", h2c: true, body: frame(0, nil),
			header:     map[string]string{"Te": "trailers"},
			wantStatus: http.StatusOK, wantTimeout: "Grpc-Timeout",
			check: func(t *testing.T, resp *http.Response, _ []byte) {
				got := resp.Trailer.Get("Grpc-Status") + resp.Header.Get("Grpc-Status")
				if got != "4" {
					t.Errorf("grpc-status = %q, want 4", got)
				}
			},
		},
		{
			name: "grpc-web", contentType: "application/grpc-web+proto", body: frame(0, nil),
			wantStatus: http.StatusOK, wantTimeout: "Grpc-Timeout",
			check: func(t *testing.T, resp *http.Response, body []byte) {
				got := resp.Header.Get("Grpc-Status")
				if got == "" {
					got = grpcWebTrailer(body).Get("Grpc-Status")
				}
				if got != "4" {
					t.Errorf("grpc-web grpc-status = %q, want 4", got)
				}
			},
		},
		{
			name: "caller shorter timeout", contentType: "application/json", body: []byte(`{}`),
			header:     map[string]string{"Connect-Timeout-Ms": "50"},
			wantStatus: http.StatusGatewayTimeout, wantTimeout: "Connect-Timeout-Ms",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := "deadline-" + strings.ReplaceAll(tt.name, " ", "-")
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, gw+"/auth.v1.AuthService/Register", bytes.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.contentType)
			req.Header.Set("X-Request-Id", id)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := httpClient(tt.h2c).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("POST Register status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.check != nil {
				tt.check(t, resp, body)
			}
			limit := 200 * time.Millisecond
			if v, ok := tt.header["Connect-Timeout-Ms"]; ok {
				ms, _ := strconv.Atoi(v)
				limit = time.Duration(ms) * time.Millisecond
			}
			sent := up.headers(t, id).Get(tt.wantTimeout)
			if d := parseTimeout(t, sent); d <= 0 || d > limit {
				t.Errorf("upstream %s = %q, want a timeout in (0, %v]", tt.wantTimeout, sent, limit)
			}
		})
	}
}

func TestUpstreamDown(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	gw := newGateway(t, testConfigReset(up.URL, closedURL(t), resetURL(t)), nil)
	for _, c := range clients(gw) {
		if strings.Contains(c.name, "get") {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := c.client.Logout(t.Context(), &authv1.LogoutRequest{})
			if got := connect.CodeOf(err); got != connect.CodeUnavailable {
				t.Errorf("Logout() (refused) code = %v, want %v (error %v)", got, connect.CodeUnavailable, err)
			}
			_, err = c.client.ChangePassword(t.Context(), &authv1.ChangePasswordRequest{})
			if got := connect.CodeOf(err); got != connect.CodeUnavailable {
				t.Errorf("ChangePassword() (reset) code = %v, want %v (error %v)", got, connect.CodeUnavailable, err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Logout() and ChangePassword() took %v, want answers at once, not after the 5s timeout", d)
			}
		})
	}
	t.Run("connect unary wire", func(t *testing.T) {
		t.Parallel()
		resp, err := http.Post(gw+"/auth.v1.AuthService/Logout", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("POST Logout status = %d, want %d", resp.StatusCode, http.StatusServiceUnavailable)
		}
	})
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	_, gw := setup(t)
	big := strings.Repeat("x", 1000)
	for _, c := range clients(gw) {
		if strings.Contains(c.name, "get") {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.client.Refresh(t.Context(), &authv1.RefreshRequest{RefreshToken: big})
			if got := connect.CodeOf(err); got != connect.CodeResourceExhausted {
				t.Errorf("Refresh(1000 bytes) code = %v, want %v (error %v)", got, connect.CodeResourceExhausted, err)
			}
			res, err := c.client.Refresh(t.Context(), &authv1.RefreshRequest{RefreshToken: "small"})
			if err != nil || res.GetAccessToken() != "small" {
				t.Errorf("Refresh(small) = %v, %v, want echo", res, err)
			}
		})
	}
	t.Run("chunked", func(t *testing.T) {
		t.Parallel()
		// No Content-Length: the limit applies while the body streams.
		body := io.MultiReader(strings.NewReader(`{"refreshToken":"`), strings.NewReader(big), strings.NewReader(`"}`))
		resp, err := http.Post(gw+"/auth.v1.AuthService/Refresh", "application/json", body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("POST Refresh chunked status = %d, want %d", resp.StatusCode, http.StatusTooManyRequests)
		}
	})
}

func TestNoRoute(t *testing.T) {
	t.Parallel()
	_, gw := setup(t)
	tests := []struct {
		path string
		want int
	}{
		{"/other.v1.Service/Method", http.StatusNotImplemented},
		{"/auth.v1.AuthService/../x.v1.Admin/Delete", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodPost, gw+tt.path, strings.NewReader(`{}`))
			req.URL.Opaque = tt.path // keep the dots as sent
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want || !json.Valid(body) {
				t.Errorf("POST %s = %d %s, want %d with a JSON error", tt.path, resp.StatusCode, body, tt.want)
			}
		})
	}
}

func frame(flags byte, payload []byte) []byte {
	b := make([]byte, 5, 5+len(payload))
	b[0] = flags
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	return append(b, payload...)
}

// grpcWebTrailer parses the trailers frame at the end of a gRPC-Web body.
func grpcWebTrailer(body []byte) http.Header {
	h := http.Header{}
	for len(body) >= 5 {
		n := binary.BigEndian.Uint32(body[1:5])
		if int(n) > len(body)-5 {
			break
		}
		if body[0]&0x80 != 0 {
			for line := range strings.SplitSeq(string(body[5:5+n]), "\r\n") {
				if k, v, ok := strings.Cut(line, ":"); ok {
					h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
				}
			}
		}
		body = body[5+n:]
	}
	return h
}

func parseTimeout(t *testing.T, v string) time.Duration {
	t.Helper()
	if v == "" {
		return 0
	}
	if ms, err := strconv.Atoi(v); err == nil {
		return time.Duration(ms) * time.Millisecond
	}
	n, err := strconv.Atoi(v[:len(v)-1])
	if err != nil {
		t.Fatalf("bad timeout %q", v)
	}
	unit := map[byte]time.Duration{'n': time.Nanosecond, 'u': time.Microsecond, 'm': time.Millisecond, 'S': time.Second, 'M': time.Minute, 'H': time.Hour}[v[len(v)-1]]
	return time.Duration(n) * unit
}

func listServices(ctx context.Context, conn *grpc.ClientConn) ([]string, error) {
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	err = stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: "*"},
	})
	if err != nil {
		return nil, err
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	_ = stream.CloseSend()
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	return names, nil
}

// startH2C serves h over HTTP/1.1 and h2c and returns its URL.
func startH2C(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = h1h2c()
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestStreams runs a server stream through the gateway in each streaming
// protocol: the first message arrives while the stream is open, the second
// only after it, and when the route's timeout passes mid-stream the caller
// gets deadline_exceeded at the end of the stream in its own protocol.
func TestStreams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h2c  bool
		opts []connect.ClientOption
	}{
		{"grpc/h2c", true, []connect.ClientOption{connect.WithGRPC()}},
		{"grpc-web/h1", false, []connect.ClientOption{connect.WithGRPCWeb()}},
		{"grpc-web/h2c", true, []connect.ClientOption{connect.WithGRPCWeb()}},
		{"connect+json/h1", false, []connect.ClientOption{connect.WithProtoJSON()}},
		{"connect+proto/h2c", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up := newUpstream(t)
			gw := newGateway(t, `
upstreams:
  app: {url: `+up.URL+`}
routes:
  - prefix: /grpc.health.v1.Health/
    upstream: app
    auth: public
    timeout: 400ms
`, nil)
			client := connect.NewClient[healthpb.HealthCheckRequest, healthpb.HealthCheckResponse](
				httpClient(tt.h2c), gw+procedureWatch, tt.opts...)
			start := time.Now()
			stream, err := client.CallServerStream(t.Context(), connect.NewRequest(&healthpb.HealthCheckRequest{}))
			if err != nil {
				t.Fatalf("Watch() error = %v", err)
			}
			defer stream.Close()
			if !stream.Receive() || stream.Msg().GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("Watch() first message = %v, %v, want SERVING", stream.Msg(), stream.Err())
			}
			up.nudge <- struct{}{}
			if !stream.Receive() || stream.Msg().GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
				t.Fatalf("Watch() second message = %v, %v, want NOT_SERVING", stream.Msg(), stream.Err())
			}
			if stream.Receive() {
				t.Fatalf("Watch() third message = %v, want the end of the stream", stream.Msg())
			}
			if got := connect.CodeOf(stream.Err()); got != connect.CodeDeadlineExceeded {
				t.Errorf("Watch() code = %v, want %v (error %v)", got, connect.CodeDeadlineExceeded, stream.Err())
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("Watch() ended after %v, want about the route's 400ms", d)
			}
		})
	}
}

// TestDeadlineMidBody: an upstream that stalls in the middle of a unary
// answer still gets the caller a clean deadline_exceeded, never a truncated
// body.
func TestDeadlineMidBody(t *testing.T) {
	t.Parallel()
	ups := startH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/auth.v1.AuthService/Me" {
			w.Header().Set("Content-Length", "100")
		} // else unknown length: chunked or HTTP/2 without content-length
		_, _ = w.Write([]byte(`{"user":`))
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	}))
	gw := newGateway(t, `
upstreams:
  app: {url: `+ups+`}
routes:
  - prefix: /
    upstream: app
    auth: public
    timeout: 200ms
`, nil)
	for _, proc := range []string{"Me", "ListSessions"} {
		for _, h2c := range []bool{false, true} {
			t.Run(proc+map[bool]string{false: "/h1", true: "/h2c"}[h2c], func(t *testing.T) {
				t.Parallel()
				resp, err := httpClient(h2c).Post(gw+"/auth.v1.AuthService/"+proc, "application/json", strings.NewReader(`{}`))
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusGatewayTimeout || !json.Valid(body) {
					t.Errorf("POST %s = %d %q (read error %v), want 504 with a JSON error", proc, resp.StatusCode, body, err)
				}
			})
		}
	}
}
