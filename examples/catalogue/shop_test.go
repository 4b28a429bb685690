package catalogue_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"

	"github.com/tidwall/gjson"
)

// The shop's traffic (the shop's six events). The client's model of each
// order is the last answer that showed it, plus what a Stripe payment does
// to it (the shop's documented behaviour: status and paymentStatus become
// "paid" unless the order is already paid).

var orderStatuses = []string{"pending", "paid", "processing", "shipped", "delivered", "cancelled"}

type order struct {
	id      string
	doc     gjson.Result // the last answer that showed the order
	status  string
	payment string // paymentStatus
}

type customer struct {
	id    string
	email string
	doc   gjson.Result
}

type shopWorker struct {
	g          int
	r          *rand.Rand
	c          *caller
	proxy, app string
	n          int
	orders     []*order
	customers  []*customer
	lastStripe map[string]string // order id → the last checkout.session.completed body sent for it
}

func (w *shopWorker) next() int { w.n++; return w.n }

func (w *shopWorker) run(ops int) {
	for range ops {
		if len(w.orders) < 2 {
			w.createOrder(chance(w.r, 0.3))
			continue
		}
		switch x := w.r.IntN(100); {
		case x < 12:
			w.createOrder(chance(w.r, 0.3))
		case x < 18:
			w.invalidOrder()
		case x < 40:
			w.setStatus(pick(w.r, w.orders...))
		case x < 45:
			w.invalidStatus()
		case x < 56:
			w.pay(pick(w.r, w.orders...))
		case x < 61:
			w.otherStripe()
		case x < 65:
			w.invalidStripe()
		case x < 71:
			w.readOrder()
		case x < 80:
			w.createCustomer()
		case x < 92:
			w.updateCustomer()
		default:
			w.invalidCustomer()
		}
	}
}

// createOrder places an order through Caddy, or straight on the shop
// (an order the proxy never sees: no event, later ones prefetch it).
func (w *shopWorker) createOrder(direct bool) {
	n := w.next()
	var items []string
	for i := range 1 + w.r.IntN(3) {
		kv := []any{"sku", fmt.Sprintf("SKU-%d-%d", w.g, i), "quantity", 1 + w.r.IntN(4), "price", float64(w.r.IntN(10000)) / 100}
		if chance(w.r, 0.7) {
			kv = append(kv, "name", pick(w.r, "Mug", "T-shirt", "Café 250 g", "Poster"))
		}
		items = append(items, obj(kv...))
	}
	kv := []any{
		"customer", rawJSON(obj("email", fmt.Sprintf(" Buyer-%d-%d@Example.ch ", w.g, n), "name", pick(w.r, "Marie", "Jean", "Zoé", ""))),
		"items", rawJSON("[" + strings.Join(items, ",") + "]"),
	}
	if chance(w.r, 0.8) {
		kv = append(kv, "site", pick(w.r, "site-1", "site-2"))
	}
	if chance(w.r, 0.3) {
		kv = append(kv, "currency", pick(w.r, "chf", "EUR"))
	}
	body := obj(kv...)
	base := w.proxy
	if direct {
		base = w.app
	}
	a := w.c.do(!direct, base, "POST", "/api/orders", body)
	w.c.want(a, "POST /api/orders "+body, 201)
	if a.status != 201 {
		return
	}
	o := &order{id: a.body.Get("_id").String(), doc: a.body, status: a.body.Get("status").String(), payment: a.body.Get("paymentStatus").String()}
	w.orders = append(w.orders, o)
	if direct {
		return
	}
	w.c.tally.expect("order.created", "", map[string]any{
		"orderId":     o.id,
		"orderNumber": jv(a.body.Get("orderNumber")),
		"customer":    jv(a.body.Get("customer")),
		"items":       jv(a.body.Get("items")),
		"total":       jv(a.body.Get("total")),
		"status":      jv(a.body.Get("status")),
		"siteId":      jv(a.body.Get("site")),
	}, "POST /api/orders "+body)
}

