package auth

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Input limits.
const (
	MinPasswordLen = 8   // characters
	MaxPasswordLen = 128 // characters
	maxEmailLen    = 254 // RFC 5321 path limit
)

// NormalizeEmail trims and lower-cases email and checks its syntax. It is
// the one place where emails are validated, so lookups and storage agree.
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	if e == "" {
		return "", invalidInput("email is required")
	}
	if len(e) > maxEmailLen {
		return "", invalidInput("email is longer than 254 bytes")
	}
	if strings.IndexFunc(e, unicode.IsControl) >= 0 || strings.ContainsAny(e, " <>") {
		return "", invalidInput("email is not a valid address")
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || addr.Name != "" {
		return "", invalidInput("email is not a valid address")
	}
	return e, nil
}

// CheckPassword checks a new password's length. Passwords are taken exactly
// as given: no trimming and no composition rules (NIST SP 800-63B).
func CheckPassword(field, password string) error {
	if !utf8.ValidString(password) {
		return invalidInput(field + " is not valid UTF-8")
	}
	n := utf8.RuneCountInString(password)
	if n < MinPasswordLen {
		return invalidInput(field + " must be at least 8 characters")
	}
	if n > MaxPasswordLen {
		return invalidInput(field + " must be at most 128 characters")
	}
	return nil
}
