// Package config loads and validates the gateway's configuration: one YAML
// document (an embedded default or GATEWAY_CONFIG) with environment overrides.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

//go:embed default.yaml
var defaultYAML []byte

// Defaults applied to fields a configuration leaves empty.
const (
	DefaultTimeout           = 10 * time.Second
	DefaultBodyLimit         = 4 << 20
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultShutdownTimeout   = 10 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultLeeway            = 30 * time.Second
	DefaultJWKSRefresh       = 5 * time.Minute
	DefaultJWKSMinRefetch    = 10 * time.Second
	DefaultCORSMaxAge        = 2 * time.Hour
	// AuthUpstream is the upstream GATEWAY_AUTH_UPSTREAM replaces and whose
	// JWKS the gateway trusts unless jwt.jwks_url says otherwise.
	AuthUpstream = "auth"
)

// Auth policies of a route.
const (
	AuthPublic = "public"
	AuthToken  = "token"
)

// Upstream protocols: how the gateway talks to an upstream.
const (
	// ProtocolAuto uses h2c for gRPC and for HTTP/2 callers, HTTP/1.1 otherwise.
	ProtocolAuto = "auto"
	// ProtocolH2C always uses HTTP/2 without TLS (prior knowledge).
	ProtocolH2C = "h2c"
	// ProtocolHTTP1 always uses HTTP/1.1; gRPC cannot be proxied to it.
	ProtocolHTTP1 = "http1"
)

// Config is the whole gateway configuration.
type Config struct {
	Server    Server              `yaml:"server"`
	Upstreams map[string]Upstream `yaml:"upstreams"`
	Routes    []Route             `yaml:"routes"`
	JWT       JWT                 `yaml:"jwt"`
	CORS      CORS                `yaml:"cors"`
}

// Server configures the listener.
type Server struct {
	Addr              string        `yaml:"addr"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`
	MaxHeaderBytes    int           `yaml:"max_header_bytes"`
	// WebDir, when set, is served at / with index.html as the fallback.
	WebDir string `yaml:"web_dir"`
	// TrustedProxies are CIDRs whose X-Forwarded-For is kept and extended;
	// from anyone else it is replaced by the peer address.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Upstream is a service the gateway forwards to.
type Upstream struct {
	URL      string `yaml:"url"`
	Protocol string `yaml:"protocol"`
}

// Route is the policy for a procedure or a path prefix. Exactly one of
// Procedure and Prefix is set.
type Route struct {
	Procedure string  `yaml:"procedure"`
	Prefix    string  `yaml:"prefix"`
	Upstream  string  `yaml:"upstream"`
	Timeout   Timeout `yaml:"timeout"`
	// Auth is "public" or "token"; a route with Roles requires a token too.
	Auth string `yaml:"auth"`
	// Roles must all be present in the token's roles claim.
	Roles     []string `yaml:"roles"`
	BodyLimit int64    `yaml:"body_limit"`
}

// Timeout is a route's timeout: a duration, or "none" when the gateway sets
// no deadline of its own (the caller's own deadline still applies and is
// still propagated). Long-lived streams want none.
type Timeout time.Duration

// NoTimeout is the value of "timeout: none".
const NoTimeout Timeout = -1

// UnmarshalYAML accepts a Go duration ("500ms", "10s") or "none".
func (t *Timeout) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: timeout must be a duration or none", n.Line)
	}
	if n.Value == "none" {
		*t = NoTimeout
		return nil
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil || d <= 0 {
		return fmt.Errorf("line %d: timeout %q must be a positive duration or none", n.Line, n.Value)
	}
	*t = Timeout(d)
	return nil
}

// Duration returns the timeout, or 0 for none.
func (t Timeout) Duration() time.Duration {
	if t < 0 {
		return 0
	}
	return time.Duration(t)
}

// JWT configures access-token checks.
type JWT struct {
	JWKSURL  string        `yaml:"jwks_url"`
	Issuer   string        `yaml:"issuer"`
	Audience string        `yaml:"audience"`
	Leeway   time.Duration `yaml:"leeway"`
	// RefreshInterval is how old the key set may grow before a background refetch.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	// MinRefetchInterval rate-limits refetches caused by unknown key ids.
	MinRefetchInterval time.Duration `yaml:"min_refetch_interval"`
}

// CORS configures cross-origin access for browsers.
type CORS struct {
	AllowedOrigins []string      `yaml:"allowed_origins"`
	MaxAge         time.Duration `yaml:"max_age"`
}

