// Package demoapp runs the example legacy apps (examples/shop,
// examples/crm) as small HTTP servers: listen, say where, log each
// request, shut down cleanly on a signal.
package demoapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"
)

// Run serves h on addr until ctx is done. Once it listens it writes
// "<name> listening on <host:port>" to out (the actual port, so that
// addr may ask for port 0).
func Run(ctx context.Context, name, addr string, h http.Handler, out io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "%s listening on %s\n", name, ln.Addr())

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

// LogRequests logs one line per request to the standard logger: method,
// path, what extra (may be nil) says of the request, status, size and
// duration.
func LogRequests(next http.Handler, extra func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		more := ""
		if extra != nil {
			more = " " + extra(r)
		}
		//nolint:gosec // G706: no line breaks: the method is a token, the URI escaped, header values hold no CR/LF
		log.Printf("%s %s%s %d %dB %s", r.Method, r.URL.RequestURI(), more, rec.status, rec.bytes, time.Since(start).Round(time.Microsecond))
	})
}

// statusRecorder remembers the status code and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
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
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
