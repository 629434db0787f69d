// Package loadtest measures the gateway's proxy path with the JWT check on
// against calling a trivial upstream directly, in the same run: Connect JSON
// over HTTP/1.1 and gRPC over h2c.
package loadtest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	authv1 "github.com/acme/authgw/gen/auth/v1"
	"github.com/acme/authgw/gen/auth/v1/authv1connect"

	"github.com/acme/authgw/gateway/internal/config"
	"github.com/acme/authgw/gateway/internal/server"
)

// ProcedureMe is the procedure every load request calls: a token route.
const ProcedureMe = "/auth.v1.AuthService/Me"

// Stack is a trivial upstream and a gateway in front of it, each on its own
// loopback listener.
type Stack struct {
	// UpstreamAddr and GatewayAddr are host:port.
	UpstreamAddr, GatewayAddr string
	// Token is a valid access token for the gateway's token route.
	Token   string
	closers []func()
}

type trivial struct {
	authv1connect.UnimplementedAuthServiceHandler
}

func (trivial) Me(ctx context.Context, _ *authv1.MeRequest) (*authv1.MeResponse, error) {
	id := "direct"
	if info, ok := connect.CallInfoForHandlerContext(ctx); ok {
		if v := info.RequestHeader().Get(server.HeaderUserID); v != "" {
			id = v
		}
	}
	return &authv1.MeResponse{User: &authv1.User{Id: id, Email: "load@example.com"}}, nil
}

// Start starts the stack, the gateway reaching the upstream with
// upstreamProtocol (a config.Protocol* value); Close stops it.
func Start(log *slog.Logger, upstreamProtocol string) (*Stack, error) {
	s := &Stack{}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	x := base64.RawURLEncoding.EncodeToString(pub)
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + x + `"}`))
	kid := base64.RawURLEncoding.EncodeToString(sum[:])
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": x, "alg": "EdDSA", "use": "sig"}}})

	mux := http.NewServeMux()
	mux.Handle(authv1connect.NewAuthServiceHandler(trivial{}))
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	})
	if s.UpstreamAddr, err = s.serve(mux); err != nil {
		s.Close()
		return nil, err
	}

	dir, err := os.MkdirTemp("", "loadtest")
	if err != nil {
		s.Close()
		return nil, err
	}
	s.closers = append(s.closers, func() { _ = os.RemoveAll(dir) })
	path := filepath.Join(dir, "gateway.yaml")
	yaml := fmt.Sprintf(`
upstreams:
  auth: {url: "http://%s", protocol: %s}
routes:
  - procedure: %s
    upstream: auth
    auth: token
`, s.UpstreamAddr, upstreamProtocol, ProcedureMe)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		s.Close()
		return nil, err
	}
	cfg, err := config.Load(path, func(string) string { return "" })
	if err != nil {
		s.Close()
		return nil, err
	}
	gw, err := server.New(cfg, log, nil)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.closers = append(s.closers, gw.Close)
	if s.GatewayAddr, err = s.serve(gw); err != nil {
		s.Close()
		return nil, err
	}

	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
		"iss": "authsvc", "aud": "authgw", "sub": "user-1", "sid": "s1", "roles": []string{"user"},
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(), "jti": "j",
	})
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = kid
	if s.Token, err = tok.SignedString(priv); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Stack) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: &p, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	s.closers = append(s.closers, func() { _ = srv.Close() })
	return ln.Addr().String(), nil
}

// Close stops the stack.
func (s *Stack) Close() {
	for _, c := range slices.Backward(s.closers) {
		c()
	}
}

// Caller makes one request; each worker goroutine gets its own.
type Caller func(ctx context.Context) error

// Kind is a protocol under load.
type Kind string

// The protocols measured.
const (
	ConnectJSON Kind = "connect-json-http1"
	GRPC        Kind = "grpc-h2c"
)

// NewCaller returns a constructor of callers of addr in kind, with token as
// the bearer token, and a cleanup function.
func NewCaller(kind Kind, addr, token string, concurrency int) (func() Caller, func(), error) {
	switch kind {
	case ConnectJSON:
		var p http.Protocols
		p.SetHTTP1(true)
		tr := &http.Transport{Protocols: &p, MaxIdleConnsPerHost: concurrency, MaxConnsPerHost: concurrency, DisableCompression: true}
		client := &http.Client{Transport: tr}
		url := "http://" + addr + ProcedureMe
		auth := []string{"Bearer " + token}
		body := []byte(`{}`)
		return func() Caller {
			return func(ctx context.Context) error {
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				if err != nil {
					return err
				}
				req.Header["Content-Type"] = []string{"application/json"}
				req.Header["Authorization"] = auth
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("status %d", resp.StatusCode)
				}
				return err
			}
		}, tr.CloseIdleConnections, nil
	case GRPC:
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, nil, err
		}
		md := metadata.Pairs("authorization", "Bearer "+token)
		return func() Caller {
			return func(ctx context.Context) error {
				var res authv1.MeResponse
				return conn.Invoke(metadata.NewOutgoingContext(ctx, md), ProcedureMe, &authv1.MeRequest{}, &res)
			}
		}, func() { _ = conn.Close() }, nil
	}
	return nil, nil, fmt.Errorf("loadtest: unknown kind %q", kind)
}

// Result is the outcome of one load run.
type Result struct {
	Requests int
	Errors   int
	Elapsed  time.Duration
	// CPU is the CPU time the process (client, gateway and upstream) used.
	CPU      time.Duration
	P50, P99 time.Duration
	// FirstError is an example failure, if any.
	FirstError error
}

