// Command shop runs the demo legacy shop: a small JSON API for orders,
// customers and Stripe payment webhooks, kept in memory, with no webhook
// code of its own. Put Caddy with caddy-webhooks in front of it (see
// ../../Caddyfile.example and rules.yaml) to get webhooks out of it.
//
// Usage:
//
//	go -C examples run ./shop [-addr 127.0.0.1:9000]
//
// On start it prints "shop listening on <host:port>" to standard output
// (with -addr 127.0.0.1:0 the port is chosen by the system), then logs one
// line per request to standard error.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/caddy-webhooks/caddy-webhooks/examples/internal/demoapp"
	"github.com/caddy-webhooks/caddy-webhooks/examples/shop/shop"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "address to listen on (host:port; port 0 picks a free one)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demoapp.Run(ctx, "shop", *addr, demoapp.LogRequests(shop.New(), nil), os.Stdout); err != nil {
		log.Fatal(err)
	}
}
