module github.com/acme/authgw/gateway

go 1.26.0

require (
	connectrpc.com/connect v1.21.1
	connectrpc.com/cors v0.1.0
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/rs/cors v1.11.1
	go.yaml.in/yaml/v3 v3.0.6
	golang.org/x/sync v0.25.0
)

require google.golang.org/protobuf v1.36.12 // indirect
