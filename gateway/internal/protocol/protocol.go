// Package protocol knows just enough of Connect, gRPC and gRPC-Web for a
// proxy: which protocol a request speaks, its timeout header, and how to
// answer with an error (or end a started stream) in that protocol.
package protocol

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
)

// Protocol is the RPC protocol a request speaks.
type Protocol uint8

// The protocols the gateway tells apart.
const (
	Unknown Protocol = iota
	ConnectUnary
	ConnectStream
	GRPC
	GRPCWeb
)

// Header names the gateway reads or writes.
const (
	HeaderGRPCTimeout    = "Grpc-Timeout"
	HeaderConnectTimeout = "Connect-Timeout-Ms"
	HeaderGRPCStatus     = "Grpc-Status"
	HeaderGRPCMessage    = "Grpc-Message"
)

// Envelope flags of the length-prefixed framing shared by the streaming
// protocols.
const (
	FlagCompressed = 0x01
	FlagEndStream  = 0x02 // Connect streaming: end-of-stream message
	FlagTrailer    = 0x80 // gRPC-Web: trailers frame
)

// String returns the protocol's name as logged.
func (p Protocol) String() string {
	switch p {
	case ConnectUnary:
		return "connect"
	case ConnectStream:
		return "connect-stream"
	case GRPC:
		return "grpc"
	case GRPCWeb:
		return "grpc-web"
	default:
		return "http"
	}
}

// Framed reports whether bodies are enveloped messages that must be relayed
// as they arrive.
func (p Protocol) Framed() bool {
	return p == ConnectStream || p == GRPC || p == GRPCWeb
}

// Detect classifies r the way connect-go's handlers do.
func Detect(r *http.Request) Protocol {
	ct := r.Header.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	switch r.Method {
	case http.MethodPost:
		switch {
		case strings.HasPrefix(ct, "application/grpc-web"):
			return GRPCWeb
		case ct == "application/grpc" || strings.HasPrefix(ct, "application/grpc+"):
			return GRPC
		case strings.HasPrefix(ct, "application/connect+"):
			return ConnectStream
		case strings.HasPrefix(ct, "application/"):
			return ConnectUnary
		}
	case http.MethodGet:
		if r.URL.Query().Has("message") {
			return ConnectUnary
		}
	}
	return Unknown
}

// ErrInvalidTimeout is returned by Timeout for a malformed timeout header.
var ErrInvalidTimeout = errors.New("protocol: invalid timeout header")

// Timeout returns the caller's own timeout from grpc-timeout (gRPC,
// gRPC-Web) or connect-timeout-ms (Connect), and whether one was sent.
func Timeout(h http.Header, p Protocol) (time.Duration, bool, error) {
	switch p {
	case GRPC, GRPCWeb:
		v := h.Get(HeaderGRPCTimeout)
		if v == "" {
			return 0, false, nil
		}
		d, err := parseGRPCTimeout(v)
		return d, err == nil, err
	case ConnectUnary, ConnectStream:
		v := h.Get(HeaderConnectTimeout)
		if v == "" {
			return 0, false, nil
		}
		if len(v) > 10 {
			return 0, false, ErrInvalidTimeout
		}
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms < 0 {
			return 0, false, ErrInvalidTimeout
		}
		return time.Duration(ms) * time.Millisecond, true, nil
	}
	return 0, false, nil
}

func parseGRPCTimeout(v string) (time.Duration, error) {
	if len(v) < 2 || len(v) > 9 {
		return 0, ErrInvalidTimeout
	}
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, ErrInvalidTimeout
	}
	var unit time.Duration
	switch v[len(v)-1] {
	case 'n':
		unit = time.Nanosecond
	case 'u':
		unit = time.Microsecond
	case 'm':
		unit = time.Millisecond
	case 'S':
		unit = time.Second
	case 'M':
		unit = time.Minute
	case 'H':
		unit = time.Hour
	default:
		return 0, ErrInvalidTimeout
	}
	if n > int64(1<<63-1)/int64(unit) {
		return 1<<63 - 1, nil
	}
	return time.Duration(n) * unit, nil
}

// SetTimeout writes d as the timeout header of protocol p, replacing what the
// caller sent. Unknown protocols carry no timeout header.
func SetTimeout(h http.Header, p Protocol, d time.Duration) {
	if d < 0 {
		d = 0
	}
	switch p {
	case GRPC, GRPCWeb:
		h[HeaderGRPCTimeout] = []string{encodeGRPCTimeout(d)}
	case ConnectUnary, ConnectStream:
		// Rounded up so that a sub-millisecond remainder is not sent as
		// "0", which would fail the call upstream before it starts.
		ms := min((d+time.Millisecond-1)/time.Millisecond, 9999999999) // at most 10 digits
		h[HeaderConnectTimeout] = []string{strconv.FormatInt(int64(ms), 10)}
	}
}

