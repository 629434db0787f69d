package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	authv1 "github.com/acme/authgw/gen/auth/v1"
	"github.com/acme/authgw/gen/auth/v1/authv1connect"

	"github.com/acme/authgw/authsvc/internal/dbtest"
	"github.com/acme/authgw/authsvc/internal/token"
)

// instance is the real program, started by run on a free port.
type instance struct {
	addr string
	// admin is the address of the metrics listener.
	admin string
	url   string
	logs  *logSink
	stop  context.CancelFunc
	done  chan error
	once  sync.Once
}

// logSink collects the JSON log lines of run and reports the listening
// address.
type logSink struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	addrc chan string
	once  sync.Once
	admin string
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.buf.Write(p)
	s.mu.Unlock()
	sc := bufio.NewScanner(bytes.NewReader(p))
	for sc.Scan() {
		var line struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		switch line.Msg {
		case "admin listening":
			s.mu.Lock()
			s.admin = line.Addr
			s.mu.Unlock()
		case "listening":
			s.once.Do(func() { s.addrc <- line.Addr })
		}
	}
	return len(p), nil
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// testEnv is the environment every instance starts from: a free port, a
// fresh data directory and cheap hashing parameters.
func testEnv(t testing.TB) map[string]string {
	return map[string]string{
		"AUTH_ADDR":              "127.0.0.1:0",
		"AUTH_ADMIN_ADDR":        "127.0.0.1:0",
		"AUTH_DATA_DIR":          t.TempDir(),
		"AUTH_ARGON2_MEMORY_KIB": "64",
		"AUTH_ARGON2_ITERATIONS": "1",
		"AUTH_LOG_LEVEL":         "debug",
	}
}

func start(t testing.TB, env map[string]string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{logs: &logSink{addrc: make(chan string, 1)}, stop: cancel, done: make(chan error, 1)}
	getenv := func(k string) string { return env[k] }
	go func() {
		in.done <- run(ctx, []string{"authsvc"}, getenv, io.Discard, in.logs)
	}()
	select {
	case in.addr = <-in.logs.addrc:
	case err := <-in.done:
		cancel()
		t.Fatalf("run returned before listening: %v\nlogs:\n%s", err, in.logs)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("run did not listen within 30s\nlogs:\n%s", in.logs)
	}
	in.url = "http://" + in.addr
	in.logs.mu.Lock()
	in.admin = in.logs.admin
	in.logs.mu.Unlock()
	t.Cleanup(func() {
		in.shutdown(t)
		if t.Failed() {
			t.Logf("service logs:\n%s", in.logs)
		}
	})
	return in
}