// CPUPerRequest is the CPU time one request costs the whole process. Its
// ratio between targets is what the throughput ratio converges to when the
// machine is CPU-bound, and it is far less sensitive to noisy neighbours.
func (r Result) CPUPerRequest() time.Duration {
	if r.Requests == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Requests)
}

// RPS is the throughput of successful requests.
func (r Result) RPS() float64 {
	return float64(r.Requests-r.Errors) / r.Elapsed.Seconds()
}

// Run calls with concurrency workers for duration, after a short warm-up.
func Run(ctx context.Context, newCaller func() Caller, concurrency int, duration time.Duration) Result {
	warm, cancelWarm := context.WithTimeout(ctx, duration/10)
	defer cancelWarm()
	run(warm, newCaller, concurrency)
	measured, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	return run(measured, newCaller, concurrency).result()
}

// sample is the raw outcome of one or more runs.
type sample struct {
	lat      []time.Duration
	errs     int
	firstErr error
	elapsed  time.Duration
	// cpu is the process's CPU time (user+system) during the runs.
	cpu time.Duration
}

func (s *sample) add(o sample) {
	s.lat = append(s.lat, o.lat...)
	s.errs += o.errs
	if s.firstErr == nil {
		s.firstErr = o.firstErr
	}
	s.elapsed += o.elapsed
	s.cpu += o.cpu
}

func (s sample) result() Result {
	res := Result{Elapsed: s.elapsed, CPU: s.cpu, Requests: len(s.lat), Errors: s.errs, FirstError: s.firstErr}
	if len(s.lat) > 0 {
		slices.Sort(s.lat)
		res.P50 = s.lat[len(s.lat)*50/100]
		res.P99 = s.lat[min(len(s.lat)-1, len(s.lat)*99/100)]
	}
	return res
}

// run calls until ctx is done.
func run(ctx context.Context, newCaller func() Caller, concurrency int) sample {
	end, _ := ctx.Deadline()
	samples := make([]sample, concurrency)
	var wg sync.WaitGroup
	start, cpu0 := time.Now(), cpuTime()
	for i := range samples {
		call := newCaller()
		w := &samples[i]
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				err := call(ctx)
				// grpc-go may fail a call for a passed deadline before the
				// context's own timer has fired.
				if ctx.Err() != nil || !time.Now().Before(end) {
					return
				}
				w.lat = append(w.lat, time.Since(t0))
				if err != nil {
					w.errs++
					if w.firstErr == nil {
						w.firstErr = err
					}
				}
			}
		})
	}
	wg.Wait()
	var all sample
	for _, w := range samples {
		all.add(w)
	}
	all.elapsed = time.Since(start)
	all.cpu = cpuTime() - cpu0
	return all
}

// Compare measures kind straight to the upstream and through the gateway in
// alternating rounds, so that a noisy neighbour hurts both alike, and writes
// one line per target and the ratio of throughputs to w.
func Compare(ctx context.Context, w io.Writer, s *Stack, kind Kind, concurrency int, duration time.Duration) (ratio float64, err error) {
	const rounds = 5
	targets := []struct{ name, addr string }{{"direct", s.UpstreamAddr}, {"gateway", s.GatewayAddr}}
	callers := make([]func() Caller, len(targets))
	for i, target := range targets {
		newCaller, cleanup, err := NewCaller(kind, target.addr, s.Token, concurrency)
		if err != nil {
			return 0, err
		}
		defer cleanup()
		callers[i] = newCaller
		warm, cancel := context.WithTimeout(ctx, duration/10)
		run(warm, newCaller, concurrency)
		cancel()
	}
	samples := make([]sample, len(targets))
	for range rounds {
		for i := range targets {
			rctx, cancel := context.WithTimeout(ctx, duration/rounds)
			samples[i].add(run(rctx, callers[i], concurrency))
			cancel()
		}
	}
	var rps, cpu [2]float64
	for i, target := range targets {
		res := samples[i].result()
		if res.Errors > 0 {
			return 0, fmt.Errorf("%s %s: %d of %d requests failed: %w", kind, target.name, res.Errors, res.Requests, res.FirstError)
		}
		if res.Requests == 0 {
			return 0, errors.New("no requests completed")
		}
		rps[i] = res.RPS()
		cpu[i] = float64(res.CPUPerRequest())
		fmt.Fprintf(w, "%-20s %-8s %10.0f req/s   p50 %8s   p99 %8s   cpu/req %7s\n", kind, target.name, rps[i],
			res.P50.Round(time.Microsecond), res.P99.Round(time.Microsecond), res.CPUPerRequest().Round(100*time.Nanosecond))
	}
	ratio = rps[1] / rps[0]
	fmt.Fprintf(w, "%-20s %-8s %9.0f%% of direct throughput (%.0f%% by CPU per request)\n", kind, "ratio", 100*ratio, 100*cpu[0]/cpu[1])
	return ratio, nil
}

// Kinds lists the protocols measured, in report order.
func Kinds() []Kind { return []Kind{ConnectJSON, GRPC} }

// ParseKinds parses a comma-separated list of kinds ("" is all).
func ParseKinds(s string) ([]Kind, error) {
	if s == "" {
		return Kinds(), nil
	}
	var out []Kind
	for k := range strings.SplitSeq(s, ",") {
		if !slices.Contains(Kinds(), Kind(k)) {
			return nil, fmt.Errorf("loadtest: unknown kind %q (have %v)", k, Kinds())
		}
		out = append(out, Kind(k))
	}
	return out, nil
}
