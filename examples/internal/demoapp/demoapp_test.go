package demoapp

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRunListensOnAFreePortAndLogs(t *testing.T) {
	var logs syncBuffer
	log.SetOutput(&logs)
	t.Cleanup(func() { log.SetOutput(io.Discard) })

	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	h := http.NewServeMux()
	h.HandleFunc("/api/health", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"ok":true}`)) })
	go func() {
		done <- Run(ctx, "shop", "127.0.0.1:0", LogRequests(h, func(r *http.Request) string { return "user=" + r.Header.Get("X-U") }), &out)
	}()

	re := regexp.MustCompile(`^shop listening on (127\.0\.0\.1:\d+)\n$`)
	var addr string
	for deadline := time.Now().Add(5 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("no listening line, got %q", out.String())
	}
	if strings.HasSuffix(addr, ":0") {
		t.Fatalf("printed the requested port, not the actual one: %s", addr)
	}

	req, _ := http.NewRequest("GET", "http://"+addr+"/api/health", nil)
	req.Header.Set("X-U", "12")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"ok":true}` {
		t.Fatalf("health: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(logs.String(), "GET /api/health user=12 200 11B") {
		t.Errorf("request not logged: %q", logs.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop")
	}
}

func TestRunBadAddress(t *testing.T) {
	if err := Run(context.Background(), "x", "127.0.0.1:notaport", http.NotFoundHandler(), io.Discard); err == nil {
		t.Fatal("no error for a bad address")
	}
}
