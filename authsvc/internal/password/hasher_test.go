package password_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/acme/authgw/authsvc/internal/password"
)

// cheap keeps the suite fast; the bounds still hold (m >= 8*p).
var cheap = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashVerify(t *testing.T) {
	t.Parallel()
	h := password.NewHasher(password.Options{Params: cheap})
	ctx := t.Context()
	const pw = "correct horse battery staple"
	encoded, err := h.Hash(ctx, pw)
	if err != nil {
		t.Fatalf("Hash() error = %v", err)
	}
	if want := "$argon2id$v=19$m=64,t=1,p=1$"; !strings.HasPrefix(encoded, want) {
		t.Fatalf("Hash() = %q, want prefix %q", encoded, want)
	}
	again, err := h.Hash(ctx, pw)
	if err != nil {
		t.Fatalf("Hash() error = %v", err)
	}
	if again == encoded {
		t.Errorf("Hash() twice gave the same string %q, want a fresh salt each time", again)
	}

	tests := []struct {
		name      string
		password  string
		wantMatch bool
	}{
		{name: "same password", password: pw, wantMatch: true},
		{name: "wrong password", password: "correct horse battery stapler"},
		{name: "empty password", password: ""},
		{name: "case differs", password: strings.ToUpper(pw)},
		{name: "trailing space is not trimmed", password: pw + " "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			match, rehash, err := h.Verify(t.Context(), tt.password, encoded)
			if err != nil {
				t.Fatalf("Verify() error = %v", err)
			}
			if match != tt.wantMatch {
				t.Errorf("Verify() match = %v, want %v", match, tt.wantMatch)
			}
			if rehash {
				t.Errorf("Verify() rehash = true, want false for a hash with h's own parameters")
			}
		})
	}
}

func TestVerifyRehash(t *testing.T) {
	t.Parallel()
	const pw = "hunter2hunter2"
	old := password.NewHasher(password.Options{Params: cheap})
	encoded, err := old.Hash(t.Context(), pw)
	if err != nil {
		t.Fatalf("Hash() error = %v", err)
	}

	tests := []struct {
		name       string
		params     password.Params
		password   string
		wantMatch  bool
		wantRehash bool
	}{
		{name: "same params", params: cheap, password: pw, wantMatch: true},
		{name: "more memory", params: with(func(p *password.Params) { p.Memory = 128 }), password: pw, wantMatch: true, wantRehash: true},
		{name: "more time", params: with(func(p *password.Params) { p.Time = 2 }), password: pw, wantMatch: true, wantRehash: true},
		{name: "more threads", params: with(func(p *password.Params) { p.Threads = 2 }), password: pw, wantMatch: true, wantRehash: true},
		{name: "longer salt", params: with(func(p *password.Params) { p.SaltLen = 32 }), password: pw, wantMatch: true, wantRehash: true},
		{name: "longer key", params: with(func(p *password.Params) { p.KeyLen = 64 }), password: pw, wantMatch: true, wantRehash: true},
		{name: "wrong password never asks for rehash", params: with(func(p *password.Params) { p.Time = 2 }), password: "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := password.NewHasher(password.Options{Params: tt.params})
			match, rehash, err := h.Verify(t.Context(), tt.password, encoded)
			if err != nil {
				t.Fatalf("Verify() error = %v", err)
			}
			if match != tt.wantMatch || rehash != tt.wantRehash {
				t.Errorf("Verify() = (match %v, rehash %v), want (%v, %v)", match, rehash, tt.wantMatch, tt.wantRehash)
			}
			if !rehash {
				return
			}
			// The rehash made with the new parameters verifies without
			// asking again.
			fresh, err := h.Hash(t.Context(), tt.password)
			if err != nil {
				t.Fatalf("Hash() error = %v", err)
			}
			match, rehash, err = h.Verify(t.Context(), tt.password, fresh)
			if err != nil || !match || rehash {
				t.Errorf("Verify(rehashed) = (%v, %v, %v), want (true, false, <nil>)", match, rehash, err)
			}
		})
	}
}