func (w *shopWorker) invalidOrder() {
	body := pick(w.r,
		`{"customer":{"email":"x@example.ch"},"items":[]}`,
		`{"customer":{"email":"x@example.ch"}}`,
		`{"customer":{"email":"x@example.ch"},"items":[{"sku":"A","quantity":0,"price":1}]}`,
		`{"customer":{"email":"x@example.ch"},"items":[{"sku":"A","quantity":1,"price":-1}]}`,
		`{"customer":{"email":"x@example.ch"},"items":[{"quantity":1,"price":1}]}`,
		`{"customer":{"email":"not-an-email"},"items":[{"sku":"A","quantity":1,"price":1}]}`,
		`{"customer":{},"items":[{"sku":"A","quantity":1,"price":1}]}`,
		`{"customer":{"email":"x@example.ch"},"items":[{"sku":"A","quantity":1,"price":1}],"currency":"EURO"}`,
		`{"customer":`,
		``,
	)
	a := w.c.do(true, w.proxy, "POST", "/api/orders", body)
	w.c.want(a, "POST /api/orders "+body, 400)
}

// setStatus changes an order's status (often to the one it has) with PUT
// or PATCH, sometimes with tracking information.
func (w *shopWorker) setStatus(o *order) {
	status := o.status
	if chance(w.r, 0.6) {
		status = pick(w.r, orderStatuses...)
	}
	if status == "cancelled" && chance(w.r, 0.5) {
		status = pick(w.r, "processing", "shipped")
	}
	sent := status
	if chance(w.r, 0.15) {
		sent = strings.ToUpper(status[:1]) + status[1:] // the shop lower-cases it
	}
	kv := []any{"status", sent}
	n := w.next()
	if chance(w.r, 0.3) {
		kv = append(kv, "trackingNumber", fmt.Sprintf("99.%02d.%04d", w.g, n))
	}
	if chance(w.r, 0.2) {
		kv = append(kv, "trackingUrl", fmt.Sprintf("https://post.example/t/%d-%d", w.g, n))
	}
	body := obj(kv...)
	method := pick(w.r, "PUT", "PATCH")
	what := method + " /api/orders/" + o.id + "/status " + body
	a := w.c.do(true, w.proxy, method, "/api/orders/"+o.id+"/status", body)
	if o.status == "cancelled" && status != "cancelled" {
		w.c.want(a, what, 409)
	} else {
		w.c.want(a, what, 200)
	}
	if a.status != 200 {
		return
	}
	w.statusEvents(o, a, what)
}

// statusEvents updates the model of o with a 200 answer to a status change
// and expects the events it means.
func (w *shopWorker) statusEvents(o *order, a answer, what string) {
	old := o.status
	o.doc, o.status = a.body, a.body.Get("status").String()
	expectStatusEvents(w.c.tally, old, a.body, what)
}

func expectStatusEvents(tl *tally, old string, body gjson.Result, what string) {
	now := body.Get("status").String()
	if now == old {
		return
	}
	tl.expect("order.status_changed", "", map[string]any{
		"orderId":        jv(body.Get("_id")),
		"orderNumber":    jv(body.Get("orderNumber")),
		"oldStatus":      old,
		"newStatus":      now,
		"trackingNumber": jv(body.Get("shipping.trackingNumber")),
		"trackingUrl":    jv(body.Get("shipping.trackingUrl")),
		"siteId":         jv(body.Get("site")),
	}, what)
	if now == "shipped" {
		tl.expect("order.shipped", "", map[string]any{
			"orderId":     jv(body.Get("_id")),
			"orderNumber": jv(body.Get("orderNumber")),
			"customer":    jv(body.Get("customer")),
			"shipping":    jv(body.Get("shipping")),
			"siteId":      jv(body.Get("site")),
		}, what)
	}
}

