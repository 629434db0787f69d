package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestLoadDefault(t *testing.T) {
	t.Parallel()
	cfg, err := Load("", env(map[string]string{
		"GATEWAY_AUTH_UPSTREAM": "http://auth:9000",
		"GATEWAY_CORS_ORIGINS":  "https://a.example.com, https://b.example.com",
		"GATEWAY_ADDR":          ":9999",
	}))
	if err != nil {
		t.Fatalf("Load(default) error = %v", err)
	}
	if got := cfg.Upstreams[AuthUpstream].URL; got != "http://auth:9000" {
		t.Errorf("auth upstream = %q, want %q", got, "http://auth:9000")
	}
	if got := cfg.JWT.JWKSURL; got != "http://auth:9000/.well-known/jwks.json" {
		t.Errorf("jwt.jwks_url = %q, want the auth upstream's JWKS", got)
	}
	if cfg.JWT.Issuer != "authsvc" || cfg.JWT.Audience != "authgw" {
		t.Errorf("jwt iss, aud = %q, %q, want authsvc, authgw", cfg.JWT.Issuer, cfg.JWT.Audience)
	}
	if got := strings.Join(cfg.CORS.AllowedOrigins, " "); got != "https://a.example.com https://b.example.com" {
		t.Errorf("cors.allowed_origins = %q", got)
	}
	if cfg.Server.Addr != ":9999" {
		t.Errorf("server.addr = %q, want :9999", cfg.Server.Addr)
	}
	timeouts := map[string]time.Duration{}
	for _, r := range cfg.Routes {
		timeouts[r.Procedure+r.Prefix] = r.Timeout.Duration()
	}
	if got := timeouts["/auth.v1.AuthService/"]; got != 500*time.Millisecond {
		t.Errorf("auth route timeout = %v, want 500ms", got)
	}
	if got := timeouts["/grpc.health.v1.Health/"]; got != DefaultTimeout {
		t.Errorf("health route timeout = %v, want %v", got, DefaultTimeout)
	}
}

func TestLoadDefaultEnvOnly(t *testing.T) {
	t.Parallel()
	cfg, err := Load("", env(nil))
	if err != nil {
		t.Fatalf("Load(default) error = %v", err)
	}
	if got := cfg.JWT.JWKSURL; got != "http://localhost:50051/.well-known/jwks.json" {
		t.Errorf("jwt.jwks_url = %q", got)
	}
}

// TestLoadInvalid checks that each bad configuration stops start-up with a
// message naming the field.
func TestLoadInvalid(t *testing.T) {
	t.Parallel()
	const base = `
upstreams:
  app: {url: "http://localhost:1"}
routes:
  - {prefix: /, upstream: app, auth: public}
`
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown field", base + "bogus: 1\n", "bogus"},
		{"unknown route field", "upstreams: {app: {url: 'http://x'}}\nroutes: [{prefix: /, upstream: app, auht: public}]\n", "auht"},
		{"no upstreams", "routes: [{prefix: /, upstream: app}]\n", "upstreams"},
		{"bad upstream url", "upstreams: {app: {url: 'ftp://x'}}\nroutes: [{prefix: /, upstream: app, auth: public}]\n", "upstreams.app.url"},
		{"bad upstream protocol", "upstreams: {app: {url: 'http://x', protocol: h3}}\nroutes: [{prefix: /, upstream: app, auth: public}]\n", "upstreams.app.protocol"},
		{"no routes", "upstreams: {app: {url: 'http://x'}}\n", "routes"},
		{"unknown upstream", "upstreams: {app: {url: 'http://x'}}\nroutes: [{prefix: /, upstream: nope, auth: public}]\n", "routes[0].upstream"},
		{"both matchers", "upstreams: {app: {url: 'http://x'}}\nroutes: [{prefix: /, procedure: /a.B/C, upstream: app, auth: public}]\n", "routes[0]"},
		{"no matcher", "upstreams: {app: {url: 'http://x'}}\nroutes: [{upstream: app, auth: public}]\n", "routes[0]"},
		{"bad procedure", "upstreams: {app: {url: 'http://x'}}\nroutes: [{procedure: /a.B, upstream: app, auth: public}]\n", "routes[0].procedure"},
		{"bad prefix", "upstreams: {app: {url: 'http://x'}}\nroutes: [{prefix: a, upstream: app, auth: public}]\n", "routes[0].prefix"},
		{"duplicate", base + "  - {prefix: /, upstream: app, auth: public}\n", "routes[1]"},
		{"bad timeout", "upstreams: {app: {url: 'http://x'}}\nroutes: [{prefix: /, upstream: app, auth: public, timeout: soon}]\n", "timeout"},
		{"negative body limit", "upstreams: {app: {url: 'http://x'}}\nroutes: [{prefix: /, upstream: app, auth: public, body_limit: -1}]\n", "routes[0].body_limit"},
		{"bad auth", "upstreams: {app: {url: 'http://x'}}\nroutes: [{prefix: /, upstream: app, auth: maybe}]\n", "routes[0].auth"},
		{"public with roles", "upstreams: {app: {url: 'http://x'}}\nroutes: [{prefix: /, upstream: app, auth: public, roles: [admin]}]\n", "routes[0].roles"},
		{"bad role", "upstreams: {app: {url: 'http://x'}}\nroutes: [{prefix: /, upstream: app, roles: ['a,b']}]\n", "routes[0].roles[0]"},
		{"token without jwks", "upstreams: {app: {url: 'http://x'}}\nroutes: [{prefix: /, upstream: app}]\n", "jwt.jwks_url"},
		{"wildcard origin", base + "cors: {allowed_origins: ['*']}\n", "cors.allowed_origins[0]"},
		{"origin with path", base + "cors: {allowed_origins: ['https://a.example.com/app']}\n", "cors.allowed_origins[0]"},
		{"bad trusted proxy", base + "server: {trusted_proxies: [nope]}\n", "server.trusted_proxies[0]"},
		{"small header limit", base + "server: {max_header_bytes: 10}\n", "server.max_header_bytes"},
		{"big leeway", base + "jwt: {leeway: 1h}\n", "jwt.leeway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "gateway.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path, env(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load(%s) error = %v, want one naming %q", tt.name, err, tt.want)
			}
		})
	}
}

func TestTimeoutNone(t *testing.T) {
	t.Parallel()
	cfg, err := Parse([]byte("routes: [{prefix: /, timeout: none}, {prefix: /a, timeout: 250ms}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Routes[0].Timeout.Duration(); got != 0 {
		t.Errorf("timeout none Duration() = %v, want 0", got)
	}
	if got := cfg.Routes[1].Timeout.Duration(); got != 250*time.Millisecond {
		t.Errorf("timeout 250ms Duration() = %v, want 250ms", got)
	}
}
