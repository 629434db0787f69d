package jwtauth

import (
	"strings"
	"testing"
)

func TestBearer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header string
		want   string
		wantOK bool
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", true},
		{"bearer abc", "abc", true},
		{"BEARER  abc", "abc", true},
		{"Bearer a-b_c~d+e/f==", "a-b_c~d+e/f==", true},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Basic abc", "", false},
		{"Bearerabc", "", false},
		{"Bearer abc def", "", false},
		{"Bearer abc=def", "", false},
		{"Bearer =abc", "", false},
		{"Bearer abc\r\nX-User-Id: admin", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			t.Parallel()
			got, ok := Bearer(tt.header)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Bearer(%q) = %q, %v, want %q, %v", tt.header, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// FuzzBearer checks that an extracted token is always non-empty b64token
// text found verbatim at the end of the header.
func FuzzBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc.def.ghi", "bearer x==", "Bearer  a", "Basic x", "Bearer a b", "Bearer \x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, ok := Bearer(header)
		if !ok {
			if tok != "" {
				t.Errorf("Bearer(%q) = %q, false, want an empty token", header, tok)
			}
			return
		}
		if tok == "" || !strings.HasSuffix(header, tok) || !strings.EqualFold(header[:7], "bearer ") {
			t.Errorf("Bearer(%q) = %q, want the token after the scheme", header, tok)
		}
		trimmed := strings.TrimRight(tok, "=")
		if trimmed == "" || strings.ContainsFunc(trimmed, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~+/", r))
		}) {
			t.Errorf("Bearer(%q) = %q, not a b64token", header, tok)
		}
	})
}
