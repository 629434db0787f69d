package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/acme/authgw/gen/auth/v1/authv1connect"

	"github.com/acme/authgw/authsvc/internal/auth"
	"github.com/acme/authgw/authsvc/internal/password"
	"github.com/acme/authgw/authsvc/internal/token"
)

// Metrics records calls.
type Metrics interface {
	InFlight(delta int)
	ObserveRPC(procedure, protocol, code string, d time.Duration)
	HashRejected()
}

// Verifier checks access tokens.
type Verifier interface {
	Verify(token string) (*token.Claims, error)
}

// access says which procedures need an access token.
type access int

const (
	public   access = iota
	optional        // identity used when a valid token is present
	required
)

var procedureAccess = map[string]access{
	authv1connect.AuthServiceRegisterProcedure:       public,
	authv1connect.AuthServiceLoginProcedure:          public,
	authv1connect.AuthServiceRefreshProcedure:        public,
	authv1connect.AuthServiceLogoutProcedure:         optional,
	authv1connect.AuthServiceMeProcedure:             required,
	authv1connect.AuthServiceChangePasswordProcedure: required,
	authv1connect.AuthServiceListSessionsProcedure:   required,
	authv1connect.AuthServiceRevokeSessionProcedure:  required,
}

// authInterceptor verifies the bearer access token of protected procedures
// and puts the caller's identity in the context. Identity headers set by a
// proxy are never trusted: the token is checked here again.
func authInterceptor(v Verifier) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			acc, ok := procedureAccess[req.Spec().Procedure]
			if !ok {
				acc = required // fail closed for anything added later
			}
			if acc == public {
				return next(ctx, req)
			}
			raw, found := BearerToken(req.Header().Get("Authorization"))
			if !found {
				if acc == optional {
					return next(ctx, req)
				}
				return nil, auth.ErrUnauthenticated
			}
			claims, err := v.Verify(raw)
			if err != nil {
				if acc == optional {
					return next(ctx, req)
				}
				return nil, auth.ErrUnauthenticated
			}
			ctx = auth.WithIdentity(ctx, auth.Identity{
				UserID:    claims.Subject,
				SessionID: claims.SessionID,
				Email:     claims.Email,
				Roles:     claims.Roles,
			})
			return next(ctx, req)
		}
	}
}

// requestID returns the caller's request id (the gateway sets one) when it
// is well-formed, or a new one, so every log line can be correlated.
func requestID(h string) string {
	if h != "" && len(h) <= 128 && strings.Trim(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") == "" {
		return h
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// BearerToken extracts the token of an "Authorization: Bearer <token>"
// header value. The scheme is case-insensitive (RFC 9110).
func BearerToken(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return "", false
	}
	return tok, true
}

// observeInterceptor is the edge of every call: it maps domain errors to
// Connect codes, logs internal causes (never sent to the client) and writes
// one access log line per call. It never logs messages, which hold
// passwords and tokens.
func observeInterceptor(log *slog.Logger, m Metrics) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			start := time.Now()
			m.InFlight(1)
			res, err := next(ctx, req)
			m.InFlight(-1)
			code := "ok"
			level := slog.LevelInfo
			attrs := []slog.Attr{
				slog.String("procedure", req.Spec().Procedure),
				slog.String("protocol", req.Peer().Protocol),
				slog.String("peer", req.Peer().Addr),
			}
			attrs = append(attrs, slog.String("request_id", requestID(req.Header().Get("X-Request-Id"))))
			if err != nil {
				cerr, internal := connectError(err)
				code = cerr.Code().String()
				if internal {
					level = slog.LevelError
					attrs = append(attrs, slog.String("error", err.Error()))
				} else if errors.Is(err, auth.ErrUnavailable) {
					level = slog.LevelWarn
					attrs = append(attrs, slog.String("error", err.Error()))
				}
			}
			elapsed := time.Since(start)
			m.ObserveRPC(req.Spec().Procedure, req.Peer().Protocol, code, elapsed)
			if errors.Is(err, password.ErrBusy) {
				m.HashRejected()
			}
			attrs = append(attrs, slog.String("code", code), slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000))
			log.LogAttrs(ctx, level, "rpc", attrs...)
			if err != nil {
				cerr, _ := connectError(err)
				return res, cerr
			}
			return res, nil
		}
	}
}
