package token_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/acme/authgw/authsvc/internal/token"
)

// The files in testdata were made once with openssl 3:
//
//	openssl genpkey -algorithm ed25519 -out ed25519.pem
//	openssl pkey -in ed25519.pem -pubout -out ed25519.pub.pem
//	openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:1024 -out rsa.pem
//	openssl pkey -in rsa.pem -traditional -out rsa-traditional.pem
//	openssl pkey -in rsa.pem -pubout -out rsa.pub.pem
//	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem
//	openssl genpkey -algorithm ed25519 | openssl pkcs8 -topk8 -passout pass:secret -out ed25519-encrypted.pem

func TestParsePrivateKeyPEM(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string // in testdata, or
		pem  []byte
		// want is in the error's text; "" means success.
		want string
	}{
		{name: "openssl ed25519", file: "ed25519.pem"},
		{name: "openssl RSA PKCS #8", file: "rsa.pem", want: "RSA private key, want Ed25519"},
		{name: "openssl RSA traditional", file: "rsa-traditional.pem", want: `"RSA PRIVATE KEY"`},
		{name: "openssl EC", file: "ec.pem", want: "ECDSA private key, want Ed25519"},
		{name: "encrypted", file: "ed25519-encrypted.pem", want: "must not be encrypted"},
		{name: "public key", file: "ed25519.pub.pem", want: `"PUBLIC KEY"`},
		{name: "empty", pem: nil, want: "no PEM block"},
		{name: "garbage", pem: []byte("not a key at all"), want: "no PEM block"},
		{name: "raw seed", pem: bytes.Repeat([]byte{7}, 32), want: "no PEM block"},
		{name: "bad DER", pem: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("definitely not DER")}), want: "not a PKCS #8"},
		{name: "long block type", pem: pem.EncodeToMemory(&pem.Block{Type: strings.Repeat("X", 200), Bytes: []byte{1}}), want: "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := tt.pem
			if tt.file != "" {
				in = readFile(t, filepath.Join("testdata", tt.file))
			}
			key, err := token.ParsePrivateKeyPEM(in)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ParsePrivateKeyPEM() error = %v", err)
				}
				if len(key) != ed25519.PrivateKeySize {
					t.Errorf("ParsePrivateKeyPEM() key of %d bytes, want %d", len(key), ed25519.PrivateKeySize)
				}
				return
			}
			if !errors.Is(err, token.ErrInvalidKey) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParsePrivateKeyPEM() error = %v, want %v mentioning %q", err, token.ErrInvalidKey, tt.want)
			}
			noKeyBytes(t, err, in)
		})
	}
}

// noKeyBytes fails if err quotes any line of the PEM body in.
func noKeyBytes(t *testing.T, err error, in []byte) {
	t.Helper()
	for line := range strings.Lines(string(in)) {
		line = strings.TrimSpace(line)
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(err.Error(), line) {
			t.Errorf("error %q quotes key material %q", err, line)
		}
	}
}

func TestParsePublicKeyPEM(t *testing.T) {
	t.Parallel()
	priv, err := token.ParsePrivateKeyPEM(readFile(t, "testdata/ed25519.pem"))
	if err != nil {
		t.Fatal(err)
	}
	want := priv.Public().(ed25519.PublicKey)
	tests := []struct {
		name    string
		file    string
		wantErr string
	}{
		{name: "openssl public key", file: "ed25519.pub.pem"},
		{name: "private key", file: "ed25519.pem"},
		{name: "RSA public key", file: "rsa.pub.pem", wantErr: "RSA public key, want Ed25519"},
		{name: "RSA private key", file: "rsa.pem", wantErr: "RSA private key, want Ed25519"},
		{name: "encrypted private key", file: "ed25519-encrypted.pem", wantErr: "must not be encrypted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := readFile(t, filepath.Join("testdata", tt.file))
			got, err := token.ParsePublicKeyPEM(in)
			if tt.wantErr != "" {
				if !errors.Is(err, token.ErrInvalidKey) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParsePublicKeyPEM() error = %v, want %v mentioning %q", err, token.ErrInvalidKey, tt.wantErr)
				}
				noKeyBytes(t, err, in)
				return
			}
			if err != nil {
				t.Fatalf("ParsePublicKeyPEM() error = %v", err)
			}
			if !got.Equal(want) {
				t.Errorf("ParsePublicKeyPEM() = %x, want %x", []byte(got), []byte(want))
			}
		})
	}
}