func (w *shopWorker) invalidStatus() {
	o := pick(w.r, w.orders...)
	path, code := "/api/orders/"+o.id+"/status", 400
	body := pick(w.r, `{"status":"lost"}`, `{}`, `{"status":""}`, `{"status":`, ``, `{"status":"shipped"}`)
	if body == `{"status":"shipped"}` {
		path, code = "/api/orders/ffffffffffffffffffffffff/status", 404
	}
	method := pick(w.r, "PUT", "PATCH")
	a := w.c.do(true, w.proxy, method, path, body)
	w.c.want(a, method+" "+path+" "+body, code)
}

// stripeEvent is the body Stripe posts; created 0 leaves it out, and an
// empty orderID leaves metadata.orderId out.
func stripeEvent(evt, typ string, created int64, orderID, pi string) string {
	meta := "{}"
	if orderID != "" {
		meta = obj("orderId", orderID)
	}
	object := obj("id", "cs_"+evt, "object", "checkout.session", "amount_total", 3100, "currency", "chf",
		"payment_intent", pi, "metadata", rawJSON(meta))
	kv := []any{"id", evt, "object", "event", "type", typ}
	if created != 0 {
		kv = append(kv, "created", created)
	}
	kv = append(kv, "data", rawJSON(obj("object", rawJSON(object))))
	return obj(kv...)
}

// pay sends checkout.session.completed for o, or Stripe's redelivery of
// the last one sent for it, also after the order's status moved on from
// "paid" (the rule forgets the order's state, so nothing stale is kept).
func (w *shopWorker) pay(o *order) {
	body, ok := w.lastStripe[o.id]
	if !ok || chance(w.r, 0.5) {
		n := w.next()
		var created int64
		if chance(w.r, 0.7) {
			created = 1795420800 + int64(w.g*100000+n)
		}
		body = stripeEvent(fmt.Sprintf("evt_%d_%d", w.g, n), "checkout.session.completed", created, o.id, fmt.Sprintf("pi_%d_%d", w.g, n))
		w.lastStripe[o.id] = body
	}
	what := "POST /api/webhooks/stripe " + body
	a := w.c.do(true, w.proxy, "POST", "/api/webhooks/stripe", body)
	w.c.want(a, what, 200)
	if a.status != 200 {
		return
	}
	expectPaid(w.c.tally, o, body, what)
}

// expectPaid updates the model of o after Stripe's checkout.session.completed
// body was answered 200, and expects order.paid if it was unpaid.
func expectPaid(tl *tally, o *order, body, what string) {
	if o.payment == "paid" {
		return // a redelivery: the shop changes nothing
	}
	req := gjson.Parse(body)
	tl.expect("order.paid", "", map[string]any{
		"orderId":     o.id,
		"orderNumber": jv(o.doc.Get("orderNumber")),
		"customer":    jv(o.doc.Get("customer")),
		"items":       jv(o.doc.Get("items")),
		"total":       jv(o.doc.Get("total")),
		"payment": map[string]any{
			"method":        "stripe",
			"transactionId": jv(req.Get("data.object.payment_intent")),
			"paidAt":        jv(req.Get("created")),
		},
		"siteId": jv(o.doc.Get("site")),
	}, what)
	o.status, o.payment = "paid", "paid"
}

// otherStripe sends event types the shop acknowledges and ignores.
func (w *shopWorker) otherStripe() {
	o := pick(w.r, w.orders...)
	n := w.next()
	typ := pick(w.r, "checkout.session.expired", "charge.refunded", "payment_intent.succeeded", "payment_intent.payment_failed", "checkout.session.async_payment_failed")
	body := stripeEvent(fmt.Sprintf("evt_%d_%d", w.g, n), typ, 1795420800, o.id, fmt.Sprintf("pi_%d_%d", w.g, n))
	a := w.c.do(true, w.proxy, "POST", "/api/webhooks/stripe", body)
	w.c.want(a, "POST /api/webhooks/stripe "+body, 200)
}

