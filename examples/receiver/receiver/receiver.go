package receiver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/caddy-webhooks/caddy-webhooks/signer"
)

// Receiver is the example webhook endpoint; it is an http.Handler (see the
// package documentation for its routes). Create it with New; it is safe for
// concurrent use.
type Receiver struct {
	opts  Options
	mux   *http.ServeMux
	kept  store
	outMu sync.Mutex // serialises lines to opts.Out
}

// New returns a Receiver configured by opts (zero fields take their
// defaults; see Options). Check opts with Options.Validate first to report
// mistakes early.
func New(opts Options) *Receiver {
	r := &Receiver{opts: opts.withDefaults(), mux: http.NewServeMux()}
	r.kept.keep = r.opts.Keep
	r.mux.HandleFunc("POST /", r.receive)
	r.mux.HandleFunc("GET /deliveries", r.listDeliveries)
	r.mux.HandleFunc("DELETE /deliveries", r.clearDeliveries)
	r.mux.HandleFunc("GET /health", health)
	return r
}

// ServeHTTP routes the request.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mux.ServeHTTP(w, req)
}

// Deliveries returns copies of the kept deliveries, oldest first; never nil.
func (r *Receiver) Deliveries() []Delivery { return r.kept.all() }

// receive handles one delivery: read, verify, keep, print, answer. The
// delivery is kept and printed before the answer is sent, so whoever sent
// it finds it in /deliveries (and on Out) as soon as it has the answer.
func (r *Receiver) receive(w http.ResponseWriter, req *http.Request) {
	d := Delivery{
		ReceivedAt: r.opts.Now().UTC(),
		Path:       req.URL.Path,
		Headers:    keptHeaders(req.Header),
	}
	body, status, err := readBody(w, req)
	if err == nil {
		d.Body = rawBody(body)
		d.Scheme, err = r.verify(req.Header, body)
		status = http.StatusUnauthorized
	}
	if err != nil {
		d.Status, d.Error = status, err.Error()
		r.kept.add(d)
		r.println(rejectedLine(d.Error))
		http.Error(w, d.Error, status)
		return
	}
	d.Verified, d.Status = true, r.opts.Status
	r.kept.add(d)
	r.println(verifiedLine(d.Scheme, req.Header, body))
	w.WriteHeader(d.Status)
}

// readBody reads at most MaxBody bytes of the request body; on failure it
// returns the status to answer (413 or 400) and why.
func readBody(w http.ResponseWriter, req *http.Request) ([]byte, int, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", MaxBody)
	case err != nil:
		return nil, http.StatusBadRequest, fmt.Errorf("reading body: %w", err)
	}
	return body, 0, nil
}

// verify picks the scheme (forced or detected) and checks the signature.
// It returns the scheme used ("" if none could be detected) and nil, or
// why the delivery is refused, prefixed with the scheme.
func (r *Receiver) verify(h http.Header, body []byte) (string, error) {
	scheme := r.opts.Scheme
	if r.opts.isAuto() {
		if scheme = DetectScheme(h); scheme == "" {
			return "", fmt.Errorf("%w: no webhook-signature or X-Webhook-Signature header", signer.ErrNoSignature)
		}
	}
	if err := signer.Verify(scheme, h, body, r.opts.Secret, r.opts.Now()); err != nil {
		return scheme, fmt.Errorf("%s: %w", scheme, err)
	}
	return scheme, nil
}

// println writes line and a newline to opts.Out, if any.
func (r *Receiver) println(line string) {
	if r.opts.Out == nil {
		return
	}
	r.outMu.Lock()
	defer r.outMu.Unlock()
	fmt.Fprintln(r.opts.Out, line)
}

// listDeliveries serves the kept deliveries as a JSON array.
func (r *Receiver) listDeliveries(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(r.Deliveries()) // only a write error, i.e. a gone client
}

// clearDeliveries forgets the kept deliveries.
func (r *Receiver) clearDeliveries(w http.ResponseWriter, _ *http.Request) {
	r.kept.reset()
	w.WriteHeader(http.StatusNoContent)
}

// health answers 200 "ok".
func health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}
