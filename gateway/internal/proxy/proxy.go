// Package proxy forwards Connect, gRPC and gRPC-Web requests to an upstream
// unchanged, under a deadline, streaming both bodies and relaying trailers,
// and answers every failure of its own in the caller's protocol.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/acme/authgw/gateway/internal/accesslog"
	"github.com/acme/authgw/gateway/internal/config"
	"github.com/acme/authgw/gateway/internal/protocol"
)

// Upstream is a service requests are forwarded to, with its connection pools.
type Upstream struct {
	Name string
	// URL is the scheme and host requests go to; the caller's path is kept.
	URL  *url.URL
	mode string
	h1   *http.Transport
	h2   *http.Transport
}

// NewUpstream returns an upstream for rawURL speaking protocol (one of the
// config.Protocol* values).
func NewUpstream(name, rawURL, protocolName string) (*Upstream, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("proxy: upstream %s: %w", name, err)
	}
	up := &Upstream{Name: name, URL: &url.URL{Scheme: u.Scheme, Host: u.Host}, mode: protocolName}
	if protocolName != config.ProtocolH2C {
		up.h1 = newTransport(false)
	}
	if protocolName != config.ProtocolHTTP1 {
		up.h2 = newTransport(true)
	}
	return up, nil
}

func newTransport(h2c bool) *http.Transport {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		DialContext:         dialer.DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
		// Bodies pass through as the caller encoded them.
		DisableCompression: true,
		ReadBufferSize:     32 << 10,
		WriteBufferSize:    32 << 10,
		Protocols:          new(http.Protocols),
	}
	if h2c {
		t.Protocols.SetUnencryptedHTTP2(true)
		t.Protocols.SetHTTP2(true)
		t.HTTP2 = &http.HTTP2Config{
			// Keep-alive pings notice a dead upstream under a quiet stream.
			SendPingTimeout: 30 * time.Second,
			PingTimeout:     10 * time.Second,
		}
	} else {
		t.Protocols.SetHTTP1(true)
		t.Protocols.SetHTTP2(true)
	}
	return t
}

// transport picks the connection pool for a request: gRPC needs HTTP/2, and
// so do full-duplex streams from HTTP/2 callers; HTTP/1.1 callers keep using
// HTTP/1.1 where the upstream allows it, which pools best for unary calls.
func (u *Upstream) transport(r *http.Request, p protocol.Protocol) *http.Transport {
	switch {
	case u.h2 == nil:
		return u.h1
	case u.h1 == nil:
		return u.h2
	case p == protocol.GRPC || r.ProtoMajor >= 2:
		return u.h2
	default:
		return u.h1
	}
}

// CloseIdleConnections closes the upstream's idle pooled connections.
func (u *Upstream) CloseIdleConnections() {
	if u.h1 != nil {
		u.h1.CloseIdleConnections()
	}
	if u.h2 != nil {
		u.h2.CloseIdleConnections()
	}
}

// Target is where and under which limits one request is forwarded.
type Target struct {
	Upstream *Upstream
	// Timeout is the route's; 0 means only the caller's own deadline applies.
	Timeout   time.Duration
	BodyLimit int64
}

// Proxy forwards requests. It is safe for concurrent use.
type Proxy struct {
	log  *slog.Logger
	bufs sync.Pool
}

// New returns a Proxy that logs upstream failures to log.
func New(log *slog.Logger) *Proxy {
	return &Proxy{log: log, bufs: sync.Pool{New: func() any {
		b := make([]byte, 32<<10)
		return &b
	}}}
}

// callerGrace is how much later than a caller's own deadline the gateway
// gives up on its behalf.
const callerGrace = 50 * time.Millisecond

// maxBufferedResponse bounds the unary answers read whole before relaying.
const maxBufferedResponse = 1 << 20

// Sentinel causes, for errors.Is.
var (
	errBodyTooLarge = errors.New("proxy: request body too large")
	errDeadline     = errors.New("proxy: deadline exceeded")
)

// hopHeaders are connection-specific and never forwarded (RFC 9110 7.6.1).
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Transfer-Encoding", "Upgrade", "Http2-Settings",
}

