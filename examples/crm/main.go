// Command crm runs the demo legacy CRM: a small JSON API for
// organisations, people, tasks, distribution mandates and interactions,
// kept in memory, with no webhook code of its own. Put Caddy with
// caddy-webhooks in front of it (see rules.yaml and README.md) to get the
// webhooks of shared/seeds/000 out of it.
//
// Usage:
//
//	go run ./examples/crm [-addr 127.0.0.1:9001]
//
// On start it prints "crm listening on <host:port>" to standard output
// (with -addr 127.0.0.1:0 the port is chosen by the system), then logs one
// line per request to standard error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/examples/crm/crm"
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

// run serves the CRM on addr until ctx is done. Once it listens it
// writes "crm listening on <host:port>" to out.
func run(ctx context.Context, addr string, out io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           logRequests(crm.New()),
		ReadHeaderTimeout: 10 * time.Second,
	}
	fmt.Fprintf(out, "crm listening on %s\n", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// statusRecorder remembers the status code of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// logRequests logs one line per request: method, path, user, status, duration.
func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		user := r.Header.Get(crm.UserHeader)
		if user == "" {
			user = "-"
		}
		log.Printf("%s %s user=%s %d %s", r.Method, r.URL.RequestURI(), user, rec.status, time.Since(start).Round(time.Microsecond))
	})
}