// shutdown stops the instance and waits for run to return; it is safe to
// call twice.
func (in *instance) shutdown(t testing.TB) {
	t.Helper()
	in.once.Do(func() {
		in.stop()
		select {
		case err := <-in.done:
			if err != nil {
				t.Errorf("run returned %v after shutdown, want nil", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("run did not return within 30s of shutdown")
		}
	})
}

var (
	h2cClient = &http.Client{Transport: &http.Transport{Protocols: h2cOnly()}}
	h1Client  = &http.Client{Transport: &http.Transport{}}
)

func h2cOnly() *http.Protocols {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &p
}

// protocols are the ways a generated client can talk to the service.
var protocols = []struct {
	name   string
	client *http.Client
	opts   []connect.ClientOption
}{
	{"connect-json-http1", h1Client, []connect.ClientOption{connect.WithProtoJSON()}},
	{"connect-proto-h2c", h2cClient, nil},
	{"connect-get-json-http1", h1Client, []connect.ClientOption{connect.WithProtoJSON(), connect.WithHTTPGet()}},
	{"grpc-h2c", h2cClient, []connect.ClientOption{connect.WithGRPC()}},
	{"grpc-web-http1", h1Client, []connect.ClientOption{connect.WithGRPCWeb()}},
	{"grpc-web-h2c", h2cClient, []connect.ClientOption{connect.WithGRPCWeb()}},
}

// signUp registers email with the password "correct horse" and logs in.
func signUp(t *testing.T, c authv1connect.AuthServiceClient, email string) *authv1.LoginResponse {
	t.Helper()
	if _, err := c.Register(t.Context(), &authv1.RegisterRequest{Email: email, Password: "correct horse"}); err != nil {
		t.Fatalf("Register(%q): %v", email, err)
	}
	login, err := c.Login(t.Context(), &authv1.LoginRequest{Email: email, Password: "correct horse"})
	if err != nil {
		t.Fatalf("Login(%q): %v", email, err)
	}
	return login
}

// forge returns tok with its first character changed: same shape, another
// token.
func forge(tok string) string {
	if tok[0] == 'A' {
		return "B" + tok[1:]
	}
	return "A" + tok[1:]
}

// bearer returns a context whose calls send the access token.
func bearer(ctx context.Context, token string) context.Context {
	return header(ctx, "Authorization", "Bearer "+token)
}

// header returns a context whose calls send the given header pairs.
func header(ctx context.Context, kv ...string) context.Context {
	ctx, call := connect.NewClientContext(ctx)
	for i := 0; i+1 < len(kv); i += 2 {
		call.RequestHeader().Set(kv[i], kv[i+1])
	}
	return ctx
}

func wantCode(t *testing.T, call string, err error, want connect.Code) {
	t.Helper()
	if got := connect.CodeOf(err); err == nil || got != want {
		t.Errorf("%s code = %v (err %v), want %v", call, got, err, want)
	}
}

func TestJourneyInEveryProtocol(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		t.Parallel()
		env := testEnv(t)
		env["AUTH_DATABASE_URL"] = dbURL
		in := start(t, env)
		for i, p := range protocols {
			t.Run(p.name, func(t *testing.T) {
				ctx := t.Context()
				c := authv1connect.NewAuthServiceClient(p.client, in.url, p.opts...)
				email := fmt.Sprintf("User%d@Example.com", i)

				reg, err := c.Register(ctx, &authv1.RegisterRequest{Email: email, Password: "correct horse"})
				if err != nil {
					t.Fatalf("Register: %v", err)
				}
				if got, want := reg.GetUser().GetEmail(), strings.ToLower(email); got != want {
					t.Errorf("Register email = %q, want %q", got, want)
				}
				_, err = c.Register(ctx, &authv1.RegisterRequest{Email: strings.ToUpper(email), Password: "correct horse"})
				wantCode(t, "Register(taken)", err, connect.CodeAlreadyExists)
				_, err = c.Register(ctx, &authv1.RegisterRequest{Email: "not-an-email", Password: "correct horse"})
				wantCode(t, "Register(bad email)", err, connect.CodeInvalidArgument)

				_, err = c.Login(ctx, &authv1.LoginRequest{Email: email, Password: "wrong horse"})
				wantCode(t, "Login(wrong password)", err, connect.CodeUnauthenticated)
				login, err := c.Login(ctx, &authv1.LoginRequest{Email: email, Password: "correct horse"})
				if err != nil {
					t.Fatalf("Login: %v", err)
				}
				// exp has whole seconds, so up to a second of the 900 is gone.
				if n := login.GetExpiresIn(); n < 899 || n > 900 || login.GetTokenType() != "Bearer" || login.GetRefreshToken() == "" {
					t.Errorf("Login = expires_in %d, token_type %q; want 899..900, Bearer and a refresh token", login.GetExpiresIn(), login.GetTokenType())
				}

				me, err := c.Me(bearer(ctx, login.GetAccessToken()), &authv1.MeRequest{})
				if err != nil {
					t.Fatalf("Me: %v", err)
				}
				if me.GetUser().GetId() != reg.GetUser().GetId() {
					t.Errorf("Me id = %q, want %q", me.GetUser().GetId(), reg.GetUser().GetId())
				}
				_, err = c.Me(ctx, &authv1.MeRequest{})
				wantCode(t, "Me(no token)", err, connect.CodeUnauthenticated)

				list, err := c.ListSessions(bearer(ctx, login.GetAccessToken()), &authv1.ListSessionsRequest{})
				if err != nil {
					t.Fatalf("ListSessions: %v", err)
				}
				if n := len(list.GetSessions()); n != 1 || !list.GetSessions()[0].GetCurrent() {
					t.Errorf("ListSessions = %d sessions, want 1 current", n)
				}

				ref, err := c.Refresh(ctx, &authv1.RefreshRequest{RefreshToken: login.GetRefreshToken()})
				if err != nil {
					t.Fatalf("Refresh: %v", err)
				}
				if _, err := c.Me(bearer(ctx, ref.GetAccessToken()), &authv1.MeRequest{}); err != nil {
					t.Errorf("Me(refreshed token): %v", err)
				}

				_, err = c.ChangePassword(bearer(ctx, ref.GetAccessToken()), &authv1.ChangePasswordRequest{CurrentPassword: "correct horse", NewPassword: "battery staple"})
				if err != nil {
					t.Fatalf("ChangePassword: %v", err)
				}
				_, err = c.Logout(bearer(ctx, ref.GetAccessToken()), &authv1.LogoutRequest{})
				if err != nil {
					t.Fatalf("Logout: %v", err)
				}
				_, err = c.Me(bearer(ctx, ref.GetAccessToken()), &authv1.MeRequest{})
				wantCode(t, "Me(after logout)", err, connect.CodeUnauthenticated)
				_, err = c.Refresh(ctx, &authv1.RefreshRequest{RefreshToken: ref.GetRefreshToken()})
				wantCode(t, "Refresh(after logout)", err, connect.CodeUnauthenticated)
				if _, err := c.Login(ctx, &authv1.LoginRequest{Email: email, Password: "battery staple"}); err != nil {
					t.Errorf("Login(new password): %v", err)
				}
			})
		}
	})
}

