package server

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	"github.com/acme/authgw/authsvc/internal/auth"
	"github.com/acme/authgw/authsvc/internal/password"
)

// connectError maps a domain error to the error the client sees. It is the
// one place where codes are chosen (see DESIGN.md). internal reports an
// error whose cause must be logged and hidden.
func connectError(err error) (cerr *connect.Error, internal bool) {
	switch {
	case errors.As(err, &cerr) && cerr.Code() != connect.CodeInternal && cerr.Code() != connect.CodeUnknown:
		return cerr, false
	case errors.Is(err, auth.ErrInvalidInput):
		return connect.NewError(connect.CodeInvalidArgument, errors.New(err.Error())), false
	case errors.Is(err, auth.ErrInvalidCredentials):
		return connect.NewError(connect.CodeUnauthenticated, errors.New("invalid email or password")), false
	case errors.Is(err, auth.ErrUnauthenticated):
		return connect.NewError(connect.CodeUnauthenticated, errors.New("missing, invalid or expired access token")), false
	case errors.Is(err, auth.ErrInvalidRefreshToken):
		return connect.NewError(connect.CodeUnauthenticated, errors.New("invalid or expired refresh token")), false
	case errors.Is(err, auth.ErrEmailTaken):
		return connect.NewError(connect.CodeAlreadyExists, errors.New("email already registered")), false
	case errors.Is(err, auth.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, errors.New("not found")), false
	case errors.Is(err, password.ErrBusy):
		return connect.NewError(connect.CodeResourceExhausted, errors.New("too many requests, try again shortly")), false
	case errors.Is(err, auth.ErrUnavailable):
		return connect.NewError(connect.CodeUnavailable, errors.New("service unavailable, try again shortly")), false
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("deadline exceeded")), false
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("request canceled")), false
	}
	return connect.NewError(connect.CodeInternal, errors.New("internal error")), true
}
