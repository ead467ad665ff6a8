// Command lapse scores users' churn and purchase propensity from exported
// event histories. Run `lapse help` for the commands.
//
// main only wires the process to Run: signals become context cancellation
// and Run's result becomes the exit status. Everything else, including the
// logger, is built by Run so that tests can run the whole program in-process.
//
// # Adding a command
//
// Put it in its own file and register it with one line,
// `func init() { register(trainCommand) }`, where trainCommand is a
// *Command whose Setup registers the flags and returns the run function.
// Reuse the shared flags: addInputFlags (--events and the column mapping,
// --max-bad-rows) with openEvents, addFeatureFlags (--as-of, --horizon,
// --windows, ...) with its spec method, addSeedFlag, and the flag.Value
// types in flags.go (durationFlag accepts 30d, 13w, 720h). Return usagef(...)
// for a misuse (exit code 2 with the usage text); errors wrapping
// features.ErrTooManyBadRows also exit with 2. Then run
// `go test ./cmd/lapse -run TestREADMEUsage -update` to refresh the README's
// CLI reference; TestHelp checks that every flag shows a default and that
// there is an example.
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
