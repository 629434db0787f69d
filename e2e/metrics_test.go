package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	authv1 "github.com/acme/authgw/gen/auth/v1"
	"github.com/acme/authgw/gen/auth/v1/authv1connect"
)

func scrape(t *testing.T, addr string) string {
	t.Helper()
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET %s/metrics: %v", addr, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return string(raw)
}

// TestMetricsOfBothServices checks the Prometheus metrics of both
// programs after real calls, and the gateway's upstream error counter
// once the auth service is gone.
func TestMetricsOfBothServices(t *testing.T) {
	s := startStack(t, nil)
	c := authv1connect.NewAuthServiceClient(h2cClient, s.url, connect.WithGRPC())
	if _, err := c.Register(t.Context(), &authv1.RegisterRequest{Email: "metrics@example.com", Password: "correct horse"}); err != nil {
		t.Fatalf("Register: %v", err)
	}
	_, err := c.Me(t.Context(), &authv1.MeRequest{})
	wantCode(t, "Me(no token)", err, connect.CodeUnauthenticated)

	gw := scrape(t, s.gateway.admin)
	for _, want := range []string{
		`gateway_requests_total{code="ok",procedure="/auth.v1.AuthService/Register",protocol="grpc"} 1`,
		`gateway_requests_total{code="unauthenticated",procedure="/auth.v1.AuthService/Me",protocol="grpc"} 1`,
		`gateway_request_duration_seconds_count{code="ok",procedure="/auth.v1.AuthService/Register",protocol="grpc"} 1`,
	} {
		if !strings.Contains(gw, want) {
			t.Errorf("gateway /metrics has no %q", want)
		}
	}
	auth := scrape(t, s.auth.admin)
	if want := `authsvc_rpc_requests_total{code="ok",procedure="/auth.v1.AuthService/Register",protocol="grpc"} 1`; !strings.Contains(auth, want) {
		t.Errorf("authsvc /metrics has no %q", want)
	}

	s.auth.stop(t)
	_, err = c.Register(t.Context(), &authv1.RegisterRequest{Email: "gone@example.com", Password: "correct horse"})
	wantCode(t, "Register(auth service stopped)", err, connect.CodeUnavailable)
	if want := `gateway_upstream_errors_total{code="unavailable",upstream="auth"} 1`; !strings.Contains(scrape(t, s.gateway.admin), want) {
		t.Errorf("gateway /metrics has no %q", want)
	}
}
