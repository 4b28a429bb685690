// Command crm runs the demo legacy CRM: a small JSON API for
// organisations, people, tasks, distribution mandates and interactions,
// kept in memory, with no webhook code of its own. Put Caddy with
// caddy-webhooks in front of it (see rules.yaml and README.md) to get the
// thirteen events of ../CATALOGUE.md out of it.
//
// Usage:
//
//	go -C examples run ./crm [-addr 127.0.0.1:9001]
//
// On start it prints "crm listening on <host:port>" to standard output
// (with -addr 127.0.0.1:0 the port is chosen by the system), then logs one
// line per request to standard error.
package main

import (
	"context"
	"flag"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/caddy-webhooks/caddy-webhooks/examples/crm/crm"
	"github.com/caddy-webhooks/caddy-webhooks/examples/internal/demoapp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "address to listen on (host:port; port 0 picks a free one)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run serves the CRM on addr until ctx is done, logging each request with
// the user the SSO gateway names.
func run(ctx context.Context, addr string, out io.Writer) error {
	return demoapp.Run(ctx, "crm", addr, demoapp.LogRequests(crm.New(), logUser), out)
}

func logUser(r *http.Request) string {
	user := r.Header.Get(crm.UserHeader)
	if user == "" {
		user = "-"
	}
	return "user=" + user
}