// Forward sends r to t.Upstream and relays the answer to w. The caller has
// already applied the route's auth policy and rewritten identity headers.
func (p *Proxy) Forward(w http.ResponseWriter, r *http.Request, t Target) {
	proto := protocol.Detect(r)
	entry := accesslog.EntryFrom(r.Context())
	entry.Protocol = proto.String()
	entry.Upstream = t.Upstream.Name

	if r.ContentLength > t.BodyLimit {
		p.fail(w, r, proto, connect.NewError(connect.CodeResourceExhausted,
			fmt.Errorf("request body larger than %d bytes", t.BodyLimit)))
		return
	}

	// The effective deadline is the earlier of the route's and the caller's,
	// and the upstream is told about it in the protocol's own header. When
	// it is the caller's, the gateway enforces it callerGrace later: the
	// caller's own library is meant to give up first, and a gateway answer
	// racing with it would reach it half read.
	timeout, grace := t.Timeout, time.Duration(0)
	if d, ok, err := protocol.Timeout(r.Header, proto); err != nil {
		p.fail(w, r, proto, connect.NewError(connect.CodeInvalidArgument, err))
		return
	} else if ok && (timeout == 0 || d < timeout) {
		timeout, grace = max(d, time.Nanosecond), callerGrace // 0 has already passed
	}
	ctx := r.Context()
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadlineCause(ctx, deadline.Add(grace), errDeadline)
		defer cancel()
	}

	h := r.Header
	removeHopHeaders(h)
	if _, ok := h["User-Agent"]; !ok {
		// Otherwise net/http would send its own.
		h["User-Agent"] = []string{""}
	}
	if timeout > 0 {
		protocol.SetTimeout(h, proto, time.Until(deadline))
	}

	var body io.ReadCloser = http.NoBody
	var limited *limitReader
	if r.ContentLength != 0 || proto.Framed() {
		body = r.Body
		if r.ContentLength < 0 {
			limited = &limitReader{r: r.Body, n: t.BodyLimit}
			body = limited
		}
	}
	if proto.Framed() && r.ProtoMajor == 1 {
		// Streams may answer while the request body is still arriving.
		// What is left of it when the handler returns is drained (or the
		// connection closed) by net/http, as for any handler.
		_ = http.NewResponseController(w).EnableFullDuplex()
	}
	out := (&http.Request{
		Method: r.Method,
		URL: &url.URL{
			Scheme:   t.Upstream.URL.Scheme,
			Host:     t.Upstream.URL.Host,
			Path:     r.URL.Path,
			RawPath:  r.URL.RawPath,
			RawQuery: r.URL.RawQuery,
		},
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          body,
		ContentLength: r.ContentLength,
		Host:          t.Upstream.URL.Host,
	}).WithContext(ctx)
	if out.ContentLength == 0 && body != http.NoBody {
		out.ContentLength = -1
	}

	resp, err := t.Upstream.transport(r, proto).RoundTrip(out)
	if err != nil {
		p.fail(w, r, proto, p.classify(ctx, limited, err))
		return
	}
	defer resp.Body.Close()
	p.relay(ctx, w, r, proto, resp, limited)
}

// relay copies the upstream response to w.
func (p *Proxy) relay(ctx context.Context, w http.ResponseWriter, r *http.Request, proto protocol.Protocol, resp *http.Response, limited *limitReader) {
	entry := accesslog.EntryFrom(r.Context())
	bufp := p.bufs.Get().(*[]byte)
	defer p.bufs.Put(bufp)
	buf := *bufp

	// A unary answer is read whole (up to maxBufferedResponse) before
	// anything is sent, so that a deadline or a reset in the middle of it
	// still reaches the caller as a proper error instead of a truncated body.
	// Other non-RPC answers are buffered only when their length is known to
	// be small: they may be long-lived.
	var head []byte
	complete := false
	if proto == protocol.ConnectUnary || proto == protocol.Unknown && resp.ContentLength >= 0 && resp.ContentLength <= maxBufferedResponse {
		var err error
		head, complete, err = readHead(resp.Body, resp.ContentLength, buf)
		if err != nil {
			p.fail(w, r, proto, p.classify(ctx, limited, err))
			return
		}
	}

	dst := w.Header()
	removeHopHeaders(resp.Header)
	for k, vv := range resp.Header {
		switch {
		case strings.HasPrefix(k, "Access-Control-"):
			// The gateway alone answers for cross-origin policy.
		case k == "Vary":
			dst[k] = append(dst[k], vv...)
		case k == "Trailer":
			// Trailers are relayed as they come, see below.
		default:
			dst[k] = vv
		}
	}
	switch proto {
	case protocol.GRPC, protocol.GRPCWeb:
		// Set for trailers-only responses; otherwise the trailers tell.
		if s := resp.Header.Get(protocol.HeaderGRPCStatus); s != "" {
			entry.Code = protocol.CodeFromGRPCStatus(s)
		}
	case protocol.ConnectUnary, protocol.Unknown:
		entry.Code = protocol.CodeFromHTTP(resp.StatusCode)
	}
	w.WriteHeader(resp.StatusCode)

	var err error
	var f *framer
	if len(head) > 0 {
		if _, err := w.Write(head); err != nil {
			// The caller is gone: nobody to tell.
			return
		}
	}
	switch {
	case complete:
	case proto.Framed():
		// Stream headers reach the caller at once: full-duplex callers may
		// wait for them before sending.
		f = &framer{}
		// Stream headers reach the caller at once: full-duplex callers may
		// wait for them before sending.
		rc := http.NewResponseController(w)
		_ = rc.Flush()
		err = copyFlush(w, resp.Body, buf, f, rc)
	default:
		_, err = io.CopyBuffer(writerOnly{w}, resp.Body, buf)
	}
	if err != nil {
		cerr := p.classify(ctx, limited, err)
		entry.Code = cerr.Code().String()
		if f != nil && f.atBoundary() && protocol.EndStream(w, proto, cerr) {
			return
		}
		// Mid-message there is no way to tell the caller in-protocol: reset
		// the stream (HTTP/2) or close the connection (HTTP/1.1).
		panic(http.ErrAbortHandler)
	}
	for k, vv := range resp.Trailer {
		dst[http.TrailerPrefix+k] = vv
	}
	switch proto {
	case protocol.GRPC:
		if s := resp.Trailer.Get(protocol.HeaderGRPCStatus); s != "" {
			entry.Code = protocol.CodeFromGRPCStatus(s)
		}
	case protocol.GRPCWeb, protocol.ConnectStream:
		if c := f.code(proto); c != "" {
			entry.Code = c
		}
	}
}

