package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRun starts the real program on port 0 with the embedded default
// configuration, checks it serves, and shuts it down.
func TestRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	env := map[string]string{"GATEWAY_ADDR": "127.0.0.1:0", "GATEWAY_ADMIN_ADDR": "127.0.0.1:0", "GATEWAY_AUTH_UPSTREAM": "http://127.0.0.1:1"}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"gateway"}, func(k string) string { return env[k] }, io.Discard, pw)
		pw.Close()
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
			}
		}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("run() = %v before listening", err)
	case <-time.After(10 * time.Second):
		t.Fatal("run() did not log its listener")
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %d, want 200", resp.StatusCode)
	}
	// The auth service is down: an RPC gets unavailable, in Connect JSON.
	resp, err = http.Post(base+"/auth.v1.AuthService/Login", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("POST Login with the auth service down = %d, want 503", resp.StatusCode)
	}
	// Oversized headers are refused before any handler runs.
	req, _ := http.NewRequest(http.MethodGet, base+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 128<<10))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("GET /healthz with a 128 KiB header = %d, want 431", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run() after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("run() did not return after cancel")
	}
}

func TestRunBadConfig(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	bad := "upstreams: {app: {url: 'http://x'}}\nroutes: [{prefix: /, upstream: app, timeout: -1s, auth: public}]\n"
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"flag", []string{"gateway", "-config", path}, nil, "timeout"},
		{"env", []string{"gateway"}, map[string]string{"GATEWAY_CONFIG": path}, "timeout"},
		{"missing file", []string{"gateway", "-config", path + ".missing"}, nil, "no such file"},
		{"bad log format", []string{"gateway"}, map[string]string{"GATEWAY_LOG_FORMAT": "xml"}, "GATEWAY_LOG_FORMAT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := run(t.Context(), tt.args, func(k string) string { return tt.env[k] }, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%v) = %v, want an error naming %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestRunCheck(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	if err := run(t.Context(), []string{"gateway", "-check"}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatalf("run(-check) = %v", err)
	}
	if !strings.Contains(out.String(), "configuration ok") {
		t.Errorf("run(-check) printed %q, want configuration ok", out.String())
	}
}