// TestMarshalPrivateKeyPEM checks that the encoding is the one openssl
// writes, byte for byte, so key files can move between the two.
func TestMarshalPrivateKeyPEM(t *testing.T) {
	t.Parallel()
	in := readFile(t, "testdata/ed25519.pem")
	key, err := token.ParsePrivateKeyPEM(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := token.MarshalPrivateKeyPEM(key)
	if err != nil {
		t.Fatalf("MarshalPrivateKeyPEM() error = %v", err)
	}
	if !bytes.Equal(got, in) {
		t.Errorf("MarshalPrivateKeyPEM() =\n%s\nwant the openssl file\n%s", got, in)
	}
	if _, err := token.MarshalPrivateKeyPEM(key[:32]); !errors.Is(err, token.ErrInvalidKey) {
		t.Errorf("MarshalPrivateKeyPEM(32 bytes) error = %v, want %v", err, token.ErrInvalidKey)
	}
}

func TestLoadOrGenerate(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data", "keys")
	path := filepath.Join(dir, "signing.pem")

	key, generated, err := token.LoadOrGenerate(path)
	if err != nil {
		t.Fatalf("LoadOrGenerate(missing) error = %v", err)
	}
	if !generated {
		t.Errorf("LoadOrGenerate(missing) generated = false, want true")
	}
	if runtime.GOOS != "windows" {
		for name, want := range map[string]fs.FileMode{path: 0o600, dir: 0o700 | fs.ModeDir} {
			fi, err := os.Stat(name)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode(); got != want {
				t.Errorf("mode of %s = %v, want %v", name, got, want)
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("key directory holds %d entries, want only the key (no temporary file left)", len(entries))
	}

	again, generated, err := token.LoadOrGenerate(path)
	if err != nil {
		t.Fatalf("LoadOrGenerate(existing) error = %v", err)
	}
	if generated {
		t.Errorf("LoadOrGenerate(existing) generated = true, want false")
	}
	if !again.Equal(key) {
		t.Errorf("LoadOrGenerate(existing) returned another key than the one generated")
	}
	fromFile, err := token.ParsePrivateKeyPEM(readFile(t, path))
	if err != nil || !fromFile.Equal(key) {
		t.Errorf("key file holds another key (error %v)", err)
	}
}

func TestLoadOrGenerateExisting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content []byte
		wantErr bool
	}{
		{name: "openssl key", content: readFile(t, "testdata/ed25519.pem")},
		{name: "RSA key", content: readFile(t, "testdata/rsa.pem"), wantErr: true},
		{name: "empty file", content: []byte{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "key.pem")
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			key, generated, err := token.LoadOrGenerate(path)
			if generated {
				t.Errorf("LoadOrGenerate() generated = true, want false for an existing file")
			}
			if after := readFile(t, path); !bytes.Equal(after, tt.content) {
				t.Errorf("LoadOrGenerate() changed an existing key file")
			}
			if tt.wantErr {
				if !errors.Is(err, token.ErrInvalidKey) {
					t.Errorf("LoadOrGenerate() error = %v, want %v", err, token.ErrInvalidKey)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadOrGenerate() error = %v", err)
			}
			want, err := token.ParsePrivateKeyPEM(tt.content)
			if err != nil {
				t.Fatal(err)
			}
			if !key.Equal(want) {
				t.Errorf("LoadOrGenerate() returned another key than the file's")
			}
		})
	}
}

// TestLoadOrGenerateRace starts several processes' worth of callers at
// once on a missing file: exactly one generates, and all get its key.
func TestLoadOrGenerateRace(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "key.pem")
	const callers = 8
	keys := make([]ed25519.PrivateKey, callers)
	gen := make([]bool, callers)
	var wg sync.WaitGroup
	for n := range callers {
		wg.Go(func() {
			var err error
			keys[n], gen[n], err = token.LoadOrGenerate(path)
			if err != nil {
				t.Errorf("LoadOrGenerate() error = %v", err)
			}
		})
	}
	wg.Wait()
	generated := 0
	for n := range callers {
		if gen[n] {
			generated++
		}
		if !keys[n].Equal(keys[0]) {
			t.Errorf("caller %d got another key than caller 0", n)
		}
	}
	if generated != 1 {
		t.Errorf("%d callers generated a key, want 1", generated)
	}
}

func FuzzParsePrivateKeyPEM(f *testing.F) {
	for _, name := range []string{"ed25519.pem", "ed25519.pub.pem", "rsa.pem", "rsa-traditional.pem", "ec.pem", "ed25519-encrypted.pem"} {
		f.Add(readFile(f, filepath.Join("testdata", name)))
	}
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, in []byte) {
		key, err := token.ParsePrivateKeyPEM(in)
		if err != nil {
			if !errors.Is(err, token.ErrInvalidKey) {
				t.Fatalf("ParsePrivateKeyPEM() error = %v, want %v", err, token.ErrInvalidKey)
			}
			return
		}
		if len(key) != ed25519.PrivateKeySize {
			t.Fatalf("ParsePrivateKeyPEM() key of %d bytes, want %d", len(key), ed25519.PrivateKeySize)
		}
		out, err := token.MarshalPrivateKeyPEM(key)
		if err != nil {
			t.Fatalf("MarshalPrivateKeyPEM(parsed key) error = %v", err)
		}
		back, err := token.ParsePrivateKeyPEM(out)
		if err != nil || !back.Equal(key) {
			t.Fatalf("ParsePrivateKeyPEM(MarshalPrivateKeyPEM(key)) = %x, %v; want the key back", back, err)
		}
	})
}
