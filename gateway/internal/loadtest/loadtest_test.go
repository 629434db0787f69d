package loadtest

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/acme/authgw/gateway/internal/config"
)

func startStack(tb testing.TB) *Stack {
	tb.Helper()
	s, err := Start(slog.New(slog.NewJSONHandler(io.Discard, nil)), config.ProtocolAuto)
	if err != nil {
		tb.Fatalf("Start() error = %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// TestCompare is a short smoke run: every kind succeeds both ways.
func TestCompare(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	for _, k := range Kinds() {
		if _, err := Compare(t.Context(), io.Discard, s, k, 4, 100*time.Millisecond); err != nil {
			t.Errorf("Compare(%s) error = %v", k, err)
		}
	}
}

// BenchmarkProxy reports the cost of a call straight to the upstream and
// through the gateway (JWT check on), with p50 and p99 latencies:
//
//	go test -run '^$' -bench Proxy -benchtime 5s ./internal/loadtest/
func BenchmarkProxy(b *testing.B) {
	s := startStack(b)
	for _, k := range Kinds() {
		for _, target := range []struct{ name, addr string }{{"direct", s.UpstreamAddr}, {"gateway", s.GatewayAddr}} {
			b.Run(string(k)+"/"+target.name, func(b *testing.B) {
				newCaller, cleanup, err := NewCaller(k, target.addr, s.Token, 64)
				if err != nil {
					b.Fatal(err)
				}
				defer cleanup()
				var mu sync.Mutex
				var all []time.Duration
				b.SetParallelism(16) // 16 x GOMAXPROCS callers
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					call := newCaller()
					var lat []time.Duration
					for pb.Next() {
						t0 := time.Now()
						if err := call(context.Background()); err != nil {
							b.Error(err)
							return
						}
						lat = append(lat, time.Since(t0))
					}
					mu.Lock()
					all = append(all, lat...)
					mu.Unlock()
				})
				b.StopTimer()
				if len(all) > 0 {
					slices.Sort(all)
					b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
					b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
				}
			})
		}
	}
}