func TestGRPCClient(t *testing.T) {
	t.Parallel()
	in := start(t, testEnv(t))
	conn, err := grpc.NewClient(in.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx := t.Context()

	reg := new(authv1.RegisterResponse)
	if err := conn.Invoke(ctx, authv1connect.AuthServiceRegisterProcedure, &authv1.RegisterRequest{Email: "grpc@example.com", Password: "correct horse"}, reg); err != nil {
		t.Fatalf("Register: %v", err)
	}
	err = conn.Invoke(ctx, authv1connect.AuthServiceRegisterProcedure, &authv1.RegisterRequest{Email: "GRPC@example.com", Password: "correct horse"}, new(authv1.RegisterResponse))
	if status.Code(err) != codes.AlreadyExists {
		t.Errorf("Register(taken) = %v, want AlreadyExists", err)
	}
	login := new(authv1.LoginResponse)
	if err := conn.Invoke(ctx, authv1connect.AuthServiceLoginProcedure, &authv1.LoginRequest{Email: "grpc@example.com", Password: "correct horse"}, login); err != nil {
		t.Fatalf("Login: %v", err)
	}
	me := new(authv1.MeResponse)
	mctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+login.GetAccessToken())
	if err := conn.Invoke(mctx, authv1connect.AuthServiceMeProcedure, &authv1.MeRequest{}, me); err != nil {
		t.Fatalf("Me: %v", err)
	}
	if me.GetUser().GetEmail() != "grpc@example.com" {
		t.Errorf("Me email = %q, want grpc@example.com", me.GetUser().GetEmail())
	}
	err = conn.Invoke(ctx, authv1connect.AuthServiceMeProcedure, &authv1.MeRequest{}, new(authv1.MeResponse))
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("Me(no token) = %v, want Unauthenticated", err)
	}

	hc, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: authv1connect.AuthServiceName})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health Check = %v, %v; want SERVING", hc.GetStatus(), err)
	}

	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatalf("reflection: %v", err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatalf("reflection send: %v", err)
	}
	res, err := stream.Recv()
	if err != nil {
		t.Fatalf("reflection recv: %v", err)
	}
	var names []string
	for _, s := range res.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !strings.Contains(strings.Join(names, ","), authv1connect.AuthServiceName) {
		t.Errorf("reflection services = %v, want %s among them", names, authv1connect.AuthServiceName)
	}
}

// postJSON sends a Connect unary JSON request the way curl does.
func postJSON(t *testing.T, base, procedure, body, bearer string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+procedure, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", procedure, err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("POST %s: decoding body: %v", procedure, err)
	}
	return res.StatusCode, out
}

