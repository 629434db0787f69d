package server

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/acme/authgw/gateway/internal/accesslog"
	"github.com/acme/authgw/gateway/internal/protocol"
)

// edge is the outermost layer: it strips identity headers the client sent,
// settles the request id and client address, recovers panics and writes the
// access log. One middleware rather than four keeps the hot path to a single
// context allocation; the access log sits outside recovery so a recovered
// panic is logged with the code the caller got.
func (s *Server) edge(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h := r.Header
		for k := range h {
			if len(k) >= len(identityPrefix) && strings.EqualFold(k[:len(identityPrefix)], identityPrefix) {
				delete(h, k)
			}
		}
		rid := h.Get(HeaderRequestID)
		if !validRequestID(rid) {
			rid = rand.Text()
			h[HeaderRequestID] = []string{rid}
		}
		w.Header()[HeaderRequestID] = []string{rid}
		e := &accesslog.Entry{RequestID: rid, ClientIP: s.forwardFor(r)}
		rec := &recorder{ResponseWriter: w}
		ctx := accesslog.WithEntry(r.Context(), e)
		var span trace.Span
		if s.tracer != nil {
			ctx = propagator.Extract(ctx, propagation.HeaderCarrier(h))
			ctx, span = s.tracer.Start(ctx, strings.TrimPrefix(r.URL.Path, "/"), trace.WithSpanKind(trace.SpanKindServer))
			// The upstream's spans become children of the gateway's.
			propagator.Inject(ctx, propagation.HeaderCarrier(h))
		}
		defer s.finish(rec, r, e, span, start)
		next.ServeHTTP(rec, r.WithContext(ctx))
	})
}

// propagator is W3C trace context, as the auth service uses.
var propagator = propagation.TraceContext{}

// finish recovers a panic of the handler, ends its span and logs the
// request.
func (s *Server) finish(rec *recorder, r *http.Request, e *accesslog.Entry, span trace.Span, start time.Time) {
	v := recover()
	// http.ErrAbortHandler is a sentinel panic value, compared as net/http does.
	if v != nil && v != http.ErrAbortHandler {
		s.log.Error("panic", "request_id", e.RequestID, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		e.Code = connect.CodeInternal.String()
		if !rec.wroteHeader {
			protocol.WriteError(rec, r, connect.NewError(connect.CodeInternal, errors.New("internal error")))
			v = nil
		} else {
			v = http.ErrAbortHandler
		}
	}
	if span != nil {
		code := e.Code
		if code == "" {
			code = protocol.CodeFromHTTP(rec.status())
		}
		span.SetAttributes(
			attribute.String("rpc.connect_rpc.error_code", code),
			attribute.Int("http.response.status_code", rec.status()),
			attribute.String("gateway.request_id", e.RequestID),
		)
		if code != "ok" {
			span.SetStatus(codes.Error, code)
		}
		span.End()
	}
	s.observe(rec, r, e, time.Since(start))
	level := slog.LevelInfo
	if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
		level = slog.LevelDebug
	}
	if s.log.Enabled(r.Context(), level) {
		code := e.Code
		if code == "" {
			code = protocol.CodeFromHTTP(rec.status())
		}
		s.log.LogAttrs(r.Context(), level, "request",
			slog.String("procedure", r.URL.Path),
			slog.String("method", r.Method),
			slog.String("protocol", protocolName(e, r)),
			slog.String("code", code),
			slog.Int("status", rec.status()),
			slog.Duration("duration", time.Since(start)),
			slog.String("request_id", e.RequestID),
			slog.String("user_id", e.UserID),
			slog.String("client_ip", e.ClientIP),
			slog.String("upstream", e.Upstream),
		)
	}
	if v != nil {
		panic(v)
	}
}

func protocolName(e *accesslog.Entry, r *http.Request) string {
	if e.Protocol != "" {
		return e.Protocol
	}
	return protocol.Detect(r).String()
}

// validRequestID accepts ids a client or another proxy may reasonably send:
// up to 128 characters of letters, digits and -_.:
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// forwardFor sets X-Forwarded-For for the upstream and returns the client's
// address. The header a client sent is kept (and extended) only when the
// peer is a trusted proxy; the client is then the right-most untrusted hop.
func (s *Server) forwardFor(r *http.Request) string {
	peer := r.RemoteAddr
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		peer = ap.Addr().Unmap().String()
		prior := r.Header.Values("X-Forwarded-For")
		if len(prior) > 0 && s.isTrusted(ap.Addr()) {
			chain := strings.Join(prior, ", ")
			r.Header["X-Forwarded-For"] = []string{chain + ", " + peer}
			hops := strings.Split(chain, ",")
			for i := len(hops) - 1; i >= 0; i-- {
				a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
				if err != nil {
					break
				}
				if !s.isTrusted(a) || i == 0 {
					return a.Unmap().String()
				}
			}
			return peer
		}
	}
	r.Header["X-Forwarded-For"] = []string{peer}
	return peer
}

func (s *Server) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// recorder remembers the status for the access log and whether a response
// was started, for panic recovery. Unwrap keeps http.ResponseController
// (flush, full duplex) working through it.
type recorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader && code >= 200 {
		r.code = code
		r.wroteHeader = true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if !r.wroteHeader {
		r.code = http.StatusOK
		r.wroteHeader = true
	}
	return r.ResponseWriter.Write(p)
}

// Flush implements http.Flusher.
func (r *recorder) Flush() {
	if !r.wroteHeader {
		r.code = http.StatusOK
		r.wroteHeader = true
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

// Unwrap returns the wrapped writer for http.ResponseController.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

// observe records the request in the metrics. Only requests that matched a
// route are labelled by path, so probes of random paths cannot grow the
// label set.
func (s *Server) observe(rec *recorder, r *http.Request, e *accesslog.Entry, d time.Duration) {
	code := e.Code
	if code == "" {
		code = protocol.CodeFromHTTP(rec.status())
	}
	procedure := "other"
	if e.Routed && strings.Count(r.URL.Path, "/") == 2 {
		procedure = r.URL.Path
	}
	if e.GatewayError && e.Upstream != "" {
		s.metrics.UpstreamError(e.Upstream, code)
	}
	s.metrics.ObserveRequest(procedure, protocolName(e, r), code, d)
}
