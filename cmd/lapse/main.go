// Command lapse scores users' churn and purchase propensity from exported
// event histories. Run `lapse help` for the commands.
//
// main only wires the process to Run: signals become context cancellation
// and Run's result becomes the exit status. Everything else, including the
// logger, is built by Run so that tests can run the whole program in-process.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // --tz works on machines without a zoneinfo database
)

// Set at build time: go build -ldflags "-X main.version=v1.2.3 -X main.commit=abc123".
var (
	version = "dev"
	commit  = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
