// Command gatewaysut is the server under test of the Connect conformance
// suite: the gateway in front of the suite's reference server. It reads the
// runner's ServerCompatRequest, starts referenceserver over h2c (as an
// upstream is configured in production), starts the gateway before it with
// one public route, and reports the gateway's address.
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
	if err := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gatewaysut:", err)
		stop()
		os.Exit(1)
	}
}
