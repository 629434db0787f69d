// Package accesslog records one line per request: procedure, protocol,
// status code, duration, request id and user id. Never tokens.
package accesslog

import (
	"context"
)

// Entry is filled in by the handlers a request passes through and logged
// when it completes. Handlers of one request run on one goroutine at a time,
// so Entry needs no locking.
type Entry struct {
	RequestID string
	ClientIP  string
	Protocol  string
	// Code is the RPC status ("ok", "unavailable"...) when known.
	Code   string
	UserID string
	// Routed is set when the request matched a route.
	Routed bool
	// Upstream names the upstream the request went to, if any.
	Upstream string
	// GatewayError is set when the gateway itself produced the error while
	// proxying (upstream refused or reset, deadline, body limit).
	GatewayError bool
}

type entryKey struct{}

// WithEntry returns ctx carrying e.
func WithEntry(ctx context.Context, e *Entry) context.Context {
	return context.WithValue(ctx, entryKey{}, e)
}

// EntryFrom returns the entry of ctx, or a throwaway one so callers never
// check for nil.
func EntryFrom(ctx context.Context) *Entry {
	if e, ok := ctx.Value(entryKey{}).(*Entry); ok {
		return e
	}
	return &Entry{}
}
