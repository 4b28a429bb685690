package main

import (
	"context"
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
	"github.com/caddy-webhooks/caddy-webhooks/storage/badgerstore"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TestShopRulesEndToEnd puts real Caddy with examples/shop/rules.yaml in
// front of the real shop and checks each event the rules promise, and that
// failed requests, no-op updates, redeliveries and reads emit nothing.
func TestShopRulesEndToEnd(t *testing.T) {
	app := httptest.NewServer(shop.New())
	t.Cleanup(app.Close)
	port := testbed.FreePort(t)
	c := testbed.StartCaddy(t, "", testbed.Global("")+testbed.Site(port, "examples/shop/rules.yaml", app.Listener.Addr()))
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
	id := order.Get("_id").String()
	call("POST", "/api/orders", `{"customer":{"email":"x@example.ch"},"items":[]}`, 400)
	call("GET", "/api/orders/"+id, "", 200)
	stripe := func(evt, typ, orderID string) string {
		return `{"id":"` + evt + `","type":"` + typ + `","created":1795420800,"data":{"object":{"id":"cs_1","amount_total":3100,"currency":"chf","payment_intent":"pi_1","metadata":{"orderId":"` + orderID + `"}}}}`
	}
	call("POST", "/api/webhooks/stripe", stripe("evt_0", "checkout.session.expired", id), 200)
	call("POST", "/api/webhooks/stripe", stripe("evt_1", "checkout.session.completed", id), 200)
	call("POST", "/api/webhooks/stripe", stripe("evt_1", "checkout.session.completed", id), 200) // Stripe's redelivery
	call("POST", "/api/webhooks/stripe", stripe("evt_2", "charge.refunded", id), 200)
	call("POST", "/api/webhooks/stripe", stripe("evt_3", "checkout.session.completed", "000000000000000000000000"), 404)
	call("PUT", "/api/orders/"+id+"/status", `{"status":"processing"}`, 200)
	call("PUT", "/api/orders/"+id+"/status", `{"status":"processing"}`, 200) // no-op
	call("PUT", "/api/orders/"+id+"/status", `{"status":"lost"}`, 400)
	call("PUT", "/api/orders/ffffffffffffffffffffffff/status", `{"status":"shipped"}`, 404)
	call("PATCH", "/api/orders/"+id+"/status", `{"status":"shipped","trackingNumber":"99.00.1234","trackingUrl":"https://post.ch/t/99.00.1234"}`, 200)
	call("PATCH", "/api/orders/"+id+"/status", `{"status":"shipped","trackingNumber":"99.00.1235"}`, 200) // still shipped
	// Orders placed before the proxy was there (straight on the shop).
	direct := func(body string) gjson.Result {
		t.Helper()
		resp, err := http.Post(app.URL+"/api/orders", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 201 {
			t.Fatalf("direct POST /api/orders: %d %s", resp.StatusCode, b)
		}
		return gjson.ParseBytes(b)
	}
	// Its old status is prefetched.
	old := direct(`{"customer":{"email":"old@example.ch"},"items":[{"sku":"A","quantity":1,"price":1}],"site":"site-1"}`).Get("_id").String()
	call("PUT", "/api/orders/"+old+"/status", `{"status":"cancelled"}`, 200)
	call("PUT", "/api/orders/"+old+"/status", `{"status":"pending"}`, 409)
	// Paid through the proxy: order.paid prefetches the order named in
	// Stripe's body, so it has the order's fields; the redelivery, which
	// finds the payment remembered, emits nothing, and the next status
	// change starts from "paid".
	unseen := direct(`{"customer":{"email":"anne@example.ch","name":"Anne"},"items":[{"sku":"TEE","name":"T-shirt","quantity":3,"price":20},{"sku":"CAP","quantity":1,"price":9.9}],"site":"site-2"}`)
	uid := unseen.Get("_id").String()
	call("POST", "/api/webhooks/stripe", stripe("evt_4", "checkout.session.expired", uid), 200)
	call("POST", "/api/webhooks/stripe", stripe("evt_5", "checkout.session.completed", uid), 200)
	call("POST", "/api/webhooks/stripe", stripe("evt_5", "checkout.session.completed", uid), 200) // Stripe's redelivery
	call("PATCH", "/api/orders/"+uid+"/status", `{"status":"processing"}`, 200)
	// Paid twice straight on the shop, then once more through the proxy:
	// the prefetch shows it paid, so nothing is emitted.
	paidUnseen := direct(`{"customer":{"email":"paul@example.ch"},"items":[{"sku":"A","quantity":1,"price":5}],"site":"site-1"}`).Get("_id").String()
	if resp, err := http.Post(app.URL+"/api/webhooks/stripe", "application/json", strings.NewReader(stripe("evt_6", "checkout.session.completed", paidUnseen))); err != nil || resp.StatusCode != 200 {
		t.Fatalf("direct stripe: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	call("POST", "/api/webhooks/stripe", stripe("evt_6", "checkout.session.completed", paidUnseen), 200)
	cust := call("POST", "/api/customers", `{"email":"jean@example.ch","password":"s3cret-pass","firstName":"Jean","lastName":"Muller","site":"site-2"}`, 201)
	call("POST", "/api/customers", `{"email":"jean@example.ch","password":"other-pass","firstName":"J"}`, 409)
	call("PUT", "/api/customers/"+cust.Get("_id").String(), `{"lastName":"Müller","phone":"+41 79 000 00 00"}`, 200)
	call("PUT", "/api/customers/"+cust.Get("_id").String(), `{"password":"x"}`, 400)
	c.Stop()

	s, err := badgerstore.Open(badgerstore.Options{Dir: filepath.Join(c.Dir, "webhooks")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := map[string][]gjson.Result{}
	err = s.EventsSince(context.Background(), time.Time{}, func(e webhook.Event) error {
		got[e.Name] = append(got[e.Name], gjson.ParseBytes(e.Data))
		if want := gjson.GetBytes(e.Data, "siteId").String(); e.Site != want || want == "" {
			t.Errorf("%s: site %q, want its siteId %q", e.Name, e.Site, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]int{"order.created": 1, "order.paid": 2, "order.status_changed": 4, "order.shipped": 1, "customer.created": 1, "customer.updated": 1} {
		if len(got[name]) != n {
			t.Errorf("%s fired %d times, want %d", name, len(got[name]), n)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// check finds an event of that name (not found before) whose fields
	// have the wanted values. Events are not compared by position: their
	// ids, hence the store's order, sort by time only to the millisecond.
	used := map[string]map[int]bool{}
	check := func(name string, want map[string]string) {
		t.Helper()
		if used[name] == nil {
			used[name] = map[int]bool{}
		}
		var seen []string
	events:
		for i, ev := range got[name] {
			if used[name][i] {
				continue
			}
			seen = append(seen, ev.Raw)
			for path, v := range want {
				if ev.Get(path).Raw != v {
					continue events
				}
			}
			used[name][i] = true
			return
		}
		t.Errorf("no %s with %v among %s", name, want, strings.Join(seen, "\n"))
	}
	q := func(s string) string { return `"` + s + `"` }
	check("order.created", map[string]string{"orderId": q(id), "orderNumber": q("CMD-2026-00001"), "total": "31",
		"status": q("pending"), "siteId": q("site-1"), "items.0.sku": q("MUG"), "customer.email": q("marie@example.ch")})
	check("order.paid", map[string]string{"orderId": q(id), "orderNumber": q("CMD-2026-00001"), "total": "31", "siteId": q("site-1"),
		"customer.name": q("Marie"), "items.#": "1", "payment.method": q("stripe"), "payment.transactionId": q("pi_1"), "payment.paidAt": "1795420800"})
	check("order.status_changed", map[string]string{"orderId": q(id), "oldStatus": q("paid"), "newStatus": q("processing"),
		"trackingNumber": "null", "trackingUrl": "null", "siteId": q("site-1")})
	check("order.status_changed", map[string]string{"orderId": q(id), "oldStatus": q("processing"), "newStatus": q("shipped"),
		"trackingNumber": q("99.00.1234"), "trackingUrl": q("https://post.ch/t/99.00.1234")})
	check("order.status_changed", map[string]string{"orderId": q(old), "orderNumber": q("CMD-2026-00002"), "oldStatus": q("pending"), "newStatus": q("cancelled")})
	check("order.paid", map[string]string{"orderId": q(uid), "orderNumber": unseen.Get("orderNumber").Raw, "total": "69.9", "siteId": q("site-2"),
		"customer": `{"email":"anne@example.ch","name":"Anne"}`, "items": unseen.Get("items").Raw,
		"payment": `{"method":"stripe","transactionId":"pi_1","paidAt":1795420800}`})
	check("order.status_changed", map[string]string{"orderId": q(uid), "oldStatus": q("paid"), "newStatus": q("processing"), "siteId": q("site-2")})
	check("order.shipped", map[string]string{"orderId": q(id), "orderNumber": q("CMD-2026-00001"), "customer.email": q("marie@example.ch"),
		"shipping.trackingNumber": q("99.00.1234"), "shipping.trackingUrl": q("https://post.ch/t/99.00.1234"), "siteId": q("site-1")})
	check("customer.created", map[string]string{"customerId": cust.Get("_id").Raw, "email": q("jean@example.ch"),
		"firstName": q("Jean"), "lastName": q("Muller"), "siteId": q("site-2")})
	check("customer.updated", map[string]string{"customerId": cust.Get("_id").Raw, "email": q("jean@example.ch"), "siteId": q("site-2")})
	if cc := got["customer.created"][0]; strings.Contains(strings.ToLower(cc.Raw), "password") {
		t.Errorf("customer.created leaks a password: %s", cc.Raw)
	}
	cu := got["customer.updated"][0]
	var changed []string
	_ = json.Unmarshal([]byte(cu.Get("changedFields").Raw), &changed)
	slices.Sort(changed)
	if !slices.Equal(changed, []string{"lastName", "phone"}) || strings.Contains(strings.ToLower(cu.Raw), "password") {
		t.Errorf("customer.updated data: %s", cu.Raw)
	}
}
