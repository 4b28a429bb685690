package caddymodule_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/signer"
)

const createdRules = `events:
  - name: order.created
    match: { method: POST, path: /items/orders, status: 200 }
    each: response.body.data
    data: { orderId: item.id, status: item.status }
`

// startCreated starts a Caddy whose rules infer order.created from the
// batch app's creates, with private targets allowed; it returns its
// admin API and the site's base URL.
func startCreated(t *testing.T) (testbed.API, string) {
	t.Helper()
	_, up := newBatchApp(t)
	dir := t.TempDir()
	rulePath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulePath, []byte(createdRules), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testbed.FreePort(t)
	c := testbed.StartCaddy(t, dir, testbed.Global("allow_private_targets")+fmt.Sprintf(`http://127.0.0.1:%d {
	webhooks {
		rules %s
	}
	reverse_proxy %s
}
`, port, rulePath, up.Listener.Addr()))
	return testbed.API{T: t, Base: "http://" + c.AdminAddr}, fmt.Sprintf("http://127.0.0.1:%d", port)
}

// TestFilterAndTransform: a subscription's filter keeps the events it is
// false for from being delivered at all (no delivery in its history, not
// in its stats), and its transformation builds the data it receives,
// signed as sent, at the URL its {event} placeholder names; a filter or
// transformation that does not compile is a 400 naming its field.
func TestFilterAndTransform(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	var secret string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := signer.Verify(signer.Standard, r.Header, body, secret, time.Now()); err != nil {
			t.Errorf("signature of %s: %v", body, err)
		}
		var env struct{ Data json.RawMessage }
		_ = json.Unmarshal(body, &env)
		got = append(got, r.URL.Path+" "+string(env.Data))
	}))
	t.Cleanup(recv.Close)
	a, base := startCreated(t)

	for field, bad := range map[string]string{"filter": "data.status ==", "transform": `data.status + "x"`} {
		msg := a.FieldError(a.Do(http.MethodPost, "/webhooks/subscriptions", map[string]any{
			"url": recv.URL, "events": []string{"order.created"}, field: bad}), field)
		t.Logf("%s %q: %s", field, bad, msg)
	}
	sub := a.Create(map[string]any{"url": recv.URL + "/hooks/{event}", "events": []string{"order.created"},
		"filter": `data.status == "paid"`, "transform": `{"order": data.orderId, "state": data.status}`})
	mu.Lock()
	secret = testbed.Str(sub["secret"])
	mu.Unlock()
	id := testbed.Str(sub["id"])

	send(t, "POST", base+"/items/orders", `[{"status":"new"},{"status":"paid"},{"status":"new"},{"status":"paid"}]`, 200)
	testbed.Eventually(t, 10*time.Second, "two deliveries", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 2
	})
	testbed.Eventually(t, 15*time.Second, "the stats count two", func() bool {
		st, _ := a.Get(id)["stats"].(map[string]any)
		return st["total_sent"] == 2.0
	})
	mu.Lock()
	slices.Sort(got)
	want := []string{`/hooks/order.created {"order":"n2","state":"paid"}`, `/hooks/order.created {"order":"n4","state":"paid"}`}
	if !slices.Equal(got, want) {
		t.Errorf("received %q, want %q", got, want)
	}
	mu.Unlock()
	history := a.Expect(a.Do(http.MethodGet, "/webhooks/subscriptions/"+id+"/deliveries", nil), http.StatusOK).List(t)
	if len(history) != 2 {
		t.Errorf("the subscription's history holds %d deliveries, want 2 (the filtered events make none)", len(history))
	}
	if st, _ := a.Get(id)["stats"].(map[string]any); st["total_sent"] != 2.0 || st["total_failed"] != 0.0 {
		t.Errorf("stats %v", st)
	}
}
