package route

import (
	"errors"
	"strings"
	"testing"
)

func testTable(t testing.TB) *Table[string] {
	t.Helper()
	var tab Table[string]
	for _, p := range []string{"/", "/auth.v1.AuthService/", "/auth.v1.", "/grpc.health.v1.Health/"} {
		if err := tab.AddPrefix(p, "prefix "+p); err != nil {
			t.Fatalf("AddPrefix(%q) error = %v", p, err)
		}
	}
	for _, p := range []string{"/auth.v1.AuthService/Me", "/auth.v1.AuthService/Login"} {
		if err := tab.AddProcedure(p, "procedure "+p); err != nil {
			t.Fatalf("AddProcedure(%q) error = %v", p, err)
		}
	}
	return &tab
}

func TestMatch(t *testing.T) {
	t.Parallel()
	tab := testTable(t)
	tests := []struct {
		path   string
		want   string
		wantOK bool
	}{
		{"/auth.v1.AuthService/Me", "procedure /auth.v1.AuthService/Me", true},
		{"/auth.v1.AuthService/Login", "procedure /auth.v1.AuthService/Login", true},
		{"/auth.v1.AuthService/Register", "prefix /auth.v1.AuthService/", true},
		{"/auth.v1.AuthService/Me/", "prefix /auth.v1.AuthService/", true},
		{"/auth.v1.Other/X", "prefix /auth.v1.", true},
		{"/grpc.health.v1.Health/Check", "prefix /grpc.health.v1.Health/", true},
		{"/index.html", "prefix /", true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			got, ok := tab.Match(tt.path)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Match(%q) = %q, %v, want %q, %v", tt.path, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestMatchEmpty(t *testing.T) {
	t.Parallel()
	var tab Table[int]
	if v, ok := tab.Match("/x"); ok {
		t.Errorf("Match(%q) = %v, true, want no match", "/x", v)
	}
}

func TestDuplicate(t *testing.T) {
	t.Parallel()
	tab := testTable(t)
	if err := tab.AddPrefix("/auth.v1.", "again"); !errors.Is(err, ErrDuplicate) {
		t.Errorf("AddPrefix(duplicate) error = %v, want %v", err, ErrDuplicate)
	}
	if err := tab.AddProcedure("/auth.v1.AuthService/Me", "again"); !errors.Is(err, ErrDuplicate) {
		t.Errorf("AddProcedure(duplicate) error = %v, want %v", err, ErrDuplicate)
	}
}

func TestClean(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path string
		want bool
	}{
		{"/", true},
		{"/a.B/C", true},
		{"/assets/app.js", true},
		{"/dir/", true},
		{"", false},
		{"a/b", false},
		{"/a/../b", false},
		{"/a/./b", false},
		{"/a//b", false},
		{"/..", false},
		{"/a/..", false},
		{"/..a/b", true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			if got := Clean(tt.path); got != tt.want {
				t.Errorf("Clean(%q) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}

// FuzzMatch checks the matcher against a naive reference: the exact
// procedure if any, else the longest prefix.
func FuzzMatch(f *testing.F) {
	for _, s := range []string{"/auth.v1.AuthService/Me", "/auth.v1.AuthService/Mex", "/", "", "/auth.v1", "/grpc.health.v1.Health/Watch", "\x00/"} {
		f.Add(s)
	}
	tab := testTable(f)
	prefixes := []string{"/", "/auth.v1.AuthService/", "/auth.v1.", "/grpc.health.v1.Health/"}
	f.Fuzz(func(t *testing.T, path string) {
		got, ok := tab.Match(path)
		want, wantOK := "", false
		switch path {
		case "/auth.v1.AuthService/Me", "/auth.v1.AuthService/Login":
			want, wantOK = "procedure "+path, true
		default:
			best := ""
			for _, p := range prefixes {
				if strings.HasPrefix(path, p) && len(p) > len(best) {
					best, wantOK = p, true
				}
			}
			if wantOK {
				want = "prefix " + best
			}
		}
		if got != want || ok != wantOK {
			t.Errorf("Match(%q) = %q, %v, want %q, %v", path, got, ok, want, wantOK)
		}
		if Clean(path) && (strings.Contains(path, "/../") || strings.HasSuffix(path, "/..")) {
			t.Errorf("Clean(%q) = true for a path with a .. segment", path)
		}
	})
}
