package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// ErrBusy reports that no hashing slot became free before the wait ended:
// the caller's deadline passed, or MaxWait when the caller has none.
var ErrBusy = errors.New("password: hashing capacity exhausted")

// ErrMalformedHash reports a stored hash that cannot be parsed or whose
// parameters are out of bounds.
var ErrMalformedHash = errors.New("password: malformed hash")

// Params are argon2id parameters.
type Params struct {
	// Memory is the memory cost in KiB.
	Memory uint32
	// Time is the number of passes over the memory.
	Time uint32
	// Threads is the degree of parallelism (lanes).
	Threads uint8
	// SaltLen is the length of the random salt in bytes.
	SaltLen uint32
	// KeyLen is the length of the derived key in bytes.
	KeyLen uint32
}

// DefaultParams returns the OWASP minimum for argon2id: m=19 MiB, t=2, p=1,
// with a 16-byte salt and a 32-byte key. It is a function rather than a
// variable so no caller can change the default for everyone.
func DefaultParams() Params {
	return Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// DefaultMaxWait is how long a call waits for a hashing slot when its
// context has no deadline and Options.MaxWait is zero.
const DefaultMaxWait = 5 * time.Second

// Options configure a Hasher.
type Options struct {
	// Params are used for new hashes; stored hashes with other parameters
	// are reported for rehashing. Zero means DefaultParams.
	Params Params
	// MaxConcurrent bounds the argon2 computations running at once, and so
	// the memory they use (MaxConcurrent × Params.Memory). Zero or less
	// means runtime.GOMAXPROCS(0).
	MaxConcurrent int
	// MaxWait bounds the wait for a slot when the context has no deadline.
	// Zero or less means DefaultMaxWait.
	MaxWait time.Duration
	// OnQueue, when not nil, is called with the number of waiting callers
	// each time a caller starts or stops waiting, for metrics. It must be
	// fast and safe for concurrent use.
	OnQueue func(waiting int)
}

// Hasher hashes and verifies passwords under admission control. It is safe
// for concurrent use.
//
// Hash, Verify and Dummy wait for a slot until ctx's deadline, or MaxWait
// when ctx has none, and then fail with ErrBusy. A ctx that is already
// done, or is canceled while waiting, gives an error wrapping ctx.Err()
// (context.Canceled or context.DeadlineExceeded) instead.
type Hasher struct {
	params  Params
	sem     chan struct{}
	maxWait time.Duration
	onQueue func(int)
	waiting atomic.Int64
	// dummy is a well-formed hash with h's parameters and random salt and
	// key, so no password matches it; Dummy verifies against it.
	dummy string
	// derive computes the key. It is argon2.IDKey except in tests, which
	// count calls through it.
	derive func(password, salt []byte, p Params) []byte
}

// NewHasher returns a Hasher configured by o. It panics if o.Params is set
// and fails Params.Validate: parameters are configuration, checked at
// start-up.
func NewHasher(o Options) *Hasher {
	p := o.Params
	if p == (Params{}) {
		p = DefaultParams()
	}
	if err := p.Validate(); err != nil {
		panic(err)
	}
	n := o.MaxConcurrent
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	wait := o.MaxWait
	if wait <= 0 {
		wait = DefaultMaxWait
	}
	return &Hasher{
		params:  p,
		sem:     make(chan struct{}, n),
		maxWait: wait,
		onQueue: o.OnQueue,
		dummy:   encode(p, random(p.SaltLen), random(p.KeyLen)),
		derive:  idKey,
	}
}

// Params returns the parameters h uses for new hashes.
func (h *Hasher) Params() Params { return h.params }

// Waiting returns the number of callers waiting for a hashing slot.
func (h *Hasher) Waiting() int { return int(h.waiting.Load()) }

// Hash returns the PHC string of password hashed with h's parameters and a
// fresh random salt.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := random(h.params.SaltLen)
	key, err := h.compute(ctx, password, salt, h.params)
	if err != nil {
		return "", err
	}
	return encode(h.params, salt, key), nil
}

// Verify reports whether password matches encoded, and, when it does,
// whether encoded was made with parameters other than h's, so the caller
// rehashes the password and stores the new hash. rehash is never true
// without match. A hash that cannot be parsed or is out of bounds gives
// ErrMalformedHash.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (match, rehash bool, err error) {
	d, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	key, err := h.compute(ctx, password, d.salt, d.params)
	if err != nil {
		return false, false, err
	}
	if subtle.ConstantTimeCompare(key, d.key) != 1 {
		return false, false, nil
	}
	return true, d.params != h.params, nil
}

// Dummy does the work of a failed Verify against a hash with h's parameters
// (parse, admission, argon2id, comparison) and discards the result, so
// that a login for an unknown account costs what a wrong password costs.
// It returns only admission and context errors.
func (h *Hasher) Dummy(ctx context.Context, password string) error {
	_, _, err := h.Verify(ctx, password, h.dummy)
	return err
}

// compute runs argon2id in an admitted slot.
func (h *Hasher) compute(ctx context.Context, password string, salt []byte, p Params) ([]byte, error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	defer h.release()
	return h.derive([]byte(password), salt, p), nil
}

// acquire takes a hashing slot. It waits until ctx's deadline, or h.maxWait
// when ctx has none, and then gives ErrBusy. Cancellation gives ctx.Err().
func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("password: %w", err)
	}
	select {
	case h.sem <- struct{}{}:
		return h.admitted(ctx)
	default:
	}

	h.queue(1)
	defer h.queue(-1)
	var expired <-chan time.Time
	if _, ok := ctx.Deadline(); !ok {
		t := time.NewTimer(h.maxWait)
		defer t.Stop()
		expired = t.C
	}
	select {
	case h.sem <- struct{}{}:
		return h.admitted(ctx)
	case <-expired:
		return ErrBusy
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return ErrBusy
		}
		return fmt.Errorf("password: %w", ctx.Err())
	}
}

// admitted re-checks ctx after a slot was taken, since select picks at
// random when the slot and ctx.Done are ready together, and gives the slot
// back if ctx ended.
func (h *Hasher) admitted(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		h.release()
		return fmt.Errorf("password: %w", err)
	}
	return nil
}

// release frees a slot taken by acquire.
func (h *Hasher) release() { <-h.sem }

// queue adds delta to the number of waiters and reports the new count.
func (h *Hasher) queue(delta int64) {
	n := h.waiting.Add(delta)
	if h.onQueue != nil {
		h.onQueue(int(n))
	}
}

// idKey is argon2id with p.
func idKey(password, salt []byte, p Params) []byte {
	return argon2.IDKey(password, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
}

// random returns n bytes from crypto/rand, which never fails.
func random(n uint32) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