// Load reads the configuration from path (the embedded default when empty),
// applies the environment overrides read through getenv, fills defaults and
// validates the result.
func Load(path string, getenv func(string) string) (*Config, error) {
	data := defaultYAML
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	cfg, err := Parse(data)
	if err != nil {
		if path != "" {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		return nil, err
	}
	cfg.applyEnv(getenv)
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		if path != "" {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// Parse decodes one YAML document strictly: unknown fields are errors.
func Parse(data []byte) (*Config, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parse: %w", err)
	}
	return &cfg, nil
}

func (c *Config) applyEnv(getenv func(string) string) {
	if v := getenv("GATEWAY_ADDR"); v != "" {
		c.Server.Addr = v
	}
	if v := getenv("GATEWAY_WEB_DIR"); v != "" {
		c.Server.WebDir = v
	}
	if v := getenv("GATEWAY_AUTH_UPSTREAM"); v != "" {
		if c.Upstreams == nil {
			c.Upstreams = map[string]Upstream{}
		}
		u := c.Upstreams[AuthUpstream]
		u.URL = v
		c.Upstreams[AuthUpstream] = u
	}
	if v := getenv("GATEWAY_JWKS_URL"); v != "" {
		c.JWT.JWKSURL = v
	}
	for o := range strings.SplitSeq(getenv("GATEWAY_CORS_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" && !slices.Contains(c.CORS.AllowedOrigins, o) {
			c.CORS.AllowedOrigins = append(c.CORS.AllowedOrigins, o)
		}
	}
}

func (c *Config) applyDefaults() {
	s := &c.Server
	if s.Addr == "" {
		s.Addr = ":8080"
	}
	setDuration(&s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDuration(&s.IdleTimeout, DefaultIdleTimeout)
	setDuration(&s.ShutdownTimeout, DefaultShutdownTimeout)
	if s.MaxHeaderBytes == 0 {
		s.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	for name, u := range c.Upstreams {
		if u.Protocol == "" {
			u.Protocol = ProtocolAuto
			c.Upstreams[name] = u
		}
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		if r.Timeout == 0 {
			r.Timeout = Timeout(DefaultTimeout)
		}
		if r.BodyLimit == 0 {
			r.BodyLimit = DefaultBodyLimit
		}
		if r.Auth == "" {
			// Deny by default: a route nobody marked public needs a token.
			r.Auth = AuthToken
		}
	}
	j := &c.JWT
	if j.Issuer == "" {
		j.Issuer = "authsvc"
	}
	if j.Audience == "" {
		j.Audience = "authgw"
	}
	setDuration(&j.Leeway, DefaultLeeway)
	setDuration(&j.RefreshInterval, DefaultJWKSRefresh)
	setDuration(&j.MinRefetchInterval, DefaultJWKSMinRefetch)
	if j.JWKSURL == "" {
		if u, ok := c.Upstreams[AuthUpstream]; ok && u.URL != "" {
			j.JWKSURL = strings.TrimSuffix(u.URL, "/") + "/.well-known/jwks.json"
		}
	}
	setDuration(&c.CORS.MaxAge, DefaultCORSMaxAge)
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// Validate reports the first invalid field, named by its YAML path.
func (c *Config) Validate() error {
	s := c.Server
	switch {
	case s.Addr == "":
		return errors.New("server.addr: required")
	case s.ReadHeaderTimeout < 0:
		return errors.New("server.read_header_timeout: must be positive")
	case s.IdleTimeout < 0:
		return errors.New("server.idle_timeout: must be positive")
	case s.ShutdownTimeout < 0:
		return errors.New("server.shutdown_timeout: must be positive")
	case s.MaxHeaderBytes < 1024:
		return errors.New("server.max_header_bytes: must be at least 1024")
	}
	for i, p := range s.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			return fmt.Errorf("server.trusted_proxies[%d]: %w", i, err)
		}
	}
	if len(c.Upstreams) == 0 {
		return errors.New("upstreams: at least one upstream is required")
	}
	for _, name := range sortedKeys(c.Upstreams) {
		u := c.Upstreams[name]
		if err := validateURL(u.URL); err != nil {
			return fmt.Errorf("upstreams.%s.url: %w", name, err)
		}
		switch u.Protocol {
		case ProtocolAuto, ProtocolH2C, ProtocolHTTP1:
		default:
			return fmt.Errorf("upstreams.%s.protocol: %q is not one of auto, h2c, http1", name, u.Protocol)
		}
	}
	if len(c.Routes) == 0 {
		return errors.New("routes: at least one route is required")
	}
	seen := map[string]int{}
	needsJWT := false
	for i, r := range c.Routes {
		field := fmt.Sprintf("routes[%d]", i)
		key := ""
		switch {
		case r.Procedure != "" && r.Prefix != "":
			return fmt.Errorf("%s: procedure and prefix are exclusive", field)
		case r.Procedure != "":
			if err := validateProcedure(r.Procedure); err != nil {
				return fmt.Errorf("%s.procedure: %w", field, err)
			}
			key = "procedure " + r.Procedure
		case r.Prefix != "":
			if !strings.HasPrefix(r.Prefix, "/") {
				return fmt.Errorf("%s.prefix: %q must start with /", field, r.Prefix)
			}
			key = "prefix " + r.Prefix
		default:
			return fmt.Errorf("%s: one of procedure or prefix is required", field)
		}
		if j, dup := seen[key]; dup {
			return fmt.Errorf("%s: same %s as routes[%d]", field, key, j)
		}
		seen[key] = i
		if _, ok := c.Upstreams[r.Upstream]; !ok {
			return fmt.Errorf("%s.upstream: unknown upstream %q", field, r.Upstream)
		}
		if r.Timeout < 0 && r.Timeout != NoTimeout {
			return fmt.Errorf("%s.timeout: must be positive or none", field)
		}
		if r.BodyLimit <= 0 {
			return fmt.Errorf("%s.body_limit: must be positive", field)
		}
		switch r.Auth {
		case AuthPublic:
			if len(r.Roles) > 0 {
				return fmt.Errorf("%s.roles: a public route cannot require roles", field)
			}
		case AuthToken:
			needsJWT = true
		default:
			return fmt.Errorf("%s.auth: %q is not one of public, token", field, r.Auth)
		}
		for j, role := range r.Roles {
			if role == "" || strings.ContainsAny(role, ", \t") {
				return fmt.Errorf("%s.roles[%d]: %q is not a valid role", field, j, role)
			}
		}
	}
	j := c.JWT
	if needsJWT {
		if j.JWKSURL == "" {
			return errors.New("jwt.jwks_url: required by token routes (or an upstream named auth)")
		}
		if err := validateURL(j.JWKSURL); err != nil {
			return fmt.Errorf("jwt.jwks_url: %w", err)
		}
	}
	switch {
	case j.Issuer == "":
		return errors.New("jwt.issuer: required")
	case j.Audience == "":
		return errors.New("jwt.audience: required")
	case j.Leeway < 0 || j.Leeway > 5*time.Minute:
		return errors.New("jwt.leeway: must be between 0 and 5m")
	case j.RefreshInterval < 0:
		return errors.New("jwt.refresh_interval: must be positive")
	case j.MinRefetchInterval < 0:
		return errors.New("jwt.min_refetch_interval: must be positive")
	}
	for i, o := range c.CORS.AllowedOrigins {
		if err := validateOrigin(o); err != nil {
			return fmt.Errorf("cors.allowed_origins[%d]: %w", i, err)
		}
	}
	if c.CORS.MaxAge < 0 {
		return errors.New("cors.max_age: must be positive")
	}
	return nil
}

func validateURL(raw string) error {
	if raw == "" {
		return errors.New("required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("%q: host required", raw)
	}
	return nil
}

// validateProcedure accepts "/package.Service/Method".
func validateProcedure(p string) error {
	service, method, ok := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if !strings.HasPrefix(p, "/") || !ok || service == "" || method == "" || strings.Contains(method, "/") {
		return fmt.Errorf("%q is not of the form /package.Service/Method", p)
	}
	return nil
}

func validateOrigin(o string) error {
	if o == "*" {
		return errors.New(`"*" is not allowed: credentials are sent only to listed origins`)
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return fmt.Errorf("%q is not an origin like https://app.example.com", o)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TrustedPrefixes returns server.trusted_proxies parsed; single addresses
// become one-address prefixes.
func (s Server) TrustedPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(s.TrustedProxies))
	for _, p := range s.TrustedProxies {
		if pfx, err := parsePrefix(p); err == nil {
			out = append(out, pfx)
		}
	}
	return out
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}
