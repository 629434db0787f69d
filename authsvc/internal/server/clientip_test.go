package server

import (
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"direct client", "203.0.113.9:5000", nil, "203.0.113.9"},
		{"untrusted peer's header ignored", "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"through the gateway", "127.0.0.1:6000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"client forges a left entry", "127.0.0.1:6000", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted hops", "127.0.0.1:6000", []string{"198.51.100.1, 10.1.2.3"}, "198.51.100.1"},
		{"several headers", "127.0.0.1:6000", []string{"198.51.100.1", "10.1.2.3"}, "198.51.100.1"},
		{"trusted peer without header", "127.0.0.1:6000", nil, "127.0.0.1"},
		{"malformed chain", "127.0.0.1:6000", []string{"nonsense"}, "127.0.0.1"},
		{"ipv6 peer", "[2001:db8::1]:443", nil, "2001:db8::1"},
		{"no trusted proxies configured", "127.0.0.1:6000", []string{"198.51.100.1"}, "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := trusted
			if tt.name == "no trusted proxies configured" {
				tr = nil
			}
			if got := clientIP(tt.peer, tt.xff, tr); got != tt.want {
				t.Errorf("clientIP(%q, %q) = %q, want %q", tt.peer, tt.xff, got, tt.want)
			}
		})
	}
}
