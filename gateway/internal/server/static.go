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
func newStatic(dir string) http.Handler {
	fsys := os.DirFS(dir)
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if name != "" && name != "." && path.Ext(name) == "" {
			if _, err := fs.Stat(fsys, name); err != nil {
				http.ServeFileFS(w, r, fsys, "index.html")
				return
			}
		}
		files.ServeHTTP(w, r)
	})
}
