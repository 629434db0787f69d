package server_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/golang-jwt/jwt/v5"

	authv1 "github.com/acme/authgw/gen/auth/v1"
)

// unsigned builds a token with the given header and claims and signature
// segment, for attacks the jwt library refuses to sign.
func unsigned(t *testing.T, header map[string]any, claims jwt.MapClaims, sig string) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "." + sig
}

func TestJWT(t *testing.T) {
	t.Parallel()
	up, gw := setup(t)
	good := up.token(t, []string{"user"}, nil)
	claims := func() jwt.MapClaims {
		return jwt.MapClaims{
			"iss": "authsvc", "aud": "authgw", "sub": "user-1", "roles": []string{"admin"},
			"exp": time.Now().Add(time.Hour).Unix(),
		}
	}
	_, foreign, _ := ed25519.GenerateKey(rand.Reader)
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"authsvc","aud":"authgw","sub":"admin","roles":["admin"],"exp":9999999999}`)) + "." + parts[2]
	pub := up.key.Public().(ed25519.PublicKey)
	hmacWithPublicKey := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims())
		tok.Header["kid"] = up.kid
		tok.Header["typ"] = "at+jwt"
		s, err := tok.SignedString([]byte(pub))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	foreignKey := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims())
		tok.Header["kid"] = up.kid
		tok.Header["typ"] = "at+jwt"
		s, err := tok.SignedString(foreign)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()

	tests := []struct {
		name  string
		auth  string
		proc  string
		want  connect.Code
		wantU string
	}{
		{name: "valid", auth: "Bearer " + good, want: 0, wantU: "user-1"},
		{name: "valid lower-case scheme", auth: "bearer " + good, want: 0, wantU: "user-1"},
		{name: "missing", auth: "", want: connect.CodeUnauthenticated},
		{name: "not bearer", auth: "Basic dXNlcjpwdw==", want: connect.CodeUnauthenticated},
		{name: "garbage", auth: "Bearer not.a.jwt", want: connect.CodeUnauthenticated},
		{name: "tampered claims", auth: "Bearer " + tampered, want: connect.CodeUnauthenticated},
		{name: "alg none", auth: "Bearer " + unsigned(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": up.kid}, claims(), ""), want: connect.CodeUnauthenticated},
		{name: "alg None", auth: "Bearer " + unsigned(t, map[string]any{"alg": "None", "typ": "at+jwt", "kid": up.kid}, claims(), ""), want: connect.CodeUnauthenticated},
		{name: "alg NONE", auth: "Bearer " + unsigned(t, map[string]any{"alg": "NONE", "typ": "at+jwt", "kid": up.kid}, claims(), ""), want: connect.CodeUnauthenticated},
		{name: "alg nOnE with signature", auth: "Bearer " + unsigned(t, map[string]any{"alg": "nOnE", "typ": "at+jwt", "kid": up.kid}, claims(), parts[2]), want: connect.CodeUnauthenticated},
		{name: "hmac with the public key", auth: "Bearer " + hmacWithPublicKey, want: connect.CodeUnauthenticated},
		{name: "foreign key", auth: "Bearer " + foreignKey, want: connect.CodeUnauthenticated},
		{name: "expired", auth: "Bearer " + up.token(t, nil, func(c jwt.MapClaims, _ map[string]any) {
			c["exp"] = time.Now().Add(-time.Hour).Unix()
		}), want: connect.CodeUnauthenticated},
		{name: "expired within leeway", auth: "Bearer " + up.token(t, nil, func(c jwt.MapClaims, _ map[string]any) {
			c["exp"] = time.Now().Add(-5 * time.Second).Unix()
		}), want: 0, wantU: "user-1"},
		{name: "no exp", auth: "Bearer " + up.token(t, nil, func(c jwt.MapClaims, _ map[string]any) {
			delete(c, "exp")
		}), want: connect.CodeUnauthenticated},
		{name: "not yet valid", auth: "Bearer " + up.token(t, nil, func(c jwt.MapClaims, _ map[string]any) {
			c["nbf"] = time.Now().Add(time.Hour).Unix()
		}), want: connect.CodeUnauthenticated},
		{name: "wrong iss", auth: "Bearer " + up.token(t, nil, func(c jwt.MapClaims, _ map[string]any) {
			c["iss"] = "evil"
		}), want: connect.CodeUnauthenticated},
		{name: "wrong aud", auth: "Bearer " + up.token(t, nil, func(c jwt.MapClaims, _ map[string]any) {
			c["aud"] = "other"
		}), want: connect.CodeUnauthenticated},
		{name: "wrong typ", auth: "Bearer " + up.token(t, nil, func(_ jwt.MapClaims, h map[string]any) {
			h["typ"] = "JWT"
		}), want: connect.CodeUnauthenticated},
		{name: "missing typ", auth: "Bearer " + up.token(t, nil, func(_ jwt.MapClaims, h map[string]any) {
			delete(h, "typ")
		}), want: connect.CodeUnauthenticated},
		{name: "missing kid", auth: "Bearer " + up.token(t, nil, func(_ jwt.MapClaims, h map[string]any) {
			delete(h, "kid")
		}), want: connect.CodeUnauthenticated},
		{name: "unknown kid", auth: "Bearer " + up.token(t, nil, func(_ jwt.MapClaims, h map[string]any) {
			h["kid"] = "nope"
		}), want: connect.CodeUnauthenticated},
		{name: "missing role", auth: "Bearer " + good, proc: "ListSessions", want: connect.CodePermissionDenied},
		{name: "has role", auth: "Bearer " + up.token(t, []string{"user", "admin"}, nil), proc: "ListSessions", want: 0},
	}
	for _, c := range clients(gw) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					ctx, _ := withHeaders(t.Context())
					if tt.auth != "" {
						ctx, _ = withHeaders(t.Context(), "Authorization", tt.auth)
					}
					var err error
					var res *authv1.MeResponse
					if tt.proc == "ListSessions" {
						_, err = c.client.ListSessions(ctx, &authv1.ListSessionsRequest{})
					} else {
						res, err = c.client.Me(ctx, &authv1.MeRequest{})
					}
					if got := connect.CodeOf(err); err != nil && got != tt.want || err == nil && tt.want != 0 {
						t.Fatalf("%s(%s) code = %v, want %v (error %v)", tt.proc, tt.name, got, tt.want, err)
					}
					if tt.wantU != "" && res.GetUser().GetId() != tt.wantU {
						t.Errorf("Me(%s) upstream X-User-Id = %q, want %q", tt.name, res.GetUser().GetId(), tt.wantU)
					}
				})
			}
		})
	}
}

// TestIdentityHeadersStripped sends forged identity headers on public and
// token routes: the upstream only ever sees the gateway's own.
func TestIdentityHeadersStripped(t *testing.T) {
	t.Parallel()
	up, gw := setup(t)
	good := up.token(t, []string{"user"}, nil)
	forged := map[string]string{
		"X-User-Id":       "admin",
		"x-user-roles":    "admin",
		"X-USER-EMAIL":    "root@example.com",
		"X-User-Anything": "1",
	}
	tests := []struct {
		name      string
		path      string
		auth      string
		wantID    string
		wantRoles string
	}{
		{name: "public", path: "/auth.v1.AuthService/Login"},
		{name: "token", path: "/auth.v1.AuthService/Me", auth: "Bearer " + good, wantID: "user-1", wantRoles: "user"},
	}
	for _, tt := range tests {
		for _, h2c := range []bool{false, true} {
			name := tt.name + map[bool]string{false: "/h1", true: "/h2c"}[h2c]
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				id := "spoof-" + strings.ReplaceAll(name, "/", "-")
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, gw+tt.path, strings.NewReader(`{}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Request-Id", id)
				if tt.auth != "" {
					req.Header.Set("Authorization", tt.auth)
				}
				for k, v := range forged {
					req.Header[k] = []string{v} // as sent, not canonicalized
				}
				resp, err := httpClient(h2c).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("POST %s status = %d, want 200", tt.path, resp.StatusCode)
				}
				got := up.headers(t, id)
				for k := range got {
					if strings.HasPrefix(strings.ToLower(k), "x-user-") && k != "X-User-Id" && k != "X-User-Roles" {
						t.Errorf("upstream got %s = %q, want it stripped", k, got[k])
					}
				}
				if v := got.Values("X-User-Id"); strings.Join(v, ",") != tt.wantID {
					t.Errorf("upstream X-User-Id = %q, want %q", v, tt.wantID)
				}
				if v := got.Values("X-User-Roles"); strings.Join(v, ",") != tt.wantRoles {
					t.Errorf("upstream X-User-Roles = %q, want %q", v, tt.wantRoles)
				}
				if v := got.Get("X-Forwarded-For"); v != "127.0.0.1" {
					t.Errorf("upstream X-Forwarded-For = %q, want %q", v, "127.0.0.1")
				}
			})
		}
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	up, gw := setup(t)
	tests := []struct {
		name string
		sent string
		keep bool
	}{
		{"well-formed", "req-123_abc.DEF:9", true},
		{"missing", "", false},
		{"bad characters", "a b<script>", false},
		{"too long", strings.Repeat("a", 129), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, gw+"/auth.v1.AuthService/Login", strings.NewReader(`{}`))
			req.Header.Set("Content-Type", "application/json")
			if tt.sent != "" {
				req.Header.Set("X-Request-Id", tt.sent)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := resp.Header.Get("X-Request-Id")
			if tt.keep && got != tt.sent || !tt.keep && (got == "" || got == tt.sent) {
				t.Errorf("X-Request-Id(%q) = %q, want kept %v", tt.sent, got, tt.keep)
			}
			if h := up.headers(t, got); h.Get("X-Request-Id") != got {
				t.Errorf("upstream X-Request-Id = %q, want %q", h.Get("X-Request-Id"), got)
			}
		})
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	up, gw := setup(t)
	token := up.token(t, nil, nil)
	tests := []struct {
		name       string
		method     string
		origin     string
		reqHeaders string
		auth       bool
		wantAllow  bool
		wantStatus int
	}{
		{name: "preflight allowed", method: http.MethodOptions, origin: testOrigin, reqHeaders: "authorization,connect-protocol-version,content-type,x-request-id", wantAllow: true, wantStatus: http.StatusNoContent},
		{name: "preflight refused origin", method: http.MethodOptions, origin: "https://evil.example.com", reqHeaders: "content-type", wantStatus: http.StatusNoContent},
		{name: "call allowed", method: http.MethodPost, origin: testOrigin, auth: true, wantAllow: true, wantStatus: http.StatusOK},
		{name: "error allowed", method: http.MethodPost, origin: testOrigin, wantAllow: true, wantStatus: http.StatusUnauthorized},
		{name: "call refused origin", method: http.MethodPost, origin: "https://evil.example.com", auth: true, wantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequestWithContext(t.Context(), tt.method, gw+"/auth.v1.AuthService/Me", strings.NewReader(`{}`))
			req.Header.Set("Origin", tt.origin)
			if tt.method == http.MethodOptions {
				req.Header.Set("Access-Control-Request-Method", "POST")
				req.Header.Set("Access-Control-Request-Headers", tt.reqHeaders)
			} else {
				req.Header.Set("Content-Type", "application/json")
			}
			if tt.auth {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("%s status = %d, want %d", tt.method, resp.StatusCode, tt.wantStatus)
			}
			allow := resp.Header.Get("Access-Control-Allow-Origin")
			creds := resp.Header.Get("Access-Control-Allow-Credentials")
			if tt.wantAllow && (allow != tt.origin || creds != "true") || !tt.wantAllow && (allow != "" || creds != "") {
				t.Errorf("Allow-Origin = %q, Allow-Credentials = %q, want allowed %v", allow, creds, tt.wantAllow)
			}
			if tt.wantAllow && tt.method == http.MethodOptions {
				if got := resp.Header.Get("Access-Control-Max-Age"); got != "600" {
					t.Errorf("Access-Control-Max-Age = %q, want 600", got)
				}
				if got := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")); !strings.Contains(got, "authorization") {
					t.Errorf("Access-Control-Allow-Headers = %q, want authorization among them", got)
				}
			}
			if tt.wantAllow && tt.method == http.MethodPost {
				if got := strings.ToLower(resp.Header.Get("Access-Control-Expose-Headers")); !strings.Contains(got, "grpc-status") {
					t.Errorf("Access-Control-Expose-Headers = %q, want grpc-status among them", got)
				}
			}
		})
	}
}