// encodeGRPCTimeout uses the finest unit that keeps at most 8 digits.
func encodeGRPCTimeout(d time.Duration) string {
	const maxValue = 99999999
	units := []struct {
		size time.Duration
		name byte
	}{
		{time.Nanosecond, 'n'}, {time.Microsecond, 'u'}, {time.Millisecond, 'm'},
		{time.Second, 'S'}, {time.Minute, 'M'}, {time.Hour, 'H'},
	}
	for _, u := range units {
		if v := (d + u.size - 1) / u.size; v <= maxValue {
			return strconv.FormatInt(int64(v), 10) + string(u.name)
		}
	}
	return "99999999H"
}

// errorWriter is shared: connect's ErrorWriter is safe for concurrent use.
var errorWriter = connect.NewErrorWriter()

// WriteError answers r with err in r's own protocol: gRPC status trailers,
// gRPC-Web trailers, a Connect end-of-stream message, or a Connect unary JSON
// error with the matching HTTP status (also for requests that are not RPCs).
// The response must not have been started.
func WriteError(w http.ResponseWriter, r *http.Request, err *connect.Error) {
	// Nothing useful can be done when the client is gone.
	_ = errorWriter.Write(w, r, err)
}

// EndStream finishes a response whose headers are already sent, at a message
// boundary, with err in protocol p. It reports false when p has no way to do
// that (unary and unknown protocols).
func EndStream(w http.ResponseWriter, p Protocol, err *connect.Error) bool {
	switch p {
	case GRPC:
		h := w.Header()
		h[http.TrailerPrefix+HeaderGRPCStatus] = []string{strconv.Itoa(int(err.Code()))}
		h[http.TrailerPrefix+HeaderGRPCMessage] = []string{EncodeGRPCMessage(err.Message())}
		return true
	case GRPCWeb:
		payload := "grpc-status: " + strconv.Itoa(int(err.Code())) + "\r\n" +
			"grpc-message: " + EncodeGRPCMessage(err.Message()) + "\r\n"
		_, _ = w.Write(envelope(FlagTrailer, []byte(payload)))
		return true
	case ConnectStream:
		type wireError struct {
			Code    string `json:"code"`
			Message string `json:"message,omitempty"`
		}
		payload, _ := json.Marshal(struct {
			Error wireError `json:"error"`
		}{wireError{Code: err.Code().String(), Message: err.Message()}})
		_, _ = w.Write(envelope(FlagEndStream, payload))
		return true
	}
	return false
}

func envelope(flags byte, payload []byte) []byte {
	b := make([]byte, 5+len(payload))
	b[0] = flags
	binary.BigEndian.PutUint32(b[1:5], uint32(len(payload)))
	copy(b[5:], payload)
	return b
}

// EncodeGRPCMessage percent-encodes s as the grpc-message header requires.
func EncodeGRPCMessage(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= ' ' && c <= '~' && c != '%' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// CodeFromHTTP maps a Connect unary HTTP status to the code a Connect client
// reports for it, for logging proxied answers.
func CodeFromHTTP(status int) string {
	switch status {
	case http.StatusOK:
		return "ok"
	case http.StatusBadRequest:
		return connect.CodeInvalidArgument.String()
	case http.StatusUnauthorized:
		return connect.CodeUnauthenticated.String()
	case http.StatusForbidden:
		return connect.CodePermissionDenied.String()
	case http.StatusNotFound:
		return connect.CodeUnimplemented.String()
	case http.StatusConflict:
		return connect.CodeAlreadyExists.String()
	case http.StatusRequestTimeout, http.StatusGatewayTimeout:
		return connect.CodeDeadlineExceeded.String()
	case http.StatusPreconditionFailed:
		return connect.CodeFailedPrecondition.String()
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		return connect.CodeResourceExhausted.String()
	case http.StatusNotImplemented:
		return connect.CodeUnimplemented.String()
	case http.StatusServiceUnavailable, http.StatusBadGateway:
		return connect.CodeUnavailable.String()
	case 499:
		return connect.CodeCanceled.String()
	}
	if status >= 500 {
		return connect.CodeInternal.String()
	}
	return connect.CodeUnknown.String()
}

// CodeFromGRPCStatus names a grpc-status value.
func CodeFromGRPCStatus(v string) string {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 16 {
		return connect.CodeUnknown.String()
	}
	if n == 0 {
		return "ok"
	}
	return connect.Code(n).String()
}
