package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	authv1 "github.com/acme/authgw/gen/auth/v1"
	"github.com/acme/authgw/gen/auth/v1/authv1connect"
)

var (
	h1Client  = &http.Client{Transport: &http.Transport{}}
	h2cClient = &http.Client{Transport: &http.Transport{Protocols: h2cOnly()}}
)

func h2cOnly() *http.Protocols {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &p
}

// headers returns a context whose calls send the given header pairs.
func headers(ctx context.Context, kv ...string) context.Context {
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

// TestJourneyThroughTheGateway drives the real auth service through the
// real gateway in each protocol, then checks both programs' logs: the
// request id on every line of the journey, and no password or token
// anywhere.
func TestJourneyThroughTheGateway(t *testing.T) {
	s := startStack(t, nil)
	protocols := []struct {
		name   string
		client *http.Client
		opts   []connect.ClientOption
	}{
		{"connect-json-http1", h1Client, []connect.ClientOption{connect.WithProtoJSON()}},
		{"grpc-h2c", h2cClient, []connect.ClientOption{connect.WithGRPC()}},
		{"grpc-web-http1", h1Client, []connect.ClientOption{connect.WithGRPCWeb()}},
	}
	var secrets []string
	for i, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			c := authv1connect.NewAuthServiceClient(p.client, s.url, p.opts...)
			rid := fmt.Sprintf("journey-%d", i)
			ctx := headers(t.Context(), "X-Request-Id", rid)
			email := fmt.Sprintf("gw%d@example.com", i)
			pw := fmt.Sprintf("Secret-Pass-%d!", i)
			secrets = append(secrets, pw)

			if _, err := c.Register(ctx, &authv1.RegisterRequest{Email: email, Password: pw}); err != nil {
				t.Fatalf("Register: %v", err)
			}
			_, err := c.Login(ctx, &authv1.LoginRequest{Email: email, Password: "not-" + pw})
			wantCode(t, "Login(wrong password)", err, connect.CodeUnauthenticated)
			login, err := c.Login(ctx, &authv1.LoginRequest{Email: email, Password: pw})
			if err != nil {
				t.Fatalf("Login: %v", err)
			}
			secrets = append(secrets, login.GetAccessToken(), login.GetRefreshToken())
			authed := headers(t.Context(), "X-Request-Id", rid, "Authorization", "Bearer "+login.GetAccessToken())

			me, err := c.Me(authed, &authv1.MeRequest{})
			if err != nil {
				t.Fatalf("Me: %v", err)
			}
			if me.GetUser().GetEmail() != email {
				t.Errorf("Me email = %q, want %q", me.GetUser().GetEmail(), email)
			}
			// The gateway strips identity headers and checks the token
			// first; the service would refuse them anyway.
			spoofed := headers(t.Context(), "X-Request-Id", rid, "X-User-Id", me.GetUser().GetId(), "X-User-Roles", "admin")
			_, err = c.Me(spoofed, &authv1.MeRequest{})
			wantCode(t, "Me(identity headers, no token)", err, connect.CodeUnauthenticated)

			list, err := c.ListSessions(authed, &authv1.ListSessionsRequest{})
			if err != nil || len(list.GetSessions()) != 1 {
				t.Fatalf("ListSessions = %v, %v; want one session", list, err)
			}
			ref, err := c.Refresh(ctx, &authv1.RefreshRequest{RefreshToken: login.GetRefreshToken()})
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			secrets = append(secrets, ref.GetAccessToken(), ref.GetRefreshToken())
			if _, err := c.Logout(ctx, &authv1.LogoutRequest{RefreshToken: ref.GetRefreshToken()}); err != nil {
				t.Fatalf("Logout: %v", err)
			}
			_, err = c.Refresh(ctx, &authv1.RefreshRequest{RefreshToken: ref.GetRefreshToken()})
			wantCode(t, "Refresh(after logout)", err, connect.CodeUnauthenticated)
		})
	}
	s.auth.stop(t)
	s.gateway.stop(t)

	for _, p := range []*process{s.auth, s.gateway} {
		logs := p.logs.String()
		for _, secret := range secrets {
			if strings.Contains(logs, secret) {
				t.Errorf("%s logs contain a password or token", p.name)
			}
		}
		if strings.Contains(strings.ToLower(logs), "bearer ") {
			t.Errorf("%s logs contain an Authorization header", p.name)
		}
	}
	// Every line either program wrote about a call of the journey names
	// the call's request id.
	for _, p := range []*process{s.auth, s.gateway} {
		calls := 0
		for _, rec := range p.logs.Lines() {
			proc, _ := rec["procedure"].(string)
			if !strings.HasPrefix(proc, "/auth.v1.AuthService/") {
				continue
			}
			calls++
			if rid, _ := rec["request_id"].(string); !strings.HasPrefix(rid, "journey-") {
				t.Errorf("%s log line for %s has request_id %q, want the caller's journey-N: %v", p.name, proc, rid, rec)
			}
		}
		// Register, Login ×2, Me ×2, ListSessions, Refresh ×2, Logout per protocol;
		// the service never sees the spoofed Me.
		want := 9 * len(protocols)
		if p == s.auth {
			want = 8 * len(protocols)
		}
		if calls != want {
			t.Errorf("%s logged %d calls of the journey, want %d", p.name, calls, want)
		}
	}
}
