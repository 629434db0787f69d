// Package route matches request paths to routes: a full procedure name or a
// path prefix, the most specific match winning.
package route

import (
	"errors"
	"slices"
	"strings"
)

// ErrDuplicate is returned by Add for a pattern added twice.
var ErrDuplicate = errors.New("route: duplicate pattern")

// Table maps procedures and path prefixes to values of type V. The zero
// Table is empty and ready to use; it is safe for concurrent Match calls
// once no more patterns are added.
type Table[V any] struct {
	exact    map[string]V
	prefixes []prefixEntry[V] // longest first
}

type prefixEntry[V any] struct {
	prefix string
	value  V
}

// AddProcedure routes exactly the path procedure to v.
func (t *Table[V]) AddProcedure(procedure string, v V) error {
	if _, ok := t.exact[procedure]; ok {
		return ErrDuplicate
	}
	if t.exact == nil {
		t.exact = map[string]V{}
	}
	t.exact[procedure] = v
	return nil
}

// AddPrefix routes every path starting with prefix to v, unless a procedure
// or a longer prefix matches too.
func (t *Table[V]) AddPrefix(prefix string, v V) error {
	i, found := slices.BinarySearchFunc(t.prefixes, prefix, comparePrefix)
	if found {
		return ErrDuplicate
	}
	t.prefixes = slices.Insert(t.prefixes, i, prefixEntry[V]{prefix: prefix, value: v})
	return nil
}

// comparePrefix orders longer prefixes first, then lexically, so the first
// prefix that matches a path is the most specific one.
func comparePrefix[V any](e prefixEntry[V], prefix string) int {
	if d := len(prefix) - len(e.prefix); d != 0 {
		return d
	}
	return strings.Compare(e.prefix, prefix)
}

// Match returns the value of the most specific route for path: an exact
// procedure first, then the longest matching prefix.
func (t *Table[V]) Match(path string) (V, bool) {
	if v, ok := t.exact[path]; ok {
		return v, true
	}
	for _, e := range t.prefixes {
		if strings.HasPrefix(path, e.prefix) {
			return e.value, true
		}
	}
	var zero V
	return zero, false
}

// Clean reports whether path is safe to match literally: absolute, with no
// empty, "." or ".." segments that an upstream might resolve differently.
func Clean(path string) bool {
	if path == "" || path[0] != '/' {
		return false
	}
	for seg := range strings.SplitSeq(path[1:], "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return !strings.Contains(path, "//")
}