func with(f func(*password.Params)) password.Params {
	p := cheap
	f(&p)
	return p
}

func TestVerifyMalformed(t *testing.T) {
	t.Parallel()
	h := password.NewHasher(password.Options{Params: cheap})
	valid, err := h.Hash(t.Context(), "password")
	if err != nil {
		t.Fatalf("Hash() error = %v", err)
	}
	fields := strings.Split(valid, "$")
	salt, key := fields[4], fields[5]
	phc := func(alg, version, params, salt, key string) string {
		return strings.Join([]string{"", alg, version, params, salt, key}, "$")
	}
	b64 := func(n int) string { return strings.Repeat("A", (n*8+5)/6) }

	tests := []struct {
		name    string
		encoded string
	}{
		{name: "empty", encoded: ""},
		{name: "garbage", encoded: "not a hash"},
		{name: "bcrypt", encoded: "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"},
		{name: "argon2i", encoded: phc("argon2i", "v=19", "m=64,t=1,p=1", salt, key)},
		{name: "argon2d", encoded: phc("argon2d", "v=19", "m=64,t=1,p=1", salt, key)},
		{name: "upper-case algorithm", encoded: phc("ARGON2ID", "v=19", "m=64,t=1,p=1", salt, key)},
		{name: "version 16", encoded: phc("argon2id", "v=16", "m=64,t=1,p=1", salt, key)},
		{name: "missing version", encoded: "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{name: "truncated", encoded: valid[:len(valid)-len(key)-1]},
		{name: "extra field", encoded: valid + "$AAAA"},
		{name: "no leading dollar", encoded: valid[1:]},
		{name: "params out of order", encoded: phc("argon2id", "v=19", "t=1,m=64,p=1", salt, key)},
		{name: "extra param", encoded: phc("argon2id", "v=19", "m=64,t=1,p=1,keyid=x", salt, key)},
		{name: "leading zero", encoded: phc("argon2id", "v=19", "m=064,t=1,p=1", salt, key)},
		{name: "plus sign", encoded: phc("argon2id", "v=19", "m=+64,t=1,p=1", salt, key)},
		{name: "negative", encoded: phc("argon2id", "v=19", "m=-64,t=1,p=1", salt, key)},
		{name: "memory over 256 MiB", encoded: phc("argon2id", "v=19", "m=262145,t=1,p=1", salt, key)},
		{name: "memory overflows uint32", encoded: phc("argon2id", "v=19", "m=4294967296,t=1,p=1", salt, key)},
		{name: "memory below 8 per lane", encoded: phc("argon2id", "v=19", "m=15,t=1,p=2", salt, key)},
		{name: "time zero", encoded: phc("argon2id", "v=19", "m=64,t=0,p=1", salt, key)},
		{name: "time 17", encoded: phc("argon2id", "v=19", "m=64,t=17,p=1", salt, key)},
		{name: "threads zero", encoded: phc("argon2id", "v=19", "m=64,t=1,p=0", salt, key)},
		{name: "threads 17", encoded: phc("argon2id", "v=19", "m=256,t=1,p=17", salt, key)},
		{name: "threads overflow uint8", encoded: phc("argon2id", "v=19", "m=4096,t=1,p=257", salt, key)},
		{name: "salt 7 bytes", encoded: phc("argon2id", "v=19", "m=64,t=1,p=1", b64(7), key)},
		{name: "salt 65 bytes", encoded: phc("argon2id", "v=19", "m=64,t=1,p=1", b64(65), key)},
		{name: "key 15 bytes", encoded: phc("argon2id", "v=19", "m=64,t=1,p=1", salt, b64(15))},
		{name: "key 65 bytes", encoded: phc("argon2id", "v=19", "m=64,t=1,p=1", salt, b64(65))},
		{name: "empty key", encoded: phc("argon2id", "v=19", "m=64,t=1,p=1", salt, "")},
		{name: "salt with padding", encoded: phc("argon2id", "v=19", "m=64,t=1,p=1", salt+"==", key)},
		{name: "salt url alphabet", encoded: phc("argon2id", "v=19", "m=64,t=1,p=1", "____________________", key)},
		{name: "key not base64", encoded: phc("argon2id", "v=19", "m=64,t=1,p=1", salt, "!!!!"+key[4:])},
		{name: "non-canonical trailing bits", encoded: phc("argon2id", "v=19", "m=64,t=1,p=1", salt[:len(salt)-1]+"B", key)},
		{name: "newline in key", encoded: phc("argon2id", "v=19", "m=64,t=1,p=1", salt, key[:10]+"\n"+key[10:])},
		{name: "huge input", encoded: phc("argon2id", "v=19", "m=64,t=1,p=1", strings.Repeat("A", 1<<20), key)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			match, rehash, err := h.Verify(t.Context(), "password", tt.encoded)
			if !errors.Is(err, password.ErrMalformedHash) {
				t.Fatalf("Verify() error = %v, want %v", err, password.ErrMalformedHash)
			}
			if match || rehash {
				t.Errorf("Verify() = (%v, %v), want (false, false)", match, rehash)
			}
			if len(tt.encoded) > 8 && strings.Contains(err.Error(), tt.encoded) {
				t.Errorf("Verify() error %q contains the stored hash", err)
			}
		})
	}
}