func (w *shopWorker) invalidStripe() {
	n := w.next()
	evt := fmt.Sprintf("evt_%d_%d", w.g, n)
	var body string
	var code int
	switch w.r.IntN(5) {
	case 0:
		body, code = stripeEvent(evt, "checkout.session.completed", 1795420800, "000000000000000000000000", "pi_x"), 404
	case 1:
		body, code = stripeEvent(evt, "checkout.session.completed", 1795420800, "", "pi_x"), 400
	case 2:
		body, code = `{"id":"`+evt+`","data":{"object":{"metadata":{"orderId":"`+pick(w.r, w.orders...).id+`"}}}}`, 400
	case 3:
		body, code = `{"id":"`+evt+`","type":"checkout.session.completed",`, 400
	default:
		body, code = `[]`, 400
	}
	a := w.c.do(true, w.proxy, "POST", "/api/webhooks/stripe", body)
	w.c.want(a, "POST /api/webhooks/stripe "+body, code)
}

// readOrder reads an order through Caddy (the rules remember it) and
// checks the client's model against it; or reads an unknown one, or a list.
func (w *shopWorker) readOrder() {
	switch w.r.IntN(5) {
	case 0:
		a := w.c.do(true, w.proxy, "GET", "/api/orders/ffffffffffffffffffffffff", "")
		w.c.want(a, "GET unknown order", 404)
		return
	case 1:
		a := w.c.do(true, w.proxy, "GET", "/api/orders?status="+pick(w.r, orderStatuses...), "")
		w.c.want(a, "GET /api/orders", 200)
		return
	}
	o := pick(w.r, w.orders...)
	a := w.c.do(true, w.proxy, "GET", "/api/orders/"+o.id, "")
	w.c.want(a, "GET /api/orders/"+o.id, 200)
	if a.status != 200 {
		return
	}
	if s, p := a.body.Get("status").String(), a.body.Get("paymentStatus").String(); s != o.status || p != o.payment {
		w.c.t.Errorf("model of order %s: status %s/%s, the shop says %s/%s", o.id, o.status, o.payment, s, p)
	}
	o.doc = a.body
}

func (w *shopWorker) createCustomer() {
	n := w.next()
	email := fmt.Sprintf("client-%d-%d@example.ch", w.g, n)
	sent := email
	if chance(w.r, 0.3) {
		sent = strings.ToUpper(email[:1]) + email[1:]
	}
	kv := []any{"email", sent, "password", "s3cret-" + fmt.Sprint(n)}
	if chance(w.r, 0.8) {
		kv = append(kv, "firstName", pick(w.r, "Jean", "Anne", "Luca"))
	}
	if chance(w.r, 0.8) {
		kv = append(kv, "lastName", pick(w.r, "Muller", "Rossi", "Favre"))
	}
	if chance(w.r, 0.5) {
		kv = append(kv, "phone", "+41 79 000 00 "+fmt.Sprintf("%02d", n%100))
	}
	if chance(w.r, 0.7) {
		kv = append(kv, "site", pick(w.r, "site-1", "site-2"))
	}
	body := obj(kv...)
	direct := chance(w.r, 0.2)
	base := w.proxy
	if direct {
		base = w.app
	}
	a := w.c.do(!direct, base, "POST", "/api/customers", body)
	w.c.want(a, "POST /api/customers "+body, 201)
	if a.status != 201 {
		return
	}
	cu := &customer{id: a.body.Get("_id").String(), email: a.body.Get("email").String(), doc: a.body}
	w.customers = append(w.customers, cu)
	if direct {
		return
	}
	w.c.tally.expect("customer.created", "", map[string]any{
		"customerId": cu.id,
		"email":      jv(a.body.Get("email")),
		"firstName":  jv(a.body.Get("firstName")),
		"lastName":   jv(a.body.Get("lastName")),
		"siteId":     jv(a.body.Get("site")),
	}, "POST /api/customers "+body)
}

