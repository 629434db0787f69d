package proxy

import (
	"encoding/binary"
	"testing"

	"github.com/acme/authgw/gateway/internal/protocol"
)

func envelope(flags byte, payload string) []byte {
	b := []byte{flags, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	return append(b, payload...)
}

func TestFramer(t *testing.T) {
	t.Parallel()
	msg := envelope(0, "hello")
	trailer := envelope(protocol.FlagTrailer, "grpc-status: 5\r\ngrpc-message: nope\r\n")
	end := envelope(protocol.FlagEndStream, `{"error":{"code":"not_found"}}`)
	endOK := envelope(protocol.FlagEndStream, `{}`)
	tests := []struct {
		name     string
		proto    protocol.Protocol
		stream   []byte
		split    int // feed in chunks of this size
		boundary bool
		code     string
	}{
		{"one message", protocol.GRPC, msg, 100, true, ""},
		{"byte by byte", protocol.GRPC, append(append([]byte{}, msg...), msg...), 1, true, ""},
		{"mid header", protocol.GRPC, msg[:3], 100, false, ""},
		{"mid payload", protocol.GRPC, msg[:7], 2, false, ""},
		{"empty message", protocol.GRPC, envelope(0, ""), 100, true, ""},
		{"grpc-web trailers", protocol.GRPCWeb, append(append([]byte{}, msg...), trailer...), 3, true, "not_found"},
		{"connect end error", protocol.ConnectStream, append(append([]byte{}, msg...), end...), 4, true, "not_found"},
		{"connect end ok", protocol.ConnectStream, endOK, 100, true, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var f framer
			for b := tt.stream; len(b) > 0; {
				n := min(tt.split, len(b))
				f.feed(b[:n])
				b = b[n:]
			}
			if got := f.atBoundary(); got != tt.boundary {
				t.Errorf("atBoundary() = %v, want %v", got, tt.boundary)
			}
			if got := f.code(tt.proto); got != tt.code {
				t.Errorf("code(%v) = %q, want %q", tt.proto, got, tt.code)
			}
		})
	}
}
