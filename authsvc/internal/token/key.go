package token

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrInvalidKey reports key material that is not an Ed25519 key in a
// supported PEM encoding. Errors wrapping it never contain key bytes.
var ErrInvalidKey = errors.New("token: invalid key")

// Key is an Ed25519 signing key with its key id, the RFC 7638 JWK
// thumbprint (base64url, SHA-256) of the public key.
type Key struct {
	// ID is the key id, sent as the kid header of every token.
	ID string
	// Private signs tokens.
	Private ed25519.PrivateKey
}

// NewKey returns priv with its key id.
func NewKey(priv ed25519.PrivateKey) Key {
	return Key{ID: thumbprint(priv.Public().(ed25519.PublicKey)), Private: priv}
}

// thumbprint is the RFC 7638 thumbprint of an Ed25519 public key: the
// SHA-256 of its required JWK members (RFC 8037 section 2) in
// lexicographic order with no whitespace, base64url without padding.
func thumbprint(pub ed25519.PublicKey) string {
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Block types of the PEM encodings accepted and written here.
const (
	pemPrivate = "PRIVATE KEY" // PKCS #8, as `openssl genpkey -algorithm ed25519` writes
	pemPublic  = "PUBLIC KEY"  // PKIX, as `openssl pkey -pubout` writes
)

// ParsePrivateKeyPEM parses an Ed25519 private key from a PEM "PRIVATE KEY"
// (PKCS #8) block, which is what `openssl genpkey -algorithm ed25519`
// writes. RSA, EC and encrypted keys, and anything else, give an error
// wrapping ErrInvalidKey that names the problem but not the key bytes.
func ParsePrivateKeyPEM(pemBytes []byte) (ed25519.PrivateKey, error) {
	der, err := pemBlock(pemBytes, pemPrivate)
	if err != nil {
		return nil, err
	}
	return parsePKCS8(der)
}

// ParsePublicKeyPEM parses an Ed25519 public key from a PEM "PUBLIC KEY"
// (PKIX) block, or derives it from a "PRIVATE KEY" (PKCS #8) block.
func ParsePublicKeyPEM(pemBytes []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block != nil && block.Type == pemPrivate {
		priv, err := parsePKCS8(block.Bytes)
		if err != nil {
			return nil, err
		}
		return priv.Public().(ed25519.PublicKey), nil
	}
	der, err := pemBlock(pemBytes, pemPublic)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: not a PKIX public key", ErrInvalidKey)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s public key, want Ed25519", ErrInvalidKey, keyKind(k))
	}
	return pub, nil
}

// MarshalPrivateKeyPEM encodes priv as a PEM "PRIVATE KEY" (PKCS #8)
// block, the form ParsePrivateKeyPEM and openssl read.
func MarshalPrivateKeyPEM(priv ed25519.PrivateKey) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: Ed25519 private key of %d bytes, want %d", ErrInvalidKey, len(priv), ed25519.PrivateKeySize)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("token: marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivate, Bytes: der}), nil
}

// LoadOrGenerate reads the PEM private key at path. When the file does not
// exist it generates a key and writes it there atomically with mode 0600,
// creating the directory with mode 0700 if needed; generated reports
// which happened. An existing file is never overwritten, even when two
// processes start at once: the loser of that race loads the winner's key.
func LoadOrGenerate(path string) (key ed25519.PrivateKey, generated bool, err error) {
	key, err = load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	_, key, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("token: generate key: %w", err)
	}
	pemBytes, err := MarshalPrivateKeyPEM(key)
	if err != nil {
		return nil, false, err
	}
	created, err := createExclusive(path, pemBytes)
	if err != nil {
		return nil, false, err
	}
	if !created {
		key, err = load(path)
		return key, false, err
	}
	return key, true, nil
}

// load reads and parses the key file at path. A missing file gives an
// error matching fs.ErrNotExist.
func load(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("token: read key file: %w", err)
	}
	key, err := ParsePrivateKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("token: key file %s: %w", path, err)
	}
	return key, nil
}

// createExclusive writes data to path in one step: it fills a temporary
// file in the same directory, syncs it, and hard-links it into place,
// which fails instead of replacing a file that appeared meanwhile. So a
// reader never sees a partial key, and created is false when another
// writer got there first.
func createExclusive(path string, data []byte) (created bool, err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("token: create key directory: %w", err)
	}
	// CreateTemp makes the file with mode 0600.
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return false, fmt.Errorf("token: create key file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return false, fmt.Errorf("token: create key file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return false, fmt.Errorf("token: write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return false, fmt.Errorf("token: write key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("token: write key file: %w", err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("token: install key file: %w", err)
	}
	syncDir(dir)
	return true, nil
}

// syncDir makes the new directory entry durable. It is best effort: the
// key is already complete on disk, and some platforms cannot sync a
// directory.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// pemBlock returns the DER bytes of the first PEM block in b, which must
// be of type want.
func pemBlock(b []byte, want string) ([]byte, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block found", ErrInvalidKey)
	}
	if block.Type != want {
		return nil, fmt.Errorf("%w: PEM block %q, want %q%s", ErrInvalidKey, clip(block.Type), want, hint(block.Type))
	}
	return block.Bytes, nil
}

// hint says how to get the wanted form from a PEM block type seen in the
// wild.
func hint(blockType string) string {
	switch blockType {
	case "ENCRYPTED PRIVATE KEY":
		return " (the key must not be encrypted)"
	case "RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY":
		return " (make an Ed25519 key: openssl genpkey -algorithm ed25519)"
	}
	return ""
}

// parsePKCS8 parses a PKCS #8 Ed25519 private key.
func parsePKCS8(der []byte) (ed25519.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: not a PKCS #8 private key", ErrInvalidKey)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s private key, want Ed25519 (openssl genpkey -algorithm ed25519)", ErrInvalidKey, keyKind(k))
	}
	return priv, nil
}

// keyKind names the algorithm of a parsed key for error messages.
func keyKind(k any) string {
	switch k.(type) {
	case *rsa.PrivateKey, *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PrivateKey, *ecdsa.PublicKey:
		return "ECDSA"
	case *ecdh.PrivateKey, *ecdh.PublicKey:
		return "ECDH (X25519)"
	}
	return fmt.Sprintf("%T", k)
}

// clip bounds attacker-controlled text quoted in an error.
func clip(s string) string {
	const n = 40
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