// updateCustomer sends some profile fields, in a random order, often with
// the values they already have (customer.updated fires all the same).
func (w *shopWorker) updateCustomer() {
	if len(w.customers) == 0 {
		w.createCustomer()
		return
	}
	cu := pick(w.r, w.customers...)
	fields := []string{"email", "firstName", "lastName", "phone"}
	w.r.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	fields = fields[:1+w.r.IntN(len(fields))]
	n := w.next()
	var kv []any
	for _, f := range fields {
		v := cu.doc.Get(f).String()
		if chance(w.r, 0.5) {
			switch f {
			case "email":
				v = fmt.Sprintf("renamed-%d-%d@example.ch", w.g, n)
			case "phone":
				v = fmt.Sprintf("+41 78 %03d 00 00", n%1000)
			default:
				v = pick(w.r, "Claire", "Marc", "Dubois", "Keller", "Müller")
			}
		}
		kv = append(kv, f, v)
	}
	body := obj(kv...)
	what := "PUT /api/customers/" + cu.id + " " + body
	a := w.c.do(true, w.proxy, "PUT", "/api/customers/"+cu.id, body)
	w.c.want(a, what, 200)
	if a.status != 200 {
		return
	}
	cu.doc, cu.email = a.body, a.body.Get("email").String()
	w.c.tally.expect("customer.updated", "", map[string]any{
		"customerId":    cu.id,
		"email":         jv(a.body.Get("email")),
		"changedFields": kvs(kv),
		"siteId":        jv(a.body.Get("site")),
	}, what)
}

func (w *shopWorker) invalidCustomer() {
	if len(w.customers) < 2 {
		w.createCustomer()
		return
	}
	cu := pick(w.r, w.customers...)
	other := pick(w.r, w.customers...)
	var body string
	method, path, code := "PUT", "/api/customers/"+cu.id, 400
	switch w.r.IntN(9) {
	case 0:
		body = `{"password":"x"}`
	case 1:
		body = `{}`
	case 2:
		body = `null`
	case 3:
		body = `{"firstName":3}`
	case 4:
		body = `{"email":"nope"}`
	case 5:
		path, body, code = "/api/customers/ffffffffffffffffffffffff", `{"firstName":"X"}`, 404
	case 6:
		if other == cu {
			body = `{"lastName":null}`
			break
		}
		body, code = obj("email", strings.ToUpper(other.email)), 409
	case 7:
		method, path, body, code = "POST", "/api/customers", obj("email", strings.ToUpper(other.email), "password", "x"), 409
	default:
		method, path, body = "POST", "/api/customers", pick(w.r, `{"email":"a@b.ch"}`, `{"password":"x"}`, `{"email":"bad","password":"x"}`)
	}
	a := w.c.do(true, w.proxy, method, path, body)
	w.c.want(a, method+" "+path+" "+body, code)
}

// ---------------------------------------------------------------- shop bursts

// shopBurstChain sends n concurrent status changes to one order, each with
// its own tracking number (which names the request in the events). Which
// order the shop applies them in is the module's to serialise: the events
// must form a chain that some order of the requests explains (chain.check).
func shopBurstChain(c *caller, r *rand.Rand, proxy string, n int) {
	w := &shopWorker{g: 90, r: r, c: c, proxy: proxy, lastStripe: map[string]string{}}
	w.createOrder(false)
	if len(w.orders) == 0 {
		return
	}
	o := w.orders[0]
	if chance(r, 0.5) {
		w.pay(o)
	}
	ch := &chain{orderID: o.id, start: o.status, doc: o.doc}
	for i := range n {
		s := pick(r, "pending", "paid", "processing", "shipped", "delivered")
		if i == n-1 && chance(r, 0.25) {
			s = "cancelled"
		}
		ch.reqs = append(ch.reqs, chainReq{status: s, tracking: fmt.Sprintf("B-%d", i)})
	}
	var wg sync.WaitGroup
	for i := range ch.reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := &ch.reqs[i]
			q.answer = c.do(true, proxy, "PUT", "/api/orders/"+o.id+"/status", obj("status", q.status, "trackingNumber", q.tracking))
		}()
	}
	wg.Wait()
	a := c.do(true, proxy, "GET", "/api/orders/"+o.id, "")
	c.want(a, "GET the burst's order", 200)
	ch.final = a.body.Get("status").String()
	c.tally.addChain(ch)
}