// TestKnownVector pins the format and the key derivation against a hash
// made by the reference implementation (Debian's argon2 CLI):
//
//	echo -n password | argon2 somesaltsomesalt -id -t 1 -m 6 -p 1 -l 32 -e
func TestKnownVector(t *testing.T) {
	t.Parallel()
	const encoded = "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$55PWTvddWPUD1GMbKxSff4ASfF85k9ibHJt4HlHQtBM"
	h := password.NewHasher(password.Options{Params: cheap})
	match, rehash, err := h.Verify(t.Context(), "password", encoded)
	if err != nil || !match || rehash {
		t.Errorf("Verify(reference hash) = (%v, %v, %v), want (true, false, <nil>)", match, rehash, err)
	}
}

func TestCanceled(t *testing.T) {
	t.Parallel()
	h := password.NewHasher(password.Options{Params: cheap})
	encoded, err := h.Hash(t.Context(), "password")
	if err != nil {
		t.Fatalf("Hash() error = %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	tests := []struct {
		name string
		call func(context.Context) error
	}{
		{name: "Hash", call: func(ctx context.Context) error { _, err := h.Hash(ctx, "password"); return err }},
		{name: "Verify", call: func(ctx context.Context) error { _, _, err := h.Verify(ctx, "password", encoded); return err }},
		{name: "Dummy", call: func(ctx context.Context) error { return h.Dummy(ctx, "password") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call(ctx)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s(canceled) error = %v, want %v", tt.name, err, context.Canceled)
			}
			if errors.Is(err, password.ErrBusy) {
				t.Errorf("%s(canceled) error = %v, want not %v", tt.name, err, password.ErrBusy)
			}
		})
	}
}

func TestParamsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		params  password.Params
		wantErr bool
	}{
		{name: "default", params: password.DefaultParams()},
		{name: "cheap", params: cheap},
		{name: "zero", params: password.Params{}, wantErr: true},
		{name: "memory too high", params: with(func(p *password.Params) { p.Memory = 256*1024 + 1 }), wantErr: true},
		{name: "memory at bound", params: with(func(p *password.Params) { p.Memory = 256 * 1024 })},
		{name: "short salt", params: with(func(p *password.Params) { p.SaltLen = 7 }), wantErr: true},
		{name: "short key", params: with(func(p *password.Params) { p.KeyLen = 15 }), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.params.Validate()
			if (err != nil) != tt.wantErr {
				t.Errorf("%+v.Validate() error = %v, want error %v", tt.params, err, tt.wantErr)
			}
		})
	}
}

func TestDefaultParams(t *testing.T) {
	t.Parallel()
	got := password.DefaultParams()
	want := password.Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
	if got != want {
		t.Errorf("DefaultParams() = %+v, want %+v", got, want)
	}
	if got := password.NewHasher(password.Options{}).Params(); got != want {
		t.Errorf("NewHasher(Options{}).Params() = %+v, want %+v", got, want)
	}
}
