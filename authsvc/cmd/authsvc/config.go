package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/acme/authgw/authsvc/internal/password"
)

// config is the service's configuration, read from the environment.
type config struct {
	Addr             string
	AdminAddr        string
	DataDir          string
	DatabaseURL      string
	SigningKeyFile   string // empty: generated under DataDir
	PreviousKeyFiles []string
	TrustedProxies   []netip.Prefix
	Issuer           string
	Audience         string
	AccessTTL        time.Duration
	RefreshIdleTTL   time.Duration
	RefreshAbsTTL    time.Duration
	ReuseGrace       time.Duration
	HashParams       password.Params
	HashConcurrency  int
	HashMaxWait      time.Duration
	ShutdownTimeout  time.Duration
	DrainDelay       time.Duration
	DBWait           time.Duration
	LogLevel         slog.Level
	LogFormat        string
}

// loadConfig reads and validates the configuration. Every message names the
// variable at fault.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		Addr:      getenv("AUTH_ADDR"),
		DataDir:   getenv("AUTH_DATA_DIR"),
		Issuer:    getenv("AUTH_ISSUER"),
		Audience:  getenv("AUTH_AUDIENCE"),
		LogFormat: getenv("AUTH_LOG_FORMAT"),
	}
	if c.Addr == "" {
		c.Addr = ":50051"
	}
	if c.AdminAddr = getenv("AUTH_ADMIN_ADDR"); c.AdminAddr == "" {
		c.AdminAddr = ":9090"
	}
	if c.DataDir == "" {
		c.DataDir = "data"
	}
	if c.Issuer == "" {
		c.Issuer = "authsvc"
	}
	if c.Audience == "" {
		c.Audience = "authgw"
	}
	c.DatabaseURL = getenv("AUTH_DATABASE_URL")
	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite:" + filepath.Join(c.DataDir, "authsvc.db")
	}
	c.SigningKeyFile = getenv("AUTH_SIGNING_KEY_FILE")
	for f := range strings.SplitSeq(getenv("AUTH_PREVIOUS_KEY_FILES"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			c.PreviousKeyFiles = append(c.PreviousKeyFiles, f)
		}
	}
	var errs []error
	for p := range strings.SplitSeq(getenv("AUTH_TRUSTED_PROXIES"), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				errs = append(errs, fmt.Errorf("AUTH_TRUSTED_PROXIES: %q is not an IP address or CIDR prefix", p))
				continue
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, prefix.Masked())
	}
	dur := func(name string, def time.Duration, dst *time.Duration) {
		*dst = def
		v := getenv(name)
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive duration such as 15m or 720h", name, v))
			return
		}
		*dst = d
	}
	dur("AUTH_ACCESS_TOKEN_TTL", 15*time.Minute, &c.AccessTTL)
	dur("AUTH_REFRESH_IDLE_TTL", 7*24*time.Hour, &c.RefreshIdleTTL)
	dur("AUTH_REFRESH_ABSOLUTE_TTL", 30*24*time.Hour, &c.RefreshAbsTTL)
	dur("AUTH_REFRESH_REUSE_GRACE", 10*time.Second, &c.ReuseGrace)
	dur("AUTH_HASH_MAX_WAIT", 5*time.Second, &c.HashMaxWait)
	dur("AUTH_SHUTDOWN_TIMEOUT", 20*time.Second, &c.ShutdownTimeout)
	dur("AUTH_DB_WAIT", 30*time.Second, &c.DBWait)
	c.DrainDelay = 0
	if v := getenv("AUTH_DRAIN_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > 5*time.Minute {
			errs = append(errs, fmt.Errorf("AUTH_DRAIN_DELAY: %q is not a duration from 0s to 5m", v))
		}
		c.DrainDelay = d
	}

	c.HashParams = password.DefaultParams()
	uintVar := func(name string, dst *uint32) {
		v := getenv(name)
		if v == "" {
			return
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a whole number", name, v))
			return
		}
		*dst = uint32(n)
	}
	uintVar("AUTH_ARGON2_MEMORY_KIB", &c.HashParams.Memory)
	uintVar("AUTH_ARGON2_ITERATIONS", &c.HashParams.Time)
	if err := c.HashParams.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("AUTH_ARGON2_MEMORY_KIB, AUTH_ARGON2_ITERATIONS: %w", err))
	}

	c.HashConcurrency = runtime.GOMAXPROCS(0)
	if v := getenv("AUTH_HASH_CONCURRENCY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1024 {
			errs = append(errs, fmt.Errorf("AUTH_HASH_CONCURRENCY: %q is not a number from 1 to 1024", v))
		}
		c.HashConcurrency = n
	}
	if v := getenv("AUTH_LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Errorf("AUTH_LOG_LEVEL: %q is not one of debug, info, warn, error", v))
		}
	}
	switch c.LogFormat {
	case "":
		c.LogFormat = "json"
	case "json", "text":
	default:
		errs = append(errs, fmt.Errorf("AUTH_LOG_FORMAT: %q is not json or text", c.LogFormat))
	}
	if c.RefreshIdleTTL > c.RefreshAbsTTL {
		errs = append(errs, errors.New("AUTH_REFRESH_IDLE_TTL: longer than AUTH_REFRESH_ABSOLUTE_TTL"))
	}
	if c.ReuseGrace > time.Minute {
		errs = append(errs, errors.New("AUTH_REFRESH_REUSE_GRACE: longer than 1m weakens reuse detection"))
	}
	if c.AccessTTL > 24*time.Hour {
		errs = append(errs, errors.New("AUTH_ACCESS_TOKEN_TTL: longer than 24h"))
	}
	return c, errors.Join(errs...)
}
