package proxy

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"

	"github.com/acme/authgw/gateway/internal/protocol"
)

// maxCapture bounds how much of a trailers or end-of-stream frame is kept to
// learn the status code for the access log.
const maxCapture = 4 << 10

// framer follows the envelope framing of a streaming body as it is relayed,
// without copying messages, so the proxy knows whether it may end the stream
// with a frame of its own and which status the upstream's last frame carried.
type framer struct {
	hdr       [5]byte
	hdrN      int
	remaining uint32
	flags     byte
	capture   []byte
	capturing bool
}

// atBoundary reports whether every frame seen so far is complete.
func (f *framer) atBoundary() bool {
	return f.hdrN == 0 && f.remaining == 0
}

func (f *framer) feed(p []byte) {
	for len(p) > 0 {
		if f.remaining == 0 {
			n := copy(f.hdr[f.hdrN:], p)
			f.hdrN += n
			p = p[n:]
			if f.hdrN < len(f.hdr) {
				return
			}
			f.hdrN = 0
			f.flags = f.hdr[0]
			f.remaining = binary.BigEndian.Uint32(f.hdr[1:])
			f.capturing = f.flags&(protocol.FlagTrailer|protocol.FlagEndStream) != 0 &&
				f.flags&protocol.FlagCompressed == 0 && f.remaining <= maxCapture
			f.capture = f.capture[:0]
			continue
		}
		n := min(uint32(len(p)), f.remaining)
		if f.capturing {
			f.capture = append(f.capture, p[:n]...)
		}
		f.remaining -= n
		p = p[n:]
	}
}

// code returns the status named by the last trailers (gRPC-Web) or
// end-of-stream (Connect) frame, or "" when there was none.
func (f *framer) code(p protocol.Protocol) string {
	if !f.capturing || !f.atBoundary() {
		return ""
	}
	switch p {
	case protocol.GRPCWeb:
		for line := range strings.SplitSeq(string(f.capture), "\r\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && strings.EqualFold(strings.TrimSpace(k), protocol.HeaderGRPCStatus) {
				return protocol.CodeFromGRPCStatus(strings.TrimSpace(v))
			}
		}
	case protocol.ConnectStream:
		var end struct {
			Error *struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if json.NewDecoder(bytes.NewReader(f.capture)).Decode(&end) == nil {
			if end.Error == nil {
				return "ok"
			}
			return end.Error.Code
		}
	}
	return ""
}
