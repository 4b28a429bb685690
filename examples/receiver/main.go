// Command receiver is an example webhook endpoint to run next to the demo
// (../demo.sh): it verifies the signature of every delivery caddy-webhooks
// sends it and prints one line per delivery.
//
// Usage:
//
//	go -C examples run ./receiver -secret whsec_… [-addr 127.0.0.1:9100]
//	    [-scheme auto|standard|sha256|hex|ed25519] [-status 200] [-quiet]
//
// The secret may come from the WEBHOOK_SECRET environment variable instead
// (-secret wins). On start it prints "receiver listening on <host:port>" to
// standard output (with -addr 127.0.0.1:0 the port is chosen by the system),
// then, unless -quiet, one "verified …" or "REJECTED …" line per delivery
// (format in package receiver). GET /deliveries lists the last 100
// deliveries as JSON and GET /health answers 200.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/caddy-webhooks/caddy-webhooks/examples/internal/demoapp"
	"github.com/caddy-webhooks/caddy-webhooks/examples/receiver/receiver"
)

// config is what the command line asks for.
type config struct {
	addr  string
	quiet bool
	opts  receiver.Options
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "receiver:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "receiver:", err)
		os.Exit(1)
	}
}

// parseFlags reads the command line args (without the program name),
// taking the secret from getenv("WEBHOOK_SECRET") when -secret is not
// given, and checks the result. Usage and flag errors go to errOut.
func parseFlags(args []string, getenv func(string) string, errOut io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("receiver", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:9100", "address to listen on (host:port; port 0 picks a free one)")
	fs.StringVar(&cfg.opts.Secret, "secret", "", "the subscription's secret (default $WEBHOOK_SECRET)")
	fs.StringVar(&cfg.opts.Scheme, "scheme", receiver.Auto, "signature scheme: auto (detect from headers), standard, sha256, hex or ed25519 (-secret is then the public key, whpk_…)")
	fs.IntVar(&cfg.opts.Status, "status", http.StatusOK, "HTTP status answered to verified deliveries (e.g. 500 to watch retries)")
	fs.BoolVar(&cfg.quiet, "quiet", false, "do not print a line per delivery")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.opts.Secret == "" {
		cfg.opts.Secret = getenv("WEBHOOK_SECRET")
	}
	if cfg.opts.Secret == "" {
		return config{}, errors.New("no secret: pass -secret or set WEBHOOK_SECRET")
	}
	if err := cfg.opts.Validate(); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// run serves the receiver on cfg.addr until ctx is done. Once it listens it
// writes "receiver listening on <host:port>" to out, then the delivery
// lines unless cfg.quiet.
func run(ctx context.Context, cfg config, out io.Writer) error {
	if !cfg.quiet {
		cfg.opts.Out = out
	}
	return demoapp.Run(ctx, "receiver", cfg.addr, receiver.New(cfg.opts), out)
}
