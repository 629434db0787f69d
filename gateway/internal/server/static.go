package server

import (
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
)

// newStatic serves the SPA in dir. Paths that name no file and have no
// extension are client-side routes and get index.html.
//
// Caching: the build's assets/ have content hashes in their names, so they
// are immutable; index.html is revalidated on every load, or a browser could
// keep one that names assets a new build deleted.
func newStatic(dir string) http.Handler {
	fsys := os.DirFS(dir)
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if strings.HasPrefix(name, "assets/") {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		if name != "" && name != "." && path.Ext(name) == "" {
			if _, err := fs.Stat(fsys, name); err != nil {
				http.ServeFileFS(w, r, fsys, "index.html")
				return
			}
		}
		files.ServeHTTP(w, r)
	})
}
