package caddymodule_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/rules"
)

// TestLearnMode: a handler with learn and no rules passes every request
// through unchanged, and the admin API reports the routes it saw and a
// rule file that loads; DELETE starts afresh.
func TestLearnMode(t *testing.T) {
	t.Parallel()
	up := numberedApp(t)
	port := testbed.FreePort(t)
	c := testbed.StartCaddy(t, "", testbed.Global("")+fmt.Sprintf(`http://127.0.0.1:%d {
	webhooks {
		learn
	}
	reverse_proxy %s
}
`, port, up.Listener.Addr()))
	a := testbed.API{T: t, Base: "http://" + c.AdminAddr}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	// The same answers through Caddy as from the app.
	for _, id := range []string{"101", "102", "103"} {
		for _, st := range []string{"paid", "shipped"} {
			send(t, "PATCH", base+"/items/orders/"+id, `{"status":"`+st+`"}`, 200)
		}
		viaCaddy, direct := get(t, base+"/items/orders/"+id), get(t, up.URL+"/items/orders/"+id)
		if viaCaddy != direct {
			t.Errorf("GET %s through Caddy: %q, from the app: %q", id, viaCaddy, direct)
		}
	}
	send(t, "POST", base+"/items/orders", `{"status":"new"}`, 201)
	send(t, "GET", base+"/items/orders/999", "", 404)

	var seen struct {
		Observed int64 `json:"observed"`
		Model    struct {
			Routes []struct {
				Method, Path string
				Count        int64
			} `json:"routes"`
		} `json:"model"`
	}
	r := a.Expect(a.Do(http.MethodGet, "/webhooks/learn", nil), http.StatusOK)
	if err := json.Unmarshal(r.Body, &seen); err != nil {
		t.Fatal(err)
	}
	if seen.Observed != 11 {
		t.Errorf("observed %d exchanges, want 11", seen.Observed)
	}
	routes := map[string]int64{}
	for _, rt := range seen.Model.Routes {
		routes[rt.Method+" "+rt.Path] = rt.Count
	}
	if routes["PATCH /items/orders/{id}"] != 6 || routes["GET /items/orders/{id}"] != 4 || routes["POST /items/orders"] != 1 {
		t.Errorf("routes %v", routes)
	}

	resp, err := http.Get(a.Base + "/webhooks/learn/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	yaml, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasPrefix(ct, "application/yaml") {
		t.Fatalf("rules.yaml: %d %s", resp.StatusCode, ct)
	}
	specs, err := rules.Parse("rules.yaml", yaml)
	if err == nil {
		_, err = rules.Compile(specs)
	}
	if err != nil {
		t.Fatalf("the proposal does not load: %v\n%s", err, yaml)
	}
	if !strings.Contains(string(yaml), "order.status_changed") {
		t.Errorf("no order.status_changed proposed:\n%s", yaml)
	}

	a.Expect(a.Do(http.MethodDelete, "/webhooks/learn", nil), http.StatusNoContent)
	r = a.Expect(a.Do(http.MethodGet, "/webhooks/learn", nil), http.StatusOK)
	if err := json.Unmarshal(r.Body, &seen); err != nil || seen.Observed != 0 || len(seen.Model.Routes) != 0 {
		t.Errorf("after DELETE: %s", r)
	}
}

// numberedApp keeps orders with numeric ids, as most apps do: GET, PATCH
// /items/orders/{id}, POST /items/orders (201).
func numberedApp(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	status := map[string]string{"101": "pending", "102": "new", "103": "pending"}
	next := 104
	answer := func(w http.ResponseWriter, code int, id string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"id":%s,"status":%q,"updated_at":"%d"}`, id, status[id], len(status[id]))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := status[r.PathValue("id")]; !ok {
			http.NotFound(w, r)
			return
		}
		answer(w, 200, r.PathValue("id"))
	})
	mux.HandleFunc("PATCH /items/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Status string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		defer mu.Unlock()
		status[r.PathValue("id")] = body.Status
		answer(w, 200, r.PathValue("id"))
	})
	mux.HandleFunc("POST /items/orders", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Status string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		defer mu.Unlock()
		id := fmt.Sprint(next)
		next++
		status[id] = body.Status
		answer(w, 201, id)
	})
	up := httptest.NewServer(mux)
	t.Cleanup(up.Close)
	return up
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
}
