package password_test

import (
	"errors"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/authgw/authsvc/internal/password"
)

func BenchmarkHash(b *testing.B) {
	h := password.NewHasher(password.Options{Params: password.DefaultParams()})
	ctx := b.Context()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
}

func BenchmarkVerify(b *testing.B) {
	h := password.NewHasher(password.Options{Params: password.DefaultParams()})
	ctx := b.Context()
	encoded, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if match, _, err := h.Verify(ctx, "correct horse battery staple", encoded); err != nil || !match {
			b.Fatalf("Verify() = (%v, %v), want (true, <nil>)", match, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
}

// BenchmarkConcurrentVerify500 is a login storm: 500 goroutines verify at
// once through one Hasher with the default admission (GOMAXPROCS slots,
// 5s wait). It reports the peak heap, which admission keeps near
// GOMAXPROCS × 19 MiB instead of 500 × 19 MiB, and how many were turned
// away with ErrBusy. Run it with -benchtime=1x; one iteration takes
// seconds.
func BenchmarkConcurrentVerify500(b *testing.B) {
	const callers = 500
	h := password.NewHasher(password.Options{
		Params:        password.DefaultParams(),
		MaxConcurrent: runtime.GOMAXPROCS(0),
	})
	ctx := b.Context()
	encoded, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	var peak uint64
	var busy, ok atomic.Int64
	for b.Loop() {
		runtime.GC()
		stop := make(chan struct{})
		sampled := make(chan uint64)
		go sampleHeap(stop, sampled)
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				match, _, err := h.Verify(ctx, "correct horse battery staple", encoded)
				switch {
				case errors.Is(err, password.ErrBusy):
					busy.Add(1)
				case err != nil || !match:
					b.Errorf("Verify() = (%v, %v), want (true, <nil>) or ErrBusy", match, err)
				default:
					ok.Add(1)
				}
			})
		}
		wg.Wait()
		close(stop)
		peak = max(peak, <-sampled)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(busy.Load())/float64(b.N), "busy/op")
	b.ReportMetric(float64(ok.Load())/float64(b.N), "verified/op")
}

// sampleHeap reports the largest heap in use (live and not yet swept
// objects plus unused span space, as MemStats.HeapInuse) seen every
// millisecond until stop is closed. runtime/metrics does not stop the
// world, unlike runtime.ReadMemStats.
func sampleHeap(stop <-chan struct{}, peak chan<- uint64) {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
	}
	var top uint64
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		metrics.Read(samples)
		top = max(top, samples[0].Value.Uint64()+samples[1].Value.Uint64())
		select {
		case <-stop:
			peak <- top
			return
		case <-tick.C:
		}
	}
}
