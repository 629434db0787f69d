package server_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	ready := newGateway(t, testConfig(up.URL, up.URL), nil)
	unready := newGateway(t, testConfig(up.URL, closedURL(t)), nil)
	tests := []struct {
		name string
		url  string
		want int
	}{
		{"healthz", ready + "/healthz", http.StatusOK},
		{"healthz with an upstream down", unready + "/healthz", http.StatusOK},
		{"readyz", ready + "/readyz", http.StatusOK},
		{"readyz with an upstream down", unready + "/readyz", http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := http.Get(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("GET %s = %d, want %d", tt.url, resp.StatusCode, tt.want)
			}
		})
	}
}

func TestStatic(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	dir := t.TempDir()
	files := map[string]string{"index.html": "<html>spa</html>", "assets/app.js": "console.log(1)"}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gw := newGateway(t, testConfig(up.URL, up.URL), map[string]string{"GATEWAY_WEB_DIR": dir})
	tests := []struct {
		path       string
		wantStatus int
		wantBody   string
		wantCache  string
	}{
		{"/", http.StatusOK, "<html>spa</html>", "no-cache"},
		{"/assets/app.js", http.StatusOK, "console.log(1)", "public, max-age=31536000, immutable"},
		{"/login", http.StatusOK, "<html>spa</html>", "no-cache"},
		{"/settings/sessions", http.StatusOK, "<html>spa</html>", "no-cache"},
		{"/assets/missing.js", http.StatusNotFound, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			resp, err := http.Get(gw + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || tt.wantBody != "" && !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("GET %s = %d %q, want %d %q", tt.path, resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if got := resp.Header.Get("Cache-Control"); tt.wantCache != "" && got != tt.wantCache {
				t.Errorf("GET %s Cache-Control = %q, want %q", tt.path, got, tt.wantCache)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("GET %s X-Content-Type-Options = %q, want nosniff", tt.path, got)
			}
		})
	}
}
