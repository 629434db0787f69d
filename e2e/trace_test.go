package e2e

import (
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"connectrpc.com/connect"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	authv1 "github.com/acme/authgw/gen/auth/v1"
	"github.com/acme/authgw/gen/auth/v1/authv1connect"
)

// span is what the test collector keeps of an exported span.
type span struct {
	service, name, traceID string
}

// collector is an OTLP/HTTP trace receiver (protobuf encoding, as the Go
// exporter sends it).
type collector struct {
	mu    sync.Mutex
	spans []span
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" {
		http.NotFound(w, r)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := new(coltracepb.ExportTraceServiceRequest)
	if err := proto.Unmarshal(raw, req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				c.spans = append(c.spans, span{service: service, name: sp.GetName(), traceID: hex.EncodeToString(sp.GetTraceId())})
			}
		}
	}
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Write(out)
}

// TestOneTraceAcrossServices sends one call with a W3C traceparent through
// the gateway and checks that the gateway, the auth service and its
// database queries all report spans of that one trace.
func TestOneTraceAcrossServices(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	t.Cleanup(srv.Close)
	s := startStack(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL})

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	c := authv1connect.NewAuthServiceClient(h1Client, s.url, connect.WithProtoJSON())
	ctx := headers(t.Context(), "Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	if _, err := c.Register(ctx, &authv1.RegisterRequest{Email: "trace@example.com", Password: "correct horse"}); err != nil {
		t.Fatalf("Register: %v", err)
	}
	// Stopping flushes both exporters.
	s.gateway.stop(t)
	s.auth.stop(t)

	col.mu.Lock()
	defer col.mu.Unlock()
	byService := map[string][]string{}
	for _, sp := range col.spans {
		if sp.traceID == traceID {
			byService[sp.service] = append(byService[sp.service], sp.name)
		}
	}
	if len(byService["gateway"]) == 0 {
		t.Errorf("no gateway span in trace %s; spans: %v", traceID, col.spans)
	}
	var rpc, query bool
	for _, name := range byService["authsvc"] {
		rpc = rpc || name == "auth.v1.AuthService/Register"
		query = query || name != "auth.v1.AuthService/Register"
	}
	if !rpc || !query {
		t.Errorf("authsvc spans in trace %s = %v, want the Register call and its database queries", traceID, byService["authsvc"])
	}
}
