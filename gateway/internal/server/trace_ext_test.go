package server_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/acme/authgw/gateway/internal/config"
	"github.com/acme/authgw/gateway/internal/server"
)

// TestTracing checks that a request gets a server span continuing the
// caller's trace, and that the upstream is handed the gateway's span as
// parent.
func TestTracing(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(testConfig(up.URL, up.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	gw, err := server.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), tp)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/auth.v1.AuthService/Login", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	req.Header.Set("X-Request-Id", "trace-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("spans = %d, want 1", len(spans))
	}
	sp := spans[0]
	if got := sp.SpanContext.TraceID().String(); got != traceID {
		t.Errorf("span trace id = %s, want the caller's %s", got, traceID)
	}
	if got := sp.Parent.SpanID().String(); got != "00f067aa0ba902b7" {
		t.Errorf("span parent = %s, want the caller's span", got)
	}
	want := "00-" + traceID + "-" + sp.SpanContext.SpanID().String() + "-01"
	if got := up.headers(t, "trace-1").Get("Traceparent"); got != want {
		t.Errorf("upstream traceparent = %q, want %q (the gateway's span)", got, want)
	}
}
