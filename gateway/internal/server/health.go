package server

import (
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"time"
)

// healthz answers while the process serves requests.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}`))
}

// readyz answers 200 when every upstream accepts a TCP connection.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	down := map[string]string{}
	dialer := net.Dialer{Timeout: time.Second}
	for name, u := range s.upstreams {
		wg.Go(func() {
			addr := u.URL.Host
			if u.URL.Port() == "" {
				port := "80"
				if u.URL.Scheme == "https" {
					port = "443"
				}
				addr = net.JoinHostPort(u.URL.Hostname(), port)
			}
			c, err := dialer.DialContext(r.Context(), "tcp", addr)
			if err != nil {
				mu.Lock()
				down[name] = "unreachable"
				mu.Unlock()
				return
			}
			_ = c.Close()
		})
	}
	wg.Wait()
	w.Header().Set("Content-Type", "application/json")
	if len(down) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "unready", "upstreams": down})
		return
	}
	_, _ = w.Write([]byte(`{"status":"ready"}`))
}
