package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/caddy-webhooks/caddy-webhooks/examples/shop/shop"
	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/queue"
)

// TestShopRulesEndToEnd puts real Caddy with examples/shop/rules.yaml in
// front of the real shop and checks each event the rules promise, and that
// failed requests and reads emit nothing.
func TestShopRulesEndToEnd(t *testing.T) {
	app := httptest.NewServer(shop.New())
	t.Cleanup(app.Close)
	port := testbed.FreePort(t)
	c := testbed.StartCaddy(t, "", fmt.Sprintf(`{
	admin {ADMIN}
	auto_https off
	persist_config off
	webhooks {
		storage {DIR}/webhooks
	}
}
http://127.0.0.1:%d {
	webhooks {
		rules %s
	}
	reverse_proxy %s
}
`, port, filepath.Join(testbed.Root(), "examples/shop/rules.yaml"), app.Listener.Addr()))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	call := func(method, path, body string, want int) gjson.Result {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
		}
		return gjson.ParseBytes(b)
	}

	order := call("POST", "/api/orders", `{"customer":{"email":"marie@example.ch","name":"Marie"},"items":[{"sku":"MUG","name":"Mug","quantity":2,"price":15.5}],"site":"site-1"}`, 201)
	call("POST", "/api/orders", `{"customer":{"email":"x@example.ch"},"items":[]}`, 400)
	call("GET", "/api/orders/"+order.Get("_id").String(), "", 200)
	call("POST", "/api/webhooks/stripe", `{"id":"evt_1","type":"checkout.session.completed","data":{"object":{"id":"cs_1","amount_total":3100,"currency":"chf","payment_intent":"pi_1","metadata":{"orderId":"`+order.Get("_id").String()+`"}}}}`, 200)
	call("POST", "/api/webhooks/stripe", `{"id":"evt_2","type":"charge.refunded","data":{"object":{"id":"ch_1","metadata":{"orderId":"`+order.Get("_id").String()+`"}}}}`, 200)
	call("POST", "/api/webhooks/stripe", `{"id":"evt_3","type":"checkout.session.completed","data":{"object":{"id":"cs_2","metadata":{"orderId":"000000000000000000000000"}}}}`, 404)
	cust := call("POST", "/api/customers", `{"email":"jean@example.ch","password":"s3cret-pass","firstName":"Jean","lastName":"Muller","site":"site-2"}`, 201)
	call("POST", "/api/customers", `{"email":"jean@example.ch","password":"other-pass","firstName":"J"}`, 409)
	call("PUT", "/api/customers/"+cust.Get("_id").String(), `{"lastName":"Müller","phone":"+41 79 000 00 00"}`, 200)
	call("PUT", "/api/customers/"+cust.Get("_id").String(), `{"password":"x"}`, 400)
	c.Stop()

	s, err := queue.Open(queue.Options{Dir: filepath.Join(c.Dir, "webhooks")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := map[string][]gjson.Result{}
	err = s.EventsSince(time.Time{}, func(e queue.Event) error {
		got[e.Name] = append(got[e.Name], gjson.ParseBytes(e.Data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]int{"order.created": 1, "order.paid": 1, "customer.created": 1, "customer.updated": 1} {
		if len(got[name]) != n {
			t.Errorf("%s fired %d times, want %d", name, len(got[name]), n)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	oc := got["order.created"][0]
	if oc.Get("orderId").String() != order.Get("_id").String() || oc.Get("total").Float() != 31 ||
		oc.Get("siteId").String() != "site-1" || oc.Get("items.0.sku").String() != "MUG" {
		t.Errorf("order.created data: %s", oc.Raw)
	}
	op := got["order.paid"][0]
	if op.Get("orderId").String() != order.Get("_id").String() || op.Get("transactionId").String() != "pi_1" || op.Get("amountTotal").Int() != 3100 {
		t.Errorf("order.paid data: %s", op.Raw)
	}
	cc := got["customer.created"][0]
	if strings.Contains(strings.ToLower(cc.Raw), "password") || cc.Get("email").String() != "jean@example.ch" {
		t.Errorf("customer.created leaks a password or lacks the email: %s", cc.Raw)
	}
	cu := got["customer.updated"][0]
	var changed []string
	_ = json.Unmarshal([]byte(cu.Get("changedFields").Raw), &changed)
	slices.Sort(changed)
	if !slices.Equal(changed, []string{"lastName", "phone"}) || cu.Get("lastName").String() != "Müller" ||
		strings.Contains(strings.ToLower(cu.Raw), "password") {
		t.Errorf("customer.updated data: %s", cu.Raw)
	}
}
