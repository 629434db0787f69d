package password

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var cheap = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// fill takes every slot of h, as if that many hashes were running, and
// gives them back at cleanup.
func fill(t *testing.T, h *Hasher) {
	t.Helper()
	for range cap(h.sem) {
		h.sem <- struct{}{}
	}
	t.Cleanup(func() {
		for range cap(h.sem) {
			h.release()
		}
	})
}

// waitFor polls until h has n waiters.
func waitFor(t *testing.T, h *Hasher, n int) {
	t.Helper()
	for h.Waiting() != n {
		if t.Context().Err() != nil {
			t.Fatalf("Waiting() = %d, want %d", h.Waiting(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBusy(t *testing.T) {
	t.Parallel()
	encoded := encode(cheap, make([]byte, 16), make([]byte, 32))

	calls := map[string]func(*Hasher, context.Context) error{
		"Hash": func(h *Hasher, ctx context.Context) error { _, err := h.Hash(ctx, "password"); return err },
		"Verify": func(h *Hasher, ctx context.Context) error {
			_, _, err := h.Verify(ctx, "password", encoded)
			return err
		},
		"Dummy": func(h *Hasher, ctx context.Context) error { return h.Dummy(ctx, "password") },
	}
	tests := []struct {
		name string
		// ctx returns the context of the call; MaxWait is 20ms.
		ctx func(context.Context) (context.Context, context.CancelFunc)
	}{
		{
			name: "ctx deadline passes",
			ctx: func(parent context.Context) (context.Context, context.CancelFunc) {
				return context.WithTimeout(parent, 20*time.Millisecond)
			},
		},
		{
			name: "no deadline, MaxWait passes",
			ctx: func(parent context.Context) (context.Context, context.CancelFunc) {
				return context.WithCancel(parent)
			},
		},
	}
	for _, tt := range tests {
		for name, call := range calls {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				var queued []int
				var mu sync.Mutex
				h := NewHasher(Options{
					Params:        cheap,
					MaxConcurrent: 1,
					MaxWait:       20 * time.Millisecond,
					OnQueue: func(n int) {
						mu.Lock()
						defer mu.Unlock()
						queued = append(queued, n)
					},
				})
				var derived atomic.Int64
				h.derive = func(pw, salt []byte, p Params) []byte {
					derived.Add(1)
					return idKey(pw, salt, p)
				}
				fill(t, h)
				ctx, cancel := tt.ctx(t.Context())
				defer cancel()

				err := call(h, ctx)
				if !errors.Is(err, ErrBusy) {
					t.Fatalf("%s() error = %v, want %v", name, err, ErrBusy)
				}
				if n := derived.Load(); n != 0 {
					t.Errorf("argon2 ran %d times, want 0 when no slot was free", n)
				}
				if n := h.Waiting(); n != 0 {
					t.Errorf("Waiting() after %s = %d, want 0", name, n)
				}
				mu.Lock()
				defer mu.Unlock()
				if len(queued) != 2 || queued[0] != 1 || queued[1] != 0 {
					t.Errorf("OnQueue calls = %v, want [1 0]", queued)
				}
			})
		}
	}
}

func TestCancelWhileWaiting(t *testing.T) {
	t.Parallel()
	// A long MaxWait and no deadline: only cancellation ends the wait.
	h := NewHasher(Options{Params: cheap, MaxConcurrent: 1, MaxWait: time.Hour})
	fill(t, h)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := h.Hash(ctx, "password")
		errc <- err
	}()
	waitFor(t, h, 1)
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrBusy) {
		t.Errorf("Hash() canceled while waiting: error = %v, want %v and not %v", err, context.Canceled, ErrBusy)
	}
	if n := h.Waiting(); n != 0 {
		t.Errorf("Waiting() = %d, want 0", n)
	}
}

func TestWaiterGetsFreedSlot(t *testing.T) {
	t.Parallel()
	h := NewHasher(Options{Params: cheap, MaxConcurrent: 1, MaxWait: time.Hour})
	h.sem <- struct{}{}
	errc := make(chan error, 1)
	go func() {
		_, err := h.Hash(t.Context(), "password")
		errc <- err
	}()
	waitFor(t, h, 1)
	h.release()
	if err := <-errc; err != nil {
		t.Errorf("Hash() after a slot was freed: error = %v, want <nil>", err)
	}
	if n := len(h.sem); n != 0 {
		t.Errorf("slots taken after Hash returned = %d, want 0", n)
	}
}

func TestConcurrencyBound(t *testing.T) {
	t.Parallel()
	const limit = 2
	h := NewHasher(Options{Params: cheap, MaxConcurrent: limit, MaxWait: time.Minute})
	var running, peak atomic.Int64
	h.derive = func(pw, salt []byte, p Params) []byte {
		n := running.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		defer running.Add(-1)
		return idKey(pw, salt, p)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := h.Hash(t.Context(), "password"); err != nil {
				t.Errorf("Hash() error = %v", err)
			}
		})
	}
	wg.Wait()
	if got := peak.Load(); got > limit {
		t.Errorf("peak concurrent argon2 runs = %d, want at most %d", got, limit)
	}
}

