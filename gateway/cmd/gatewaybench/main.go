// Command gatewaybench is the gateway's load script: it starts a trivial
// upstream and a gateway in front of it (JWT check on) and reports
// throughput and p50/p99 straight to the upstream and through the gateway,
// for Connect JSON over HTTP/1.1 and gRPC over h2c.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gatewaybench:", err)
		stop()
		os.Exit(1)
	}
}