func TestRawJSON(t *testing.T) {
	t.Parallel()
	in := start(t, testEnv(t))
	const reg = "/auth.v1.AuthService/Register"
	status, body := postJSON(t, in.url, reg, `{"email":"json@example.com","password":"correct horse"}`, "")
	if status != 200 || body["user"].(map[string]any)["email"] != "json@example.com" {
		t.Fatalf("Register = %d %v, want 200 and the user", status, body)
	}
	tests := []struct {
		name, procedure, body string
		wantStatus            int
		wantCode              string
	}{
		{"taken email", reg, `{"email":"JSON@example.com","password":"correct horse"}`, 409, "already_exists"},
		{"short password", reg, `{"email":"x@example.com","password":"short"}`, 400, "invalid_argument"},
		{"malformed json", reg, `{"email":`, 400, "invalid_argument"},
		{"unknown field", reg, `{"mail":"x@example.com"}`, 400, "invalid_argument"},
		{"wrong password", "/auth.v1.AuthService/Login", `{"email":"json@example.com","password":"wrong horse"}`, 401, "unauthenticated"},
		{"unknown email", "/auth.v1.AuthService/Login", `{"email":"nobody@example.com","password":"wrong horse"}`, 401, "unauthenticated"},
		{"no token", "/auth.v1.AuthService/Me", `{}`, 401, "unauthenticated"},
		{"unknown procedure", "/auth.v1.AuthService/Nope", `{}`, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, in.url+tt.procedure, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.wantStatus {
				t.Errorf("POST %s status = %d, want %d (body %s)", tt.procedure, res.StatusCode, tt.wantStatus, raw)
			}
			if tt.wantCode == "" {
				return
			}
			var e struct{ Code, Message string }
			if err := json.Unmarshal(raw, &e); err != nil || e.Code != tt.wantCode {
				t.Errorf("POST %s body = %s, want code %q", tt.procedure, raw, tt.wantCode)
			}
			if strings.Contains(string(raw), "correct horse") || strings.Contains(string(raw), "wrong horse") {
				t.Errorf("error body %s echoes the password", raw)
			}
		})
	}
	t.Run("enumeration parity", func(t *testing.T) {
		t.Parallel()
		_, a := postJSON(t, in.url, "/auth.v1.AuthService/Login", `{"email":"json@example.com","password":"wrong horse"}`, "")
		_, b := postJSON(t, in.url, "/auth.v1.AuthService/Login", `{"email":"nobody@example.com","password":"wrong horse"}`, "")
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("wrong password answer %v differs from unknown email answer %v", a, b)
		}
	})
	t.Run("login, me by GET, refresh, logout", func(t *testing.T) {
		t.Parallel()
		status, login := postJSON(t, in.url, "/auth.v1.AuthService/Login", `{"email":"json@example.com","password":"correct horse"}`, "")
		if status != 200 {
			t.Fatalf("Login = %d %v", status, login)
		}
		for _, k := range []string{"accessToken", "refreshToken", "expiresIn", "user"} {
			if _, ok := login[k]; !ok {
				t.Errorf("Login JSON has no %q: %v", k, login)
			}
		}
		at := login["accessToken"].(string)
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, in.url+"/auth.v1.AuthService/Me?encoding=json&message=%7B%7D", nil)
		req.Header.Set("Authorization", "Bearer "+at)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(raw), `"json@example.com"`) {
			t.Errorf("GET Me = %d %s, want 200 with the user", res.StatusCode, raw)
		}
		status, ref := postJSON(t, in.url, "/auth.v1.AuthService/Refresh", fmt.Sprintf(`{"refreshToken":%q}`, login["refreshToken"]), "")
		if status != 200 || ref["refreshToken"] == login["refreshToken"] {
			t.Fatalf("Refresh = %d %v, want 200 and a new refresh token", status, ref)
		}
		status, out := postJSON(t, in.url, "/auth.v1.AuthService/Logout", fmt.Sprintf(`{"refreshToken":%q}`, ref["refreshToken"]), "")
		if status != 200 {
			t.Errorf("Logout = %d %v, want 200", status, out)
		}
	})
}

