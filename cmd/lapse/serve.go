package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/lapse-dev/lapse/serving"
	"github.com/lapse-dev/lapse/serving/store"
)

func init() { register(serveCommand) }

var serveCommand = &Command{
	Name:     "serve",
	Summary:  "serve scores, live events, segments, experiments and models over HTTP",
	Synopsis: "serve --store lapse.db [--addr 127.0.0.1:8080] [--tokens-file FILE]",
	Description: `Opens the store (the process holds its lock until it stops: train and the
other store commands wait for it at most a second, then say it is in use),
loads the active model and answers the HTTP API described at /openapi.yaml.
SIGINT or SIGTERM stops accepting connections, lets in-flight requests finish
(up to --shutdown-timeout) and closes the store.

Authentication: --tokens-file holds one "TOKEN ROLE" pair a line (roles read,
write, admin; # starts a comment); LAPSE_TOKENS may hold the same pairs
separated by newlines or commas. Without any token the server only listens
on a loopback address. The first line on stderr is "listening on
http://ADDR", with the port filled in when --addr asks for port 0.`,
	Examples: []string{
		"lapse serve --store lapse.db",
		"lapse serve --store lapse.db --addr 0.0.0.0:8080 --tokens-file tokens.txt",
	},
	Setup: setupServe,
}

type serveFlags struct {
	store, addr, tokensFile string
	cfg                     serving.Config
}

func setupServe(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
	f := &serveFlags{cfg: serving.DefaultConfig()}
	fs.StringVar(&f.store, "store", "", "store `file` written by lapse train (required)")
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen `address` host:port (port 0 picks a free one)")
	fs.StringVar(&f.tokensFile, "tokens-file", "", "bearer tokens `file`: one \"TOKEN ROLE\" a line (read, write, admin)")
	fs.Int64Var(&f.cfg.MaxBodyBytes, "max-body", f.cfg.MaxBodyBytes, "largest request body in `bytes` (413 past it)")
	fs.IntVar(&f.cfg.MaxEvents, "max-events", f.cfg.MaxEvents, "most events in one POST /v1/events (`n`)")
	fs.IntVar(&f.cfg.MaxScoreIDs, "max-score-ids", f.cfg.MaxScoreIDs, "most user ids in one POST /v1/scores (`n`)")
	fs.Var(durationFlag{&f.cfg.ReadTimeout}, "read-timeout", "time to read a whole request (`duration`)")
	fs.Var(durationFlag{&f.cfg.WriteTimeout}, "write-timeout", "time to write a response (`duration`)")
	fs.Var(durationFlag{&f.cfg.ShutdownTimeout}, "shutdown-timeout", "how long shutdown waits for in-flight requests (`duration`)")
	return func(ctx context.Context, env *Env, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected arguments %q", args)
		}
		if f.store == "" {
			return usagef("--store is required")
		}
		return runServe(ctx, env, f)
	}
}

// loadTokens reads --tokens-file and LAPSE_TOKENS.
func loadTokens(file string) ([]serving.Token, error) {
	var toks []serving.Token
	if file != "" {
		fh, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("tokens file: %w", err)
		}
		defer fh.Close()
		if toks, err = serving.ParseTokens(fh); err != nil {
			return nil, fmt.Errorf("tokens file %s: %w", file, err)
		}
	}
	if env := os.Getenv("LAPSE_TOKENS"); env != "" {
		more, err := serving.ParseTokens(strings.NewReader(strings.ReplaceAll(env, ",", "\n")))
		if err != nil {
			return nil, fmt.Errorf("LAPSE_TOKENS: %w", err)
		}
		toks = append(toks, more...)
	}
	return toks, nil
}

func runServe(ctx context.Context, env *Env, f *serveFlags) error {
	toks, err := loadTokens(f.tokensFile)
	if err != nil {
		return err
	}
	cfg := f.cfg
	cfg.Tokens = toks
	if err := cfg.Validate(); err != nil {
		return usagef("%v", err)
	}
	if _, err := os.Stat(f.store); err != nil {
		return fmt.Errorf("store %s: %w (create it with lapse train --store %s)", f.store, err, f.store)
	}
	st, err := store.Open(f.store, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			env.Log.Error("closing the store", "err", err)
		}
	}()
	srv := serving.New(cfg, servingDeps(st), env.Log)
	if err := srv.Load(ctx); err != nil {
		return err
	}
	if srv.ActiveVersion() == "" {
		env.Log.Warn("the store has no active model: scores answer 503 until one is trained (lapse train) or activated")
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", f.addr, err)
	}
	if err := serving.CheckListener(ln, len(toks) > 0); err != nil {
		ln.Close()
		return err
	}
	fmt.Fprintf(env.Stderr, "listening on http://%s\n", ln.Addr())
	env.Log.Info("serving", "addr", ln.Addr().String(), "store", f.store, "model_version", srv.ActiveVersion(),
		"auth", len(toks) > 0, "started", time.Now().UTC().Format(time.RFC3339))
	err = srv.Serve(ctx, ln)
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	env.Log.Info("stopped")
	return nil
}