// shopBurstPay pays an order the proxy never saw with n concurrent
// deliveries of one Stripe event: exactly one order.paid, with the order's
// fields (prefetched once, the others wait for the key and find it paid).
func shopBurstPay(c *caller, r *rand.Rand, proxy, app string, n int) {
	w := &shopWorker{g: 91, r: r, c: c, proxy: proxy, app: app, lastStripe: map[string]string{}}
	w.createOrder(true)
	if len(w.orders) == 0 {
		return
	}
	o := w.orders[0]
	body := stripeEvent("evt_burst", "checkout.session.completed", 1795429999, o.id, "pi_burst")
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = c.do(true, proxy, "POST", "/api/webhooks/stripe", body).status
		}()
	}
	wg.Wait()
	for _, code := range codes {
		if code != 200 {
			c.t.Errorf("burst of Stripe deliveries: answered %v, want 200s", codes)
			return
		}
	}
	expectPaid(c.tally, o, body, fmt.Sprintf("%d concurrent POST /api/webhooks/stripe %s", n, body))
}

// shopBurstSame ships one order with n concurrent identical requests:
// exactly one order.status_changed and one order.shipped.
func shopBurstSame(c *caller, r *rand.Rand, proxy string, n int) {
	w := &shopWorker{g: 92, r: r, c: c, proxy: proxy, lastStripe: map[string]string{}}
	w.createOrder(false)
	if len(w.orders) == 0 {
		return
	}
	o := w.orders[0]
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = c.do(true, proxy, "PATCH", "/api/orders/"+o.id+"/status", `{"status":"shipped"}`)
		}()
	}
	wg.Wait()
	for _, a := range answers {
		if a.status != 200 || a.body.Get("shipping").Raw != answers[0].body.Get("shipping").Raw {
			c.t.Errorf("burst of identical status changes: answer %d %s", a.status, a.body.Raw)
			return
		}
	}
	expectStatusEvents(c.tally, o.status, answers[0].body, fmt.Sprintf(`%d concurrent PATCH /api/orders/%s/status {"status":"shipped"}`, n, o.id))
}

// chain is a burst of concurrent status changes on one order.
type chain struct {
	orderID string
	start   string       // the status before the burst
	doc     gjson.Result // the order before the burst
	reqs    []chainReq
	final   string // the status after the burst (a GET)
	path    string // the chain found, for the log
}

type chainReq struct {
	status   string
	tracking string
	answer   answer
}

func (ch *chain) codes() string {
	counts := map[int]int{}
	for _, q := range ch.reqs {
		counts[q.answer.status]++
	}
	var parts []string
	for _, code := range []int{200, 409} {
		if counts[code] > 0 {
			parts = append(parts, fmt.Sprintf("%d×%d", counts[code], code))
		}
	}
	return strings.Join(parts, " ")
}

