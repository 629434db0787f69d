package password

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Bounds on the parameters of a stored hash. They keep a tampered or corrupt
// row from making Verify allocate unbounded memory or spin for minutes.
const (
	maxMemory  = 256 * 1024 // KiB, 256 MiB
	maxTime    = 16
	maxThreads = 16
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64
	// maxEncodedLen bounds the input to decode before any parsing.
	maxEncodedLen = 512

	algorithm = "argon2id"
	version   = 19 // argon2.Version, 0x13
)

// b64 is the unpadded standard alphabet of the PHC string format. Strict
// rejects non-zero trailing bits so every hash has exactly one encoding.
var b64 = base64.RawStdEncoding.Strict()

// decoded is a parsed PHC string.
type decoded struct {
	params Params
	salt   []byte
	key    []byte
}

// Validate reports whether p is within the bounds Verify accepts for stored
// hashes, so a Hasher never writes a hash it would refuse to read back.
func (p Params) Validate() error {
	if r := p.problem(); r != "" {
		return errors.New("password: invalid parameters: " + r)
	}
	return nil
}

// problem names the first bound p violates, or returns "".
func (p Params) problem() string {
	switch {
	case p.Memory > maxMemory:
		return "memory above 256 MiB"
	case p.Threads == 0 || p.Threads > maxThreads:
		return "parallelism not in 1..16"
	case p.Memory < 8*uint32(p.Threads):
		return "memory below 8 KiB per lane"
	case p.Time == 0 || p.Time > maxTime:
		return "iterations not in 1..16"
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return "salt length not in 8..64 bytes"
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return "key length not in 16..64 bytes"
	}
	return ""
}

// encode formats a hash as
// $argon2id$v=19$m=<KiB>,t=<iterations>,p=<lanes>$<salt>$<key>.
func encode(p Params, salt, key []byte) string {
	var b strings.Builder
	b.Grow(64 + b64.EncodedLen(len(salt)) + b64.EncodedLen(len(key)))
	b.WriteString("$" + algorithm + "$v=")
	b.WriteString(strconv.Itoa(version))
	b.WriteString("$m=")
	b.WriteString(strconv.FormatUint(uint64(p.Memory), 10))
	b.WriteString(",t=")
	b.WriteString(strconv.FormatUint(uint64(p.Time), 10))
	b.WriteString(",p=")
	b.WriteString(strconv.FormatUint(uint64(p.Threads), 10))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(salt))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(key))
	return b.String()
}

// malformed wraps ErrMalformedHash with a fixed reason. The reason never
// contains any part of the input: a stored hash is a secret too.
func malformed(reason string) error {
	return fmt.Errorf("%w: %s", ErrMalformedHash, reason)
}

// decode parses and bounds-checks a PHC string written by encode. It is
// strict: the only accepted form is the canonical one encode writes.
func decode(s string) (decoded, error) {
	if len(s) > maxEncodedLen {
		return decoded{}, malformed("too long")
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return decoded{}, malformed("wrong number of fields")
	}
	if parts[1] != algorithm {
		return decoded{}, malformed("unsupported algorithm")
	}
	v, ok := strings.CutPrefix(parts[2], "v=")
	if !ok {
		return decoded{}, malformed("missing version")
	}
	if n, err := parseDecimal(v, 32); err != nil || n != version {
		return decoded{}, malformed("unsupported version")
	}
	p, err := parseParams(parts[3])
	if err != nil {
		return decoded{}, err
	}
	salt, ok := decodeB64(parts[4])
	if !ok {
		return decoded{}, malformed("salt is not base64")
	}
	key, ok := decodeB64(parts[5])
	if !ok {
		return decoded{}, malformed("key is not base64")
	}
	p.SaltLen = uint32(len(salt))
	p.KeyLen = uint32(len(key))
	if r := p.problem(); r != "" {
		return decoded{}, malformed(r)
	}
	return decoded{params: p, salt: salt, key: key}, nil
}

// decodeB64 decodes canonical unpadded standard base64. The decoder skips
// CR and LF, so the result is re-encoded and compared to s.
func decodeB64(s string) ([]byte, bool) {
	b, err := b64.DecodeString(s)
	if err != nil || b64.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}

// parseParams parses "m=<KiB>,t=<iterations>,p=<lanes>" in that order.
func parseParams(s string) (Params, error) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return Params{}, malformed("wrong number of parameters")
	}
	var vals [3]uint64
	for i, name := range [3]string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(fields[i], name)
		if !ok {
			return Params{}, malformed("unexpected parameter")
		}
		bits := 32
		if name == "p=" {
			bits = 8
		}
		n, err := parseDecimal(v, bits)
		if err != nil {
			return Params{}, malformed("parameter out of range")
		}
		vals[i] = n
	}
	return Params{Memory: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2])}, nil
}

// parseDecimal parses a canonical unsigned decimal: no sign, no leading
// zeros, fits in bits.
func parseDecimal(s string, bits int) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, err
	}
	if strconv.FormatUint(n, 10) != s {
		return 0, errors.New("password: non-canonical number")
	}
	return n, nil
}
