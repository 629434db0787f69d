package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// refreshTokenBytes is the entropy of a refresh token: 256 bits.
const refreshTokenBytes = 32

var refreshEncoding = base64.RawURLEncoding

// newRefreshToken returns a new opaque refresh token.
func newRefreshToken() (string, error) {
	b := make([]byte, refreshTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: refresh token: %w", err)
	}
	return refreshEncoding.EncodeToString(b), nil
}

// wellFormedRefreshToken reports whether t could be a token of
// newRefreshToken, so garbage is refused before any look-up.
func wellFormedRefreshToken(t string) bool {
	if len(t) != refreshEncoding.EncodedLen(refreshTokenBytes) {
		return false
	}
	_, err := refreshEncoding.DecodeString(t)
	return err == nil
}

// hashRefreshToken is the only form of a refresh token that is stored.
func hashRefreshToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// successorKey derives the key that seals a session's current refresh token
// for its predecessor. It is independent of the stored hash of the
// predecessor: only a holder of the predecessor token can derive it.
func successorKey(prev string) []byte {
	sum := sha256.Sum256([]byte("authsvc successor key v1\x00" + prev))
	return sum[:]
}

func successorAEAD(prev string) (cipher.AEAD, error) {
	block, err := aes.NewCipher(successorKey(prev))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealSuccessor encrypts next so that only the holder of prev can read it.
func sealSuccessor(prev, next string) (string, error) {
	aead, err := successorAEAD(prev)
	if err != nil {
		return "", fmt.Errorf("auth: seal successor: %w", err)
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("auth: seal successor: %w", err)
	}
	return base64.RawStdEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(next), nil)), nil
}

// openSuccessor decrypts the token sealed for prev.
func openSuccessor(prev, sealed string) (string, error) {
	b, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil {
		return "", fmt.Errorf("auth: open successor: %w", err)
	}
	aead, err := successorAEAD(prev)
	if err != nil {
		return "", fmt.Errorf("auth: open successor: %w", err)
	}
	if len(b) < aead.NonceSize() {
		return "", fmt.Errorf("auth: open successor: too short")
	}
	pt, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], nil)
	if err != nil {
		return "", fmt.Errorf("auth: open successor: %w", err)
	}
	return string(pt), nil
}
