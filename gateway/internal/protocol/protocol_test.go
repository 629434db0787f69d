package protocol

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestDetect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method, target, contentType string
		want                        Protocol
	}{
		{"POST", "/s/M", "application/grpc", GRPC},
		{"POST", "/s/M", "application/grpc+proto", GRPC},
		{"POST", "/s/M", "application/grpc-web", GRPCWeb},
		{"POST", "/s/M", "application/grpc-web-text+proto", GRPCWeb},
		{"POST", "/s/M", "application/connect+json", ConnectStream},
		{"POST", "/s/M", "application/json", ConnectUnary},
		{"POST", "/s/M", "application/json; charset=utf-8", ConnectUnary},
		{"POST", "/s/M", "application/proto", ConnectUnary},
		{"GET", "/s/M?encoding=json&message=%7B%7D&connect=v1", "", ConnectUnary},
		{"GET", "/index.html", "", Unknown},
		{"POST", "/form", "text/plain", Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.contentType, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(tt.method, tt.target, nil)
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			if got := Detect(r); got != tt.want {
				t.Errorf("Detect(%s %s %q) = %v, want %v", tt.method, tt.target, tt.contentType, got, tt.want)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header, value string
		p             Protocol
		want          time.Duration
		wantOK        bool
		wantErr       error
	}{
		{HeaderGRPCTimeout, "100m", GRPC, 100 * time.Millisecond, true, nil},
		{HeaderGRPCTimeout, "5S", GRPCWeb, 5 * time.Second, true, nil},
		{HeaderGRPCTimeout, "2H", GRPC, 2 * time.Hour, true, nil},
		{HeaderGRPCTimeout, "99999999n", GRPC, 99999999, true, nil},
		{HeaderGRPCTimeout, "123456789m", GRPC, 0, false, ErrInvalidTimeout},
		{HeaderGRPCTimeout, "10x", GRPC, 0, false, ErrInvalidTimeout},
		{HeaderGRPCTimeout, "m", GRPC, 0, false, ErrInvalidTimeout},
		{HeaderGRPCTimeout, "-1m", GRPC, 0, false, ErrInvalidTimeout},
		{HeaderConnectTimeout, "250", ConnectUnary, 250 * time.Millisecond, true, nil},
		{HeaderConnectTimeout, "0", ConnectStream, 0, true, nil},
		{HeaderConnectTimeout, "12345678901", ConnectUnary, 0, false, ErrInvalidTimeout},
		{HeaderConnectTimeout, "1.5", ConnectUnary, 0, false, ErrInvalidTimeout},
		{HeaderConnectTimeout, "250", GRPC, 0, false, nil},
		{HeaderGRPCTimeout, "1S", Unknown, 0, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.header+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			h.Set(tt.header, tt.value)
			got, ok, err := Timeout(h, tt.p)
			if got != tt.want || ok != tt.wantOK || !errors.Is(err, tt.wantErr) {
				t.Errorf("Timeout(%s: %s, %v) = %v, %v, %v, want %v, %v, %v", tt.header, tt.value, tt.p, got, ok, err, tt.want, tt.wantOK, tt.wantErr)
			}
		})
	}
}

func TestSetTimeoutRoundTrip(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{time.Nanosecond, 1500 * time.Microsecond, 99 * time.Millisecond, 10 * time.Second, 30 * time.Hour, 2000 * time.Hour} {
		for _, p := range []Protocol{GRPC, ConnectUnary} {
			h := http.Header{}
			SetTimeout(h, p, d)
			got, ok, err := Timeout(h, p)
			if !ok || err != nil || got < d || got > d+d/1000+time.Millisecond {
				t.Errorf("Timeout(SetTimeout(%v, %v)) = %v, %v, %v (header %v), want about %v, not less", p, d, got, ok, err, h, d)
			}
		}
	}
}

func TestEncodeGRPCMessage(t *testing.T) {
	t.Parallel()
	if got, want := EncodeGRPCMessage("a b%c\né"), "a b%25c%0A%C3%A9"; got != want {
		t.Errorf("EncodeGRPCMessage() = %q, want %q", got, want)
	}
	if strings.ContainsAny(EncodeGRPCMessage("\r\n"), "\r\n") {
		t.Errorf("EncodeGRPCMessage kept a line break")
	}
}
