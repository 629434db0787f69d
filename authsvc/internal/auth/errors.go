package auth

import "errors"

// Errors of the auth domain. The server maps each to one Connect code in one
// place; everything else is an internal error.
var (
	// ErrInvalidInput wraps a validation failure. Its message is safe to show.
	ErrInvalidInput = errors.New("auth: invalid input")
	// ErrInvalidCredentials is returned for an unknown email and for a wrong
	// password alike, so callers cannot tell which it was.
	ErrInvalidCredentials = errors.New("auth: invalid email or password")
	// ErrUnauthenticated is returned when a request carries no valid access
	// token, or its session has ended.
	ErrUnauthenticated = errors.New("auth: missing, invalid or expired access token")
	// ErrInvalidRefreshToken is returned for an unknown, expired or revoked
	// refresh token, and for a reused one (which also ends its session).
	ErrInvalidRefreshToken = errors.New("auth: invalid or expired refresh token")
	// ErrEmailTaken is returned when the email is already registered, in any
	// letter case.
	ErrEmailTaken = errors.New("auth: email already registered")
	// ErrNotFound is returned for a missing record, such as a session that is
	// not the caller's.
	ErrNotFound = errors.New("auth: not found")
	// ErrUnavailable is returned when the database cannot be reached.
	ErrUnavailable = errors.New("auth: storage unavailable")
	// ErrConflict is returned by a store when a concurrent change won, such as
	// two rotations of one refresh token.
	ErrConflict = errors.New("auth: concurrent update")
)

// invalidInputError is a validation failure with a message for the client.
type invalidInputError struct{ msg string }

func (e *invalidInputError) Error() string { return e.msg }
func (e *invalidInputError) Is(target error) bool {
	return target == ErrInvalidInput
}

func invalidInput(msg string) error { return &invalidInputError{msg: msg} }