// TestDummyParity checks that Dummy does what a failed Verify does: one
// argon2id run with the Hasher's parameters, in an admitted slot.
func TestDummyParity(t *testing.T) {
	t.Parallel()
	params := Params{Memory: 128, Time: 2, Threads: 2, SaltLen: 16, KeyLen: 32}
	h := NewHasher(Options{Params: params, MaxConcurrent: 1})
	type run struct {
		params  Params
		saltLen int
		slots   int
	}
	var mu sync.Mutex
	var runs []run
	h.derive = func(pw, salt []byte, p Params) []byte {
		mu.Lock()
		runs = append(runs, run{params: p, saltLen: len(salt), slots: len(h.sem)})
		mu.Unlock()
		return idKey(pw, salt, p)
	}
	ctx := t.Context()
	encoded, err := h.Hash(ctx, "the real password")
	if err != nil {
		t.Fatalf("Hash() error = %v", err)
	}
	if match, _, err := h.Verify(ctx, "a wrong password", encoded); err != nil || match {
		t.Fatalf("Verify(wrong) = (%v, %v), want (false, <nil>)", match, err)
	}
	if err := h.Dummy(ctx, "a wrong password"); err != nil {
		t.Fatalf("Dummy() error = %v", err)
	}
	// Every run uses h's params as they would be decoded from a stored
	// hash (salt and key lengths included), holding the one slot.
	want := run{params: params, saltLen: 16, slots: 1}
	if len(runs) != 3 {
		t.Fatalf("argon2 runs = %d, want 3 (Hash, Verify, Dummy)", len(runs))
	}
	for i, got := range runs {
		if got != want {
			t.Errorf("argon2 run %d = %+v, want %+v", i, got, want)
		}
	}
	// The dummy hash itself is well formed, and no password matches it.
	if _, err := decode(h.dummy); err != nil {
		t.Errorf("decode(dummy) error = %v", err)
	}
	other := NewHasher(Options{Params: params})
	if h.dummy == other.dummy {
		t.Errorf("two Hashers share a dummy hash, want a random one each")
	}
}

func TestEncodeDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		params Params
	}{
		{name: "default", params: DefaultParams()},
		{name: "cheap", params: cheap},
		{name: "upper bounds", params: Params{Memory: maxMemory, Time: maxTime, Threads: maxThreads, SaltLen: maxSaltLen, KeyLen: maxKeyLen}},
		{name: "lower bounds", params: Params{Memory: 8, Time: 1, Threads: 1, SaltLen: minSaltLen, KeyLen: minKeyLen}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			salt, key := random(tt.params.SaltLen), random(tt.params.KeyLen)
			s := encode(tt.params, salt, key)
			d, err := decode(s)
			if err != nil {
				t.Fatalf("decode(encode(%+v)) error = %v", tt.params, err)
			}
			if d.params != tt.params || string(d.salt) != string(salt) || string(d.key) != string(key) {
				t.Errorf("decode(encode()) = %+v, want params %+v and the same salt and key", d, tt.params)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	valid := encode(DefaultParams(), make([]byte, 16), make([]byte, 32))
	for _, s := range []string{
		valid,
		"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$55PWTvddWPUD1GMbKxSff4ASfF85k9ibHJt4HlHQtBM",
		valid[:len(valid)/2],
		"$argon2id$v=19$m=4294967295,t=4294967295,p=255$c29tZXNhbHRzb21lc2FsdA$55PWTvddWPUD1GMbKxSff4ASfF85k9ibHJt4HlHQtBM",
		"$argon2id$v=19$m=99999999999999999999,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=64,t=1,p=1$!!!notbase64$55PWTvddWPUD1GMbKxSff4ASfF85k9ibHJt4HlHQtBM",
		"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA==$55PWTvddWPUD1GMbKxSff4ASfF85k9ibHJt4HlHQtBM",
		"$argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$55PWTvddWPUD1GMbKxSff4ASfF85k9ibHJt4HlHQtBM",
		"",
		"$$$$$",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := decode(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("decode() error = %v, want %v", err, ErrMalformedHash)
			}
			return
		}
		p := d.params
		if p.Memory > 256*1024 || p.Memory < 8*uint32(p.Threads) ||
			p.Time < 1 || p.Time > 16 || p.Threads < 1 || p.Threads > 16 ||
			len(d.salt) < 8 || len(d.salt) > 64 || len(d.key) < 16 || len(d.key) > 64 {
			t.Fatalf("decode() accepted out-of-bounds %+v (salt %d, key %d bytes)", p, len(d.salt), len(d.key))
		}
		if p.SaltLen != uint32(len(d.salt)) || p.KeyLen != uint32(len(d.key)) {
			t.Fatalf("decode() params %+v disagree with salt %d and key %d bytes", p, len(d.salt), len(d.key))
		}
		// Accepted strings are canonical: encoding them back is the identity.
		if got := encode(p, d.salt, d.key); got != s {
			t.Fatalf("encode(decode(%q)) = %q, want the input", s, got)
		}
	})
}
