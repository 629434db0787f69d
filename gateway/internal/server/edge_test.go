package server

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/acme/authgw/gateway/internal/metrics"
)

func TestEdgeRecoversPanics(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	s := &Server{log: slog.New(slog.NewJSONHandler(&logs, nil)), metrics: metrics.New()}
	h := s.edge(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	tests := []struct {
		name        string
		contentType string
		wantStatus  int
		wantGRPC    string
	}{
		{"connect", "application/json", http.StatusInternalServerError, ""},
		{"grpc", "application/grpc", http.StatusOK, "13"},
		{"grpc-web", "application/grpc-web+proto", http.StatusOK, "13"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/a.v1.S/M", strings.NewReader("{}"))
			req.Header.Set("Content-Type", tt.contentType)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			res := rec.Result()
			if res.StatusCode != tt.wantStatus {
				t.Errorf("panic status = %d, want %d", res.StatusCode, tt.wantStatus)
			}
			if got := res.Header.Get("Grpc-Status") + res.Trailer.Get("Grpc-Status"); got != tt.wantGRPC {
				t.Errorf("panic grpc-status = %q, want %q", got, tt.wantGRPC)
			}
		})
	}
	if !strings.Contains(logs.String(), `"code":"internal"`) {
		t.Errorf("access log = %s, want code internal", logs.String())
	}
}

// TestAccessLog checks the fields of the access log, and that it never
// holds a token.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	s := &Server{log: slog.New(slog.NewJSONHandler(&logs, nil)), metrics: metrics.New()}
	h := s.edge(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	req := httptest.NewRequest(http.MethodPost, "/auth.v1.AuthService/Me", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer secret-token")
	req.Header.Set("X-Request-Id", "rid-1")
	h.ServeHTTP(httptest.NewRecorder(), req)
	var line map[string]any
	if err := json.Unmarshal([]byte(logs.String()), &line); err != nil {
		t.Fatalf("access log %q is not one JSON line: %v", logs.String(), err)
	}
	want := map[string]any{
		"procedure": "/auth.v1.AuthService/Me", "protocol": "connect", "code": "unauthenticated",
		"request_id": "rid-1", "status": float64(401), "client_ip": "192.0.2.1",
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("access log %s = %v, want %v", k, line[k], v)
		}
	}
	if _, ok := line["duration"]; !ok {
		t.Errorf("access log has no duration")
	}
	if strings.Contains(logs.String(), "secret-token") {
		t.Errorf("access log %s holds the token", logs.String())
	}
}

func TestForwardFor(t *testing.T) {
	t.Parallel()
	s := &Server{trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	tests := []struct {
		name     string
		remote   string
		xff      string
		wantIP   string
		wantSent string
	}{
		{"direct", "192.0.2.7:1234", "", "192.0.2.7", "192.0.2.7"},
		{"direct spoofed", "192.0.2.7:1234", "1.2.3.4", "192.0.2.7", "192.0.2.7"},
		{"trusted proxy", "10.0.0.2:1234", "198.51.100.9", "198.51.100.9", "198.51.100.9, 10.0.0.2"},
		{"trusted chain", "10.0.0.2:1234", "6.6.6.6, 198.51.100.9, 10.1.1.1", "198.51.100.9", "6.6.6.6, 198.51.100.9, 10.1.1.1, 10.0.0.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if got := s.forwardFor(r); got != tt.wantIP {
				t.Errorf("forwardFor(%q, %q) = %q, want %q", tt.remote, tt.xff, got, tt.wantIP)
			}
			if got := r.Header.Get("X-Forwarded-For"); got != tt.wantSent {
				t.Errorf("forwardFor(%q, %q) X-Forwarded-For = %q, want %q", tt.remote, tt.xff, got, tt.wantSent)
			}
		})
	}
}
