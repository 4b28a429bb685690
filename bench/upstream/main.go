// Command upstream is the fast stand-in app that the benchmark puts behind
// Caddy. It answers two routes with small JSON documents and 404s the rest:
//
//	POST /api/orders          201, a ~300-byte order (matches bench/rules.yaml)
//	GET  /api/products/{id}   200, a ~300-byte product (matches no rule)
//
// It prints "listening on <addr>" once the listener is open, so -addr
// 127.0.0.1:0 can be used and the chosen port read from its output.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

var orderSeq atomic.Uint64

// orderBody renders the order with a unique _id and orderNumber. It is built
// with a pre-sized byte slice: the upstream must not be the bottleneck.
func orderBody(n uint64) []byte {
	b := make([]byte, 0, 384)
	b = append(b, `{"_id":"`...)
	b = appendHex24(b, n)
	b = append(b, `","orderNumber":"CMD-2026-`...)
	b = appendPadded(b, n, 6)
	b = append(b, `","status":"pending","total":42.5,"currency":"CHF","site":"site-1",`...)
	b = append(b, `"customer":{"email":"jane.doe@example.com","name":"Jane Doe"},`...)
	b = append(b, `"items":[{"sku":"SKU-001","quantity":2,"price":15},{"sku":"SKU-002","quantity":1,"price":12.5}],`...)
	b = append(b, `"createdAt":"2026-11-23T10:00:00.000Z"}`...)
	return b
}

func productBody(id string) []byte {
	q, _ := json.Marshal(id) // escapes whatever the path segment holds
	b := make([]byte, 0, 384)
	b = append(b, `{"_id":`...)
	b = append(b, q...)
	b = append(b, `,"sku":"SKU-123","name":"Widget","description":"A very ordinary widget, sold by the unit.",`...)
	b = append(b, `"price":19.9,"currency":"CHF","stock":42,"site":"site-1","active":true,`...)
	b = append(b, `"tags":["hardware","widgets","bestseller"],"images":["/img/widget-1.jpg","/img/widget-2.jpg"],`...)
	b = append(b, `"updatedAt":"2026-11-23T10:00:00.000Z"}`...)
	return b
}

func appendHex24(b []byte, n uint64) []byte {
	const digits = "0123456789abcdef"
	// 8 fixed hex digits then 16 from the counter: 24 like a Mongo ObjectId.
	b = append(b, "6745a1b2"...)
	for i := 15; i >= 0; i-- {
		b = append(b, digits[(n>>(uint(i)*4))&0xf])
	}
	return b
}

func appendPadded(b []byte, n uint64, width int) []byte {
	s := strconv.FormatUint(n, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body) //nolint:gosec // G705: JSON the server made, sent as application/json
}

func handler(w http.ResponseWriter, r *http.Request) {
	// Drain the request body so the connection can be reused.
	_, _ = io.Copy(io.Discard, r.Body)

	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/orders":
		writeJSON(w, http.StatusCreated, orderBody(orderSeq.Add(1)))
		return
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/products/"):
		id := strings.TrimPrefix(r.URL.Path, "/api/products/")
		if id != "" && !strings.Contains(id, "/") {
			writeJSON(w, http.StatusOK, productBody(id))
			return
		}
	}
	writeJSON(w, http.StatusNotFound, []byte(`{"error":"not found"}`))
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address (host:port; port 0 picks a free one)")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("upstream: %v", err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	_ = os.Stdout.Sync()

	srv := &http.Server{
		Handler:           http.HandlerFunc(handler),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	if err := srv.Serve(ln); err != nil {
		log.Fatalf("upstream: %v", err)
	}
}
