package server

import (
	"slices"

	connectcors "connectrpc.com/cors"
	"github.com/rs/cors"

	"github.com/acme/authgw/gateway/internal/config"
)

// newCORS allows the configured origins, with credentials, the Connect,
// gRPC-Web and Authorization headers, and preflights cached for max_age.
// Preflights end here, before any auth. With no origin listed no origin is
// allowed: rs/cors would otherwise allow them all.
func newCORS(c config.CORS) *cors.Cors {
	opts := cors.Options{
		AllowedMethods:   connectcors.AllowedMethods(),
		AllowedHeaders:   append(connectcors.AllowedHeaders(), "Authorization", HeaderRequestID),
		ExposedHeaders:   append(connectcors.ExposedHeaders(), HeaderRequestID),
		AllowCredentials: true,
		MaxAge:           int(c.MaxAge.Seconds()),
	}
	if len(c.AllowedOrigins) == 0 {
		opts.AllowOriginFunc = func(string) bool { return false }
	} else {
		opts.AllowedOrigins = slices.Clone(c.AllowedOrigins)
	}
	return cors.New(opts)
}
