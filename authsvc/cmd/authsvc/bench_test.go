package main

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"golang.org/x/crypto/argon2"

	authv1 "github.com/acme/authgw/gen/auth/v1"
	"github.com/acme/authgw/gen/auth/v1/authv1connect"

	"github.com/acme/authgw/authsvc/internal/password"
)

// benchEnv is testEnv with the production argon2id parameters.
func benchEnv(b *testing.B) map[string]string {
	env := testEnv(b)
	delete(env, "AUTH_ARGON2_MEMORY_KIB")
	delete(env, "AUTH_ARGON2_ITERATIONS")
	env["AUTH_LOG_LEVEL"] = "info"
	return env
}

// BenchmarkArgon2idRaw is the bare argon2id rate of this machine with the
// service's parameters and as many goroutines as cores: the ceiling for
// BenchmarkLogin.
func BenchmarkArgon2idRaw(b *testing.B) {
	p := password.DefaultParams()
	salt := make([]byte, p.SaltLen)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			argon2.IDKey([]byte("correct horse"), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
}

// BenchmarkLogin is the login rate of the real program over gRPC with the
// production parameters, against SQLite.
func BenchmarkLogin(b *testing.B) {
	in := start(b, benchEnv(b))
	c := authv1connect.NewAuthServiceClient(h2cClient, in.url, connect.WithGRPC())
	if _, err := c.Register(b.Context(), &authv1.RegisterRequest{Email: "bench@example.com", Password: "correct horse"}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Login(context.Background(), &authv1.LoginRequest{Email: "bench@example.com", Password: "correct horse"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}

// BenchmarkLogin500Concurrent fires 500 logins at once per iteration and
// reports the process's peak resident memory (VmHWM, reset before each
// run) and how many calls were turned away with resource_exhausted. The
// admission control keeps at most GOMAXPROCS hashes, 19 MiB each, alive.
func BenchmarkLogin500Concurrent(b *testing.B) {
	for _, wait := range []string{"5s", "60s"} {
		b.Run("max-wait="+wait, func(b *testing.B) {
			env := benchEnv(b)
			env["AUTH_HASH_MAX_WAIT"] = wait
			in := start(b, env)
			c := authv1connect.NewAuthServiceClient(h2cClient, in.url, connect.WithGRPC())
			if _, err := c.Register(b.Context(), &authv1.RegisterRequest{Email: "bench@example.com", Password: "correct horse"}); err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			resetPeakRSS(b)
			base := procStatusMiB(b, "VmRSS")
			var ok, exhausted, other atomic.Int64
			b.ResetTimer()
			for range b.N {
				var wg sync.WaitGroup
				for range 500 {
					wg.Go(func() {
						_, err := c.Login(context.Background(), &authv1.LoginRequest{Email: "bench@example.com", Password: "correct horse"})
						switch connect.CodeOf(err) {
						case connect.CodeUnknown:
							if err == nil {
								ok.Add(1)
								return
							}
							other.Add(1)
						case connect.CodeResourceExhausted:
							exhausted.Add(1)
						default:
							other.Add(1)
						}
					})
				}
				wg.Wait()
			}
			b.StopTimer()
			if other.Load() > 0 {
				b.Errorf("%d logins failed with codes other than resource_exhausted", other.Load())
			}
			b.ReportMetric(base, "start-RSS-MiB")
			b.ReportMetric(procStatusMiB(b, "VmHWM"), "peak-RSS-MiB")
			b.ReportMetric(float64(ok.Load())/float64(b.N), "ok/op")
			b.ReportMetric(float64(exhausted.Load())/float64(b.N), "exhausted/op")
		})
	}
}

// resetPeakRSS resets the kernel's resident-set high-water mark of this
// process (Linux 4.0+).
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Skipf("cannot reset peak RSS: %v", err)
	}
}

// procStatusMiB reads a memory field, such as VmHWM (peak resident set),
// from /proc/self/status.
func procStatusMiB(b *testing.B, field string) float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				b.Fatal(err)
			}
			return float64(kb) / 1024
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}
