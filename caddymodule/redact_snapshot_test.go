package caddymodule_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/storage/badgerstore"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// redactRules remember customers: the create's snapshot drops what the
// rule redacts from its data; the read (an inline Caddyfile rule below)
// takes its snapshot from a field of the answer, with redact entries of
// its own.
const redactRules = `events:
  - name: customer.created
    match: {method: POST, path: /api/customers, status: 201}
    state: {key: "customer:{response.body.id}"}
    data: response.body
    redact: [password]
`

const secretPassword = "hunter2-s3cret"

// TestSnapshotRedacted: after a create and a read that answer with the
// password, nothing in the store holds it, while the snapshots are there.
func TestSnapshotRedacted(t *testing.T) {
	customer := `{"id":"c1","name":"Ann","password":"` + secretPassword + `","profile":{"token":"tok-1","city":"Lyon"}}`
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/customers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, customer)
	})
	mux.HandleFunc("GET /api/customers/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"customer":`+customer+`}`)
	})
	up := httptest.NewServer(mux)
	t.Cleanup(up.Close)

	dir := t.TempDir()
	rulePath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulePath, []byte(redactRules), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testbed.FreePort(t)
	c := testbed.StartCaddy(t, dir, testbed.Global("")+fmt.Sprintf(`http://127.0.0.1:%d {
	webhooks {
		rules %s
		event {
			match {
				method GET
				path /api/customers/{id}
			}
			state {
				key customer-read:{path.id}
				snapshot response.body.customer {
					redact password *.token
				}
			}
		}
	}
	reverse_proxy %s
}
`, port, rulePath, up.Listener.Addr()))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	resp, body := post(t, base+"/api/customers", `{"name":"Ann","password":"`+secretPassword+`"}`)
	if resp.StatusCode != http.StatusCreated || body != customer {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	r, err := http.Get(base + "/api/customers/c1")
	if err != nil {
		t.Fatal(err)
	}
	read, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusOK || !bytes.Contains(read, []byte(secretPassword)) {
		t.Fatalf("read: %d %s (the client still gets the whole answer)", r.StatusCode, read)
	}
	c.Stop()

	if testbed.DirContains(t, dir, secretPassword) {
		t.Errorf("a file of the store holds the password")
	}
	store, err := badgerstore.Open(badgerstore.Options{Dir: filepath.Join(dir, "webhooks")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	err = store.EventsSince(ctx, time.Time{}, func(ev webhook.Event) error {
		if bytes.Contains(ev.Data, []byte(secretPassword)) {
			t.Errorf("event %s holds the password: %s", ev.Name, ev.Data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	snaps := map[string]string{}
	for _, k := range []string{"customer:c1", "customer-read:c1"} {
		v, err := store.Snapshot(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		snaps[k] = string(v)
	}
	want := map[string]string{
		"customer:c1":      `{"id":"c1","name":"Ann","profile":{"token":"tok-1","city":"Lyon"}}`,
		"customer-read:c1": `{"id":"c1","name":"Ann","profile":{"city":"Lyon"}}`,
	}
	if fmt.Sprint(snaps) != fmt.Sprint(want) {
		t.Errorf("snapshots:\n got %v\nwant %v", snaps, want)
	}
}
