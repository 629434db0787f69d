package server

import (
	"errors"
	"net/http"

	"connectrpc.com/connect"

	"github.com/acme/authgw/gateway/internal/config"
	"github.com/acme/authgw/gateway/internal/route"
)

// routesHandler lists the gateway's whole surface: health endpoints, the
// configured RPC routes, and the SPA's static files for everything else.
func (s *Server) routesHandler(cfg *config.Config) http.Handler {
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch path := r.URL.Path; {
		case path == "/healthz":
			s.healthz(w, r)
		case path == "/readyz":
			s.readyz(w, r)
		case !route.Clean(path):
			s.reject(w, r, connect.NewError(connect.CodeInvalidArgument, errors.New("malformed path")))
		default:
			if p, ok := s.routes.Match(path); ok {
				s.rpc(w, r, p)
				return
			}
			if s.static != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
				s.static.ServeHTTP(w, r)
				return
			}
			s.reject(w, r, connect.NewError(connect.CodeUnimplemented, errors.New("no route")))
		}
	})
	return s.edge(newCORS(cfg.CORS).Handler(mux))
}