// check verifies that the burst's events are those of some order of its
// requests: each order.status_changed names (by tracking number) a request
// answered 200 with its newStatus, their old and new statuses chain from
// the status before the burst to the one after it, each request that
// emitted nothing set a status the order had at some point of the chain,
// a 409 only follows "cancelled", and order.shipped comes with exactly the
// changes to "shipped". Every payload field is checked against the answer
// of its request.
func (ch *chain) check(events []received) error {
	byTracking := map[string]int{}
	for i, q := range ch.reqs {
		byTracking[q.tracking] = i
		if q.answer.status != 200 && q.answer.status != 409 {
			return fmt.Errorf("request %d answered %d %s", i, q.answer.status, q.answer.body.Raw)
		}
	}
	type edge struct{ old, new string }
	var edges []edge
	changed := map[int]bool{}
	shipped := map[int]int{}
	for _, e := range events {
		d := asMap(e.data)
		tn, _ := d["trackingNumber"].(string)
		if e.name == "order.shipped" {
			sh := asMap(d["shipping"])
			tn, _ = sh["trackingNumber"].(string)
		}
		i, ok := byTracking[tn]
		if !ok {
			return fmt.Errorf("%s names no request of the burst: %s", e.name, e.raw)
		}
		q := ch.reqs[i]
		if q.answer.status != 200 {
			return fmt.Errorf("%s for request %d, answered %d: %s", e.name, i, q.answer.status, e.raw)
		}
		body := q.answer.body
		tl := &tally{}
		if e.name == "order.shipped" {
			shipped[i]++
			expectStatusEvents(tl, "", body, "")
			if len(tl.exp) < 2 || !equalJSON(tl.exp[1].data, e.data) {
				return fmt.Errorf("order.shipped for request %d (answer %s): %s", i, body.Raw, e.raw)
			}
			continue
		}
		if changed[i] {
			return fmt.Errorf("two order.status_changed for request %d", i)
		}
		changed[i] = true
		old, _ := d["oldStatus"].(string)
		expectStatusEvents(tl, old, body, "")
		if len(tl.exp) == 0 || !equalJSON(tl.exp[0].data, e.data) {
			return fmt.Errorf("order.status_changed for request %d (answer %s): %s", i, body.Raw, e.raw)
		}
		edges = append(edges, edge{old, body.Get("status").String()})
	}
	for i, q := range ch.reqs {
		wantShipped := 0
		if changed[i] && q.answer.body.Get("status").String() == "shipped" {
			wantShipped = 1
		}
		if shipped[i] != wantShipped {
			return fmt.Errorf("request %d (%s → %s): %d order.shipped, want %d", i, q.status, q.answer.body.Get("status").String(), shipped[i], wantShipped)
		}
	}
	// Find an order of the changes that chains from start to final.
	used := make([]bool, len(edges))
	var order []edge
	var dfs func(cur string) bool
	dfs = func(cur string) bool {
		if len(order) == len(edges) {
			return cur == ch.final
		}
		for i, e := range edges {
			if used[i] || e.old != cur || cur == "cancelled" {
				continue
			}
			used[i] = true
			order = append(order, e)
			if dfs(e.new) {
				return true
			}
			used[i] = false
			order = order[:len(order)-1]
		}
		return false
	}
	if !dfs(ch.start) {
		return fmt.Errorf("the changes %v do not chain from %q to %q", edges, ch.start, ch.final)
	}
	visited := map[string]bool{ch.start: true}
	path := []string{ch.start}
	for _, e := range order {
		visited[e.new] = true
		path = append(path, e.new)
	}
	ch.path = strings.Join(path, ">")
	for i, q := range ch.reqs {
		switch {
		case q.answer.status == 409 && !visited["cancelled"]:
			return fmt.Errorf("request %d answered 409 but the order was never cancelled (chain %s)", i, ch.path)
		case q.answer.status == 200 && !changed[i] && !visited[q.answer.body.Get("status").String()]:
			return fmt.Errorf("request %d set %q and emitted nothing, but the order was never %q (chain %s)", i, q.status, q.status, ch.path)
		}
	}
	return nil
}

func equalJSON(a, b any) bool { return jsonText(normalize(a)) == jsonText(normalize(b)) }