func TestJWKSAndTokenChecks(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	in := start(t, env)
	c := authv1connect.NewAuthServiceClient(h1Client, in.url)
	login := signUp(t, c, "jwt@example.com")
	at := login.GetAccessToken()

	res, err := http.Get(in.url + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct{ Kty, Crv, X, Kid, Alg, Use string }
	}
	err = json.NewDecoder(res.Body).Decode(&set)
	res.Body.Close()
	if err != nil || len(set.Keys) == 0 {
		t.Fatalf("JWKS: %v, %d keys", err, len(set.Keys))
	}
	pub, err := base64.RawURLEncoding.DecodeString(set.Keys[0].X)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.Parse(at, func(*jwt.Token) (any, error) { return ed25519.PublicKey(pub), nil },
		jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithIssuer("authsvc"), jwt.WithAudience("authgw"), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("access token does not verify with the JWKS key: %v", err)
	}
	if parsed.Header["kid"] != set.Keys[0].Kid || parsed.Header["typ"] != "at+jwt" {
		t.Errorf("token header %v, want kid %q and typ at+jwt", parsed.Header, set.Keys[0].Kid)
	}

	parts := strings.Split(at, ".")
	_, foreign, _ := ed25519.GenerateKey(rand.Reader)
	foreignTok, _, err := token.NewIssuer(token.NewKey(foreign), nil, token.Options{Issuer: "authsvc", Audience: "authgw", TTL: time.Minute}).
		Issue(token.Subject{UserID: parsed.Claims.(jwt.MapClaims)["sub"].(string), SessionID: "x", Email: "jwt@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"` + set.Keys[0].Kid + `"}`))
	forged := map[string]string{
		"garbage":          "not-a-jwt",
		"alg none":         noneHeader + "." + parts[1] + ".",
		"tampered payload": parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"someone-else"}`)) + "." + parts[2],
		"foreign key":      foreignTok,
		"basic scheme":     "",
	}
	for name, tok := range forged {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := bearer(t.Context(), tok)
			if tok == "" {
				ctx = header(t.Context(), "Authorization", "Basic "+at)
			}
			_, err := c.Me(ctx, &authv1.MeRequest{})
			wantCode(t, "Me("+name+")", err, connect.CodeUnauthenticated)
		})
	}
	t.Run("identity headers are not trusted", func(t *testing.T) {
		t.Parallel()
		ctx, call := connect.NewClientContext(t.Context())
		call.RequestHeader().Set("X-User-Id", parsed.Claims.(jwt.MapClaims)["sub"].(string))
		call.RequestHeader().Set("X-User-Roles", "admin")
		_, err := c.Me(ctx, &authv1.MeRequest{})
		wantCode(t, "Me(identity headers only)", err, connect.CodeUnauthenticated)
	})
}

func TestExpiredAccessToken(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["AUTH_ACCESS_TOKEN_TTL"] = "1s"
	in := start(t, env)
	c := authv1connect.NewAuthServiceClient(h1Client, in.url)
	ctx := t.Context()
	login := signUp(t, c, "exp@example.com")
	// 1s lifetime plus the 5s verification leeway.
	time.Sleep(time.Duration(login.GetExpiresIn())*time.Second + token.DefaultLeeway + time.Second)
	_, err := c.Me(bearer(ctx, login.GetAccessToken()), &authv1.MeRequest{})
	wantCode(t, "Me(expired token)", err, connect.CodeUnauthenticated)
	ref, err := c.Refresh(ctx, &authv1.RefreshRequest{RefreshToken: login.GetRefreshToken()})
	if err != nil {
		t.Fatalf("Refresh after expiry: %v", err)
	}
	if _, err := c.Me(bearer(ctx, ref.GetAccessToken()), &authv1.MeRequest{}); err != nil {
		t.Errorf("Me(refreshed token): %v", err)
	}
}

func TestConcurrentRegistrationOverTheWire(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		t.Parallel()
		env := testEnv(t)
		env["AUTH_DATABASE_URL"] = dbURL
		in := start(t, env)
		c := authv1connect.NewAuthServiceClient(h2cClient, in.url, connect.WithGRPC())
		codesSeen := make([]connect.Code, 20)
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				email := []string{"race@example.com", "RACE@EXAMPLE.COM", "Race@Example.Com", " race@example.COM "}[i%4]
				_, err := c.Register(context.Background(), &authv1.RegisterRequest{Email: email, Password: "correct horse"})
				codesSeen[i] = connect.CodeOf(err)
				if err == nil {
					codesSeen[i] = 0
				}
			})
		}
		wg.Wait()
		created := 0
		for i, code := range codesSeen {
			switch code {
			case 0:
				created++
			case connect.CodeAlreadyExists:
			default:
				t.Errorf("Register #%d code = %v, want ok or already_exists", i, code)
			}
		}
		if created != 1 {
			t.Errorf("%d registrations succeeded, want exactly 1", created)
		}
	})
}

func TestDataAndKeySurviveRestart(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	first := start(t, env)
	c := authv1connect.NewAuthServiceClient(h1Client, first.url)
	ctx := t.Context()
	login := signUp(t, c, "keep@example.com")
	first.shutdown(t)
	if !strings.Contains(first.logs.String(), `"msg":"stopped"`) {
		t.Errorf("no stopped line in the logs of a clean shutdown")
	}

	second := start(t, env)
	c = authv1connect.NewAuthServiceClient(h1Client, second.url)
	if _, err := c.Me(bearer(ctx, login.GetAccessToken()), &authv1.MeRequest{}); err != nil {
		t.Errorf("Me(token from before the restart): %v", err)
	}
	if _, err := c.Refresh(ctx, &authv1.RefreshRequest{RefreshToken: login.GetRefreshToken()}); err != nil {
		t.Errorf("Refresh(token from before the restart): %v", err)
	}
}

func TestShutdownLetsInFlightCallsFinish(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	// Slow hashing, so the call is still running when the signal comes.
	env["AUTH_ARGON2_MEMORY_KIB"] = "65536"
	env["AUTH_ARGON2_ITERATIONS"] = "6"
	in := start(t, env)
	c := authv1connect.NewAuthServiceClient(h2cClient, in.url, connect.WithGRPC())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Register(context.Background(), &authv1.RegisterRequest{Email: "late@example.com", Password: "correct horse"})
		errc <- err
	}()
	// Shut down only once the call is being handled.
	for !strings.Contains(scrapeMetrics(t, in.admin), "authsvc_rpc_in_flight 1") {
		time.Sleep(5 * time.Millisecond)
	}
	in.shutdown(t)
	if err := <-errc; err != nil {
		t.Errorf("in-flight Register during shutdown: %v", err)
	}
	if _, err := c.Register(context.Background(), &authv1.RegisterRequest{Email: "later@example.com", Password: "correct horse"}); err == nil {
		t.Errorf("Register after shutdown succeeded, want an error")
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, key, value string }{
		{"bad duration", "AUTH_ACCESS_TOKEN_TTL", "soon"},
		{"bad concurrency", "AUTH_HASH_CONCURRENCY", "0"},
		{"bad log level", "AUTH_LOG_LEVEL", "loud"},
		{"bad database url", "AUTH_DATABASE_URL", "mysql://localhost/x"},
		{"missing key file", "AUTH_SIGNING_KEY_FILE", "/nonexistent/key.pem"},
		{"weak argon2", "AUTH_ARGON2_MEMORY_KIB", "1"},
		{"idle longer than absolute", "AUTH_REFRESH_IDLE_TTL", "1000h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := testEnv(t)
			env[tt.key] = tt.value
			err := run(t.Context(), []string{"authsvc"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.key) {
				t.Errorf("run with %s=%q = %v, want an error naming %s", tt.key, tt.value, err, tt.key)
			}
		})
	}
}

func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	var logs bytes.Buffer
	if err := run(t.Context(), []string{"authsvc", "migrate"}, func(k string) string { return env[k] }, io.Discard, &logs); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if !strings.Contains(logs.String(), `"migrations_applied":1`) {
		t.Errorf("migrate logs = %s, want one migration applied", logs.String())
	}
	logs.Reset()
	if err := run(t.Context(), []string{"authsvc", "migrate"}, func(k string) string { return env[k] }, io.Discard, &logs); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	if !strings.Contains(logs.String(), `"migrations_applied":0`) {
		t.Errorf("second migrate logs = %s, want none applied", logs.String())
	}
	if err := run(t.Context(), []string{"authsvc", "frobnicate"}, func(k string) string { return env[k] }, io.Discard, io.Discard); err == nil {
		t.Errorf("run(frobnicate) = nil, want an unknown command error")
	}
}

// tcpProxy stands between the service and PostgreSQL so a test can cut
// the database off and bring it back on the same address.
type tcpProxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        []net.Conn
}

func (p *tcpProxy) up(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
}

func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestDatabaseDownAndBack(t *testing.T) {
	t.Parallel()
	if dbtest.PostgresURL() == "" {
		t.Skipf("%s not set: the outage test needs PostgreSQL", dbtest.EnvPostgres)
	}
	dbURL := dbtest.Postgres(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &tcpProxy{addr: "127.0.0.1:0", target: u.Host}
	proxy.up(t)
	t.Cleanup(proxy.down)
	u.Host = proxy.addr
	env := testEnv(t)
	env["AUTH_DATABASE_URL"] = u.String()
	in := start(t, env)
	c := authv1connect.NewAuthServiceClient(h1Client, in.url)
	ctx := t.Context()
	if _, err := c.Register(ctx, &authv1.RegisterRequest{Email: "db@example.com", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}

	proxy.down()
	begin := time.Now()
	_, err = c.Login(ctx, &authv1.LoginRequest{Email: "db@example.com", Password: "correct horse"})
	wantCode(t, "Login(database down)", err, connect.CodeUnavailable)
	if d := time.Since(begin); d > 10*time.Second {
		t.Errorf("Login(database down) took %v, want a prompt answer", d)
	}
	conn, err := grpc.NewClient(in.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health while database down = %v, %v; want NOT_SERVING", hc.GetStatus(), err)
	}

	proxy.up(t)
	var lastErr error
	for range 50 {
		if _, lastErr = c.Login(ctx, &authv1.LoginRequest{Email: "db@example.com", Password: "correct horse"}); lastErr == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if lastErr != nil {
		t.Errorf("Login after the database returned: %v, want recovery", lastErr)
	}
}

func scrapeMetrics(t *testing.T, addr string) string {
	t.Helper()
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return string(raw)
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	in := start(t, testEnv(t))
	c := authv1connect.NewAuthServiceClient(h1Client, in.url)
	if _, err := c.Register(t.Context(), &authv1.RegisterRequest{Email: "m@example.com", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Login(t.Context(), &authv1.LoginRequest{Email: "m@example.com", Password: "wrong horse"})
	wantCode(t, "Login(wrong password)", err, connect.CodeUnauthenticated)

	raw := scrapeMetrics(t, in.admin)
	for _, want := range []string{
		`authsvc_rpc_requests_total{code="ok",procedure="/auth.v1.AuthService/Register",protocol="connect"} 1`,
		`authsvc_rpc_requests_total{code="unauthenticated",procedure="/auth.v1.AuthService/Login",protocol="connect"} 1`,
		`authsvc_rpc_duration_seconds_count{code="ok",procedure="/auth.v1.AuthService/Register",protocol="connect"} 1`,
		`authsvc_password_hash_queue_depth 0`,
		`authsvc_password_hash_rejected_total 0`,
		`go_sql_open_connections{db_name="authsvc"}`,
	} {
		if !strings.Contains(raw, want) {
			t.Errorf("/metrics has no %q", want)
		}
	}
}

func TestHashingCapacityFullIsResourceExhausted(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["AUTH_ARGON2_MEMORY_KIB"] = "32768"
	env["AUTH_ARGON2_ITERATIONS"] = "4"
	env["AUTH_HASH_CONCURRENCY"] = "1"
	env["AUTH_HASH_MAX_WAIT"] = "1ms"
	in := start(t, env)
	c := authv1connect.NewAuthServiceClient(h2cClient, in.url, connect.WithGRPC())
	const n = 6
	codesSeen := make([]connect.Code, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := c.Register(context.Background(), &authv1.RegisterRequest{Email: fmt.Sprintf("busy%d@example.com", i), Password: "correct horse"})
			codesSeen[i] = connect.CodeOf(err)
			if err == nil {
				codesSeen[i] = 0
			}
		})
	}
	wg.Wait()
	ok, exhausted := 0, 0
	for i, code := range codesSeen {
		switch code {
		case 0:
			ok++
		case connect.CodeResourceExhausted:
			exhausted++
		default:
			t.Errorf("Register #%d code = %v, want ok or resource_exhausted", i, code)
		}
	}
	if ok == 0 || exhausted == 0 {
		t.Errorf("%d ok and %d resource_exhausted of %d concurrent registrations with one hashing slot, want some of each", ok, exhausted, n)
	}
	if want := fmt.Sprintf("authsvc_password_hash_rejected_total %d", exhausted); !strings.Contains(scrapeMetrics(t, in.admin), want) {
		t.Errorf("/metrics has no %q", want)
	}
}

func TestHealthcheckCommand(t *testing.T) {
	t.Parallel()
	in := start(t, testEnv(t))
	env := map[string]string{"AUTH_ADMIN_ADDR": in.admin}
	if err := run(t.Context(), []string{"authsvc", "healthcheck"}, func(k string) string { return env[k] }, io.Discard, io.Discard); err != nil {
		t.Errorf("healthcheck of a running service = %v, want nil", err)
	}
	in.shutdown(t)
	if err := run(t.Context(), []string{"authsvc", "healthcheck"}, func(k string) string { return env[k] }, io.Discard, io.Discard); err == nil {
		t.Errorf("healthcheck of a stopped service = nil, want an error")
	}
}

// TestLogsHoldNoSecrets runs a whole journey and scans every log line for
// the password, the tokens and the Authorization header.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	in := start(t, testEnv(t))
	c := authv1connect.NewAuthServiceClient(h1Client, in.url)
	ctx := header(t.Context(), "X-Request-Id", "journey-42")
	const pw, pw2 = "S3cret-Passw0rd!", "An0ther-Secret!"
	if _, err := c.Register(ctx, &authv1.RegisterRequest{Email: "logs@example.com", Password: pw}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Login(ctx, &authv1.LoginRequest{Email: "logs@example.com", Password: pw2})
	wantCode(t, "Login(wrong password)", err, connect.CodeUnauthenticated)
	login, err := c.Login(ctx, &authv1.LoginRequest{Email: "logs@example.com", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := c.Refresh(ctx, &authv1.RefreshRequest{RefreshToken: login.GetRefreshToken()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Refresh(ctx, &authv1.RefreshRequest{RefreshToken: forge(login.GetRefreshToken())})
	wantCode(t, "Refresh(forged)", err, connect.CodeUnauthenticated)
	authed := header(t.Context(), "X-Request-Id", "journey-42", "Authorization", "Bearer "+ref.GetAccessToken())
	if _, err := c.ChangePassword(authed, &authv1.ChangePasswordRequest{CurrentPassword: pw, NewPassword: pw2}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logout(authed, &authv1.LogoutRequest{RefreshToken: ref.GetRefreshToken()}); err != nil {
		t.Fatal(err)
	}
	logs := in.logs.String()
	for name, secret := range map[string]string{
		"password": pw, "new password": pw2,
		"access token": login.GetAccessToken(), "refreshed access token": ref.GetAccessToken(),
		"refresh token": login.GetRefreshToken(), "rotated refresh token": ref.GetRefreshToken(),
		"signature of the access token": login.GetAccessToken()[strings.LastIndexByte(login.GetAccessToken(), '.')+1:],
		"authorization header":          "Bearer ",
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain the %s", name)
		}
	}
	rpcLines := 0
	for line := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(line, `"msg":"rpc"`) {
			rpcLines++
			if !strings.Contains(line, `"request_id":"journey-42"`) {
				t.Errorf("rpc log line without the request id: %s", line)
			}
		}
	}
	if rpcLines != 7 {
		t.Errorf("%d rpc log lines, want 7 (one per call)", rpcLines)
	}
}

func TestHealthNotServingWhileDraining(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["AUTH_DRAIN_DELAY"] = "3s" // ample for the checks below on a loaded machine
	in := start(t, env)
	conn, err := grpc.NewClient(in.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	if hc, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health before shutdown = %v, %v; want SERVING", hc.GetStatus(), err)
	}

	in.stop() // the signal; run drains, then shuts down
	deadline := time.Now().Add(time.Second)
	for {
		hc, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{})
		if err == nil && hc.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health after the signal = %v, %v; want NOT_SERVING while draining", hc.GetStatus(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c := authv1connect.NewAuthServiceClient(h2cClient, in.url, connect.WithGRPC())
	if _, err := c.Register(t.Context(), &authv1.RegisterRequest{Email: "drain@example.com", Password: "correct horse"}); err != nil {
		t.Errorf("Register while draining: %v, want it served", err)
	}
	in.shutdown(t)
}

func TestSigningKeyRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keyFile := func(name string) string {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pem, err := token.MarshalPrivateKeyPEM(priv)
		if err != nil {
			t.Fatal(err)
		}
		path := dir + "/" + name
		if err := os.WriteFile(path, pem, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	oldKey, newKey := keyFile("old.pem"), keyFile("new.pem")
	env := testEnv(t)
	env["AUTH_SIGNING_KEY_FILE"] = oldKey
	first := start(t, env)
	login := signUp(t, authv1connect.NewAuthServiceClient(h1Client, first.url), "rotate@example.com")
	first.shutdown(t)

	env["AUTH_SIGNING_KEY_FILE"] = newKey
	env["AUTH_PREVIOUS_KEY_FILES"] = oldKey
	second := start(t, env)
	c := authv1connect.NewAuthServiceClient(h1Client, second.url)
	if _, err := c.Me(bearer(t.Context(), login.GetAccessToken()), &authv1.MeRequest{}); err != nil {
		t.Errorf("Me(token signed by the previous key): %v", err)
	}
	fresh, err := c.Login(t.Context(), &authv1.LoginRequest{Email: "rotate@example.com", Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	kid := func(tok string) string {
		h, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
		var v struct{ Kid string }
		_ = json.Unmarshal(h, &v)
		return v.Kid
	}
	res, err := http.Get(second.url + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var set struct{ Keys []struct{ Kid string } }
	err = json.NewDecoder(res.Body).Decode(&set)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 || set.Keys[0].Kid != kid(fresh.GetAccessToken()) || set.Keys[1].Kid != kid(login.GetAccessToken()) {
		t.Errorf("JWKS kids = %v, want [new %s, previous %s]", set.Keys, kid(fresh.GetAccessToken()), kid(login.GetAccessToken()))
	}
}