// classify turns a transport error into the status the caller gets.
func (p *Proxy) classify(ctx context.Context, limited *limitReader, err error) *connect.Error {
	switch {
	case limited != nil && limited.exceeded.Load():
		return connect.NewError(connect.CodeResourceExhausted, errBodyTooLarge)
	case errors.Is(context.Cause(ctx), errDeadline):
		return connect.NewError(connect.CodeDeadlineExceeded, errDeadline)
	case ctx.Err() != nil:
		return connect.NewError(connect.CodeCanceled, ctx.Err())
	}
	e := accesslog.EntryFrom(ctx)
	p.log.LogAttrs(ctx, slog.LevelWarn, "upstream failed", slog.String("request_id", e.RequestID),
		slog.String("upstream", e.Upstream), slog.String("error", err.Error()))
	return connect.NewError(connect.CodeUnavailable, errors.New("upstream unavailable"))
}

func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, proto protocol.Protocol, err *connect.Error) {
	e := accesslog.EntryFrom(r.Context())
	e.Protocol = proto.String()
	e.Code = err.Code().String()
	e.GatewayError = true
	// Written even when the caller seems gone: writing to a reset stream is
	// harmless, and a stream that is still open must never end with an
	// empty answer.
	protocol.WriteError(w, r, err)
}

// copyFlush relays a streaming body, flushing after every read so each
// message reaches the caller as soon as the upstream sends it. (Holding
// flushes back until the upstream has nothing ready, on a reader
// goroutine, was measured: it cost more than the writes it saved.)
func copyFlush(w http.ResponseWriter, src io.Reader, buf []byte, f *framer, rc *http.ResponseController) error {
	for {
		n, err := src.Read(buf)
		if n > 0 {
			f.feed(buf[:n])
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if ferr := rc.Flush(); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// writerOnly hides io.ReaderFrom so io.CopyBuffer uses the pooled buffer.
type writerOnly struct{ io.Writer }

func removeHopHeaders(h http.Header) {
	if c := h.Get("Connection"); c != "" {
		for f := range strings.SplitSeq(c, ",") {
			if f = strings.TrimSpace(f); f != "" {
				h.Del(f)
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
	// "te: trailers" is how gRPC callers say they read trailers; anything
	// else in TE is hop-by-hop.
	if te, ok := h["Te"]; ok && !(len(te) == 1 && strings.EqualFold(te[0], "trailers")) {
		delete(h, "Te")
	}
}

// limitReader fails once more than n bytes have been read. Read runs on the
// transport's goroutine, exceeded is read by the handler's.
type limitReader struct {
	r        io.ReadCloser
	n        int64
	exceeded atomic.Bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		l.exceeded.Store(true)
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		l.exceeded.Store(true)
		return 0, errBodyTooLarge
	}
	return n, err
}

func (l *limitReader) Close() error { return l.r.Close() }

// readHead reads body whole when it ends within maxBufferedResponse bytes
// (complete), or else its first bytes. buf is scratch space that the result
// may alias.
func readHead(body io.Reader, contentLength int64, buf []byte) (head []byte, complete bool, err error) {
	if contentLength >= 0 && contentLength <= maxBufferedResponse {
		if contentLength <= int64(len(buf)) {
			head = buf[:contentLength]
		} else {
			head = make([]byte, contentLength)
		}
		_, err = io.ReadFull(body, head)
		return head, err == nil, err
	}
	head = buf[:0]
	for len(head) <= maxBufferedResponse {
		if len(head) == cap(head) {
			head = append(head, 0)[:len(head)]
		}
		n, err := body.Read(head[len(head):cap(head)])
		head = head[:len(head)+n]
		if err == io.EOF {
			return head, true, nil
		}
		if err != nil {
			return nil, false, err
		}
	}
	return head, false, nil
}
