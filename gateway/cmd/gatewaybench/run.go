package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"time"

	"github.com/acme/authgw/gateway/internal/config"
	"github.com/acme/authgw/gateway/internal/loadtest"
)

// run parses flags, runs each comparison and prints the report. The access
// log is formatted as in production and thrown away.
func run(ctx context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	duration := fs.Duration("duration", 5*time.Second, "measured time per target")
	concurrency := fs.Int("concurrency", 32, "concurrent callers")
	kinds := fs.String("kinds", "", "comma-separated subset of connect-json-http1,grpc-h2c")
	upstreamProtocol := fs.String("upstream-protocol", config.ProtocolAuto, "how the gateway reaches the upstream: auto, h2c or http1")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	list, err := loadtest.ParseKinds(*kinds)
	if err != nil {
		return err
	}
	stack, err := loadtest.Start(slog.New(slog.NewJSONHandler(io.Discard, nil)), *upstreamProtocol)
	if err != nil {
		return err
	}
	defer stack.Close()
	fmt.Fprintf(stdout, "GOMAXPROCS=%d concurrency=%d duration=%v upstream-protocol=%s; client, gateway and upstream in one process\n",
		runtime.GOMAXPROCS(0), *concurrency, *duration, *upstreamProtocol)
	for _, k := range list {
		if _, err := loadtest.Compare(ctx, stdout, stack, k, *concurrency, *duration); err != nil {
			return err
		}
	}
	return nil
}
