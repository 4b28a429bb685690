package shop

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var fixedNow = time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC)

const siteID = "65f1a2b3c4d5e6f708192a3b"

// newTestServer returns a shop whose clock is stopped at fixedNow.
func newTestServer() *Server {
	s := New()
	s.now = func() time.Time { return fixedNow }
	return s
}

// do sends one request to h and returns the recorded response.
func do(t *testing.T, h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// decode unmarshals a response body into v.
func decode(t *testing.T, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %q: %v", rec.Body.String(), err)
	}
}

// keys returns the sorted keys of a JSON object.
func keys(t *testing.T, body []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// checkError asserts a JSON error answer with the given status and a
// message containing want.
func checkError(t *testing.T, rec *httptest.ResponseRecorder, status int, want string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	var e ErrorResponse
	decode(t, rec, &e)
	if e.Error == "" || !strings.Contains(e.Error, want) {
		t.Fatalf("error = %q, want it to contain %q", e.Error, want)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q", ct)
	}
}

const validOrder = `{"customer":{"email":"Marie.Dupont@Example.ch","name":"Marie Dupont"},
	"items":[{"sku":"TSHIRT-M","name":"T-shirt M","quantity":2,"price":29.9},{"sku":"MUG","name":"Mug","quantity":1,"price":15.5}],
	"site":"` + siteID + `"}`

const validCustomer = `{"email":"jean@example.ch","password":"s3cret!","firstName":"Jean","lastName":"Muller","site":"` + siteID + `"}`

// createOrder places validOrder and returns the answer.
func createOrder(t *testing.T, h http.Handler) Order {
	t.Helper()
	rec := do(t, h, "POST", "/api/orders", validOrder)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create order: %d %s", rec.Code, rec.Body)
	}
	var o Order
	decode(t, rec, &o)
	return o
}

// createCustomer registers a customer from body and returns the answer.
func createCustomer(t *testing.T, h http.Handler, body string) Customer {
	t.Helper()
	rec := do(t, h, "POST", "/api/customers", body)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create customer: %d %s", rec.Code, rec.Body)
	}
	var c Customer
	decode(t, rec, &c)
	return c
}

var objectIDRe = regexp.MustCompile(`^[0-9a-f]{24}$`)

func TestHealth(t *testing.T) {
	rec := do(t, newTestServer(), "GET", "/api/health", "")
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"ok":true}` {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
}

func TestRouting(t *testing.T) {
	s := newTestServer()
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/api/nope", 404},
		{"DELETE", "/api/orders", 405},
		{"POST", "/api/orders/abc", 405},
		{"GET", "/api/webhooks/stripe", 405},
		{"DELETE", "/api/customers/abc", 405},
		{"POST", "/api/health", 405},
	}
	for _, tt := range tests {
		if rec := do(t, s, tt.method, tt.path, ""); rec.Code != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, rec.Code, tt.want)
		}
	}
}

func TestCreateOrder(t *testing.T) {
	s := newTestServer()
	rec := do(t, s, "POST", "/api/orders", validOrder)
	if rec.Code != http.StatusCreated {
		t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
	}
	wantKeys := []string{"_id", "createdAt", "currency", "customer", "items", "orderNumber", "paymentStatus", "site", "status", "total", "updatedAt"}
	if got := keys(t, rec.Body.Bytes()); !slices.Equal(got, wantKeys) {
		t.Errorf("keys = %v, want %v", got, wantKeys)
	}
	var o Order
	decode(t, rec, &o)
	if !objectIDRe.MatchString(o.ID) {
		t.Errorf("_id = %q, want 24 hex chars", o.ID)
	}
	checks := []struct{ name, got, want string }{
		{"orderNumber", o.OrderNumber, "CMD-2026-00001"},
		{"customer.email", o.Customer.Email, "marie.dupont@example.ch"},
		{"customer.name", o.Customer.Name, "Marie Dupont"},
		{"currency", o.Currency, "CHF"},
		{"status", o.Status, "pending"},
		{"paymentStatus", o.PaymentStatus, "unpaid"},
		{"site", o.Site, siteID},
		{"total", fmt.Sprint(o.Total), "75.3"},
		{"items", fmt.Sprint(o.Items), "[{TSHIRT-M T-shirt M 2 29.9} {MUG Mug 1 15.5}]"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !strings.Contains(rec.Body.String(), `"createdAt":"2026-11-23T10:00:00.123Z","updatedAt":"2026-11-23T10:00:00.123Z"`) {
		t.Errorf("timestamps not in ISO millisecond form: %s", rec.Body)
	}

	// Numbers follow each other; currency is upper-cased; site is optional.
	rec = do(t, s, "POST", "/api/orders", `{"customer":{"email":"a@b.ch"},"items":[{"sku":"X","quantity":3,"price":0.1}],"currency":"eur"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("second order: %d %s", rec.Code, rec.Body)
	}
	o = Order{}
	decode(t, rec, &o)
	if o.OrderNumber != "CMD-2026-00002" || o.Currency != "EUR" || o.Total != 0.3 || o.Site != "" {
		t.Errorf("second order = %+v", o)
	}
	if strings.Contains(rec.Body.String(), `"site"`) {
		t.Errorf("order without site has a site key: %s", rec.Body)
	}
}

func TestCreateOrderErrors(t *testing.T) {
	item := `[{"sku":"A","name":"A","quantity":1,"price":10}]`
	tests := []struct {
		name, body, want string
	}{
		{"bad JSON", `{"customer":`, "invalid JSON"},
		{"empty body", ``, "invalid JSON"},
		{"not an object", `[1,2]`, "invalid JSON"},
		{"trailing data", `{"customer":{"email":"a@b.ch"},"items":` + item + `} {}`, "invalid JSON"},
		{"no customer", `{"items":` + item + `}`, "customer.email is required"},
		{"no customer email", `{"customer":{"name":"X"},"items":` + item + `}`, "customer.email is required"},
		{"bad customer email", `{"customer":{"email":"nobody"},"items":` + item + `}`, "customer.email is invalid"},
		{"no items", `{"customer":{"email":"a@b.ch"}}`, "items must not be empty"},
		{"empty items", `{"customer":{"email":"a@b.ch"},"items":[]}`, "items must not be empty"},
		{"zero quantity", `{"customer":{"email":"a@b.ch"},"items":[{"sku":"A","quantity":0,"price":1}]}`, "items[0].quantity"},
		{"negative quantity", `{"customer":{"email":"a@b.ch"},"items":[{"sku":"A","quantity":1,"price":1},{"sku":"B","quantity":-2,"price":1}]}`, "items[1].quantity"},
		{"missing quantity", `{"customer":{"email":"a@b.ch"},"items":[{"sku":"A","price":1}]}`, "items[0].quantity"},
		{"fractional quantity", `{"customer":{"email":"a@b.ch"},"items":[{"sku":"A","quantity":1.5,"price":1}]}`, "invalid JSON"},
		{"negative price", `{"customer":{"email":"a@b.ch"},"items":[{"sku":"A","quantity":1,"price":-1}]}`, "items[0].price"},
		{"no sku nor name", `{"customer":{"email":"a@b.ch"},"items":[{"quantity":1,"price":1}]}`, "sku or name"},
		{"bad currency", `{"customer":{"email":"a@b.ch"},"items":` + item + `,"currency":"euro"}`, "currency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer()
			checkError(t, do(t, s, "POST", "/api/orders", tt.body), http.StatusBadRequest, tt.want)
			if n := len(s.store.listOrders(func(*Order) bool { return true })); n != 0 {
				t.Errorf("%d orders stored after a 400", n)
			}
		})
	}
}

func TestListAndGetOrders(t *testing.T) {
	s := newTestServer()
	rec := do(t, s, "GET", "/api/orders", "")
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Fatalf("empty list = %d %s", rec.Code, rec.Body)
	}
	first, second := createOrder(t, s), createOrder(t, s)
	if rec := do(t, s, "PUT", "/api/orders/"+second.ID+"/status", `{"status":"processing"}`); rec.Code != 200 {
		t.Fatalf("update: %d %s", rec.Code, rec.Body)
	}

	tests := []struct {
		name, path string
		status     int
		wantIDs    []string
		wantErr    string
	}{
		{"all", "/api/orders", 200, []string{first.ID, second.ID}, ""},
		{"pending", "/api/orders?status=pending", 200, []string{first.ID}, ""},
		{"processing", "/api/orders?status=processing", 200, []string{second.ID}, ""},
		{"none shipped", "/api/orders?status=shipped", 200, []string{}, ""},
		{"bad status", "/api/orders?status=lost", 400, nil, "invalid status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, s, "GET", tt.path, "")
			if tt.wantErr != "" {
				checkError(t, rec, tt.status, tt.wantErr)
				return
			}
			if rec.Code != tt.status {
				t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
			}
			var list []Order
			decode(t, rec, &list)
			ids := []string{}
			for _, o := range list {
				ids = append(ids, o.ID)
			}
			if !slices.Equal(ids, tt.wantIDs) {
				t.Errorf("ids = %v, want %v", ids, tt.wantIDs)
			}
		})
	}

	get := []struct {
		name, id string
		status   int
	}{
		{"found", first.ID, 200},
		{"unknown", "000000000000000000000000", 404},
		{"not an ObjectId", "nope", 404},
	}
	for _, tt := range get {
		t.Run("get "+tt.name, func(t *testing.T) {
			rec := do(t, s, "GET", "/api/orders/"+tt.id, "")
			if tt.status != 200 {
				checkError(t, rec, tt.status, "order not found")
				return
			}
			var o Order
			decode(t, rec, &o)
			if rec.Code != 200 || o.ID != first.ID || o.OrderNumber != first.OrderNumber {
				t.Errorf("got %d %+v", rec.Code, o)
			}
		})
	}
}

func TestUpdateOrderStatus(t *testing.T) {
	tests := []struct {
		name, method, body string
		unknownID          bool
		status             int
		wantErr            string
		check              func(t *testing.T, o Order, raw string)
	}{
		{name: "PUT processing", method: "PUT", body: `{"status":"processing"}`, status: 200,
			check: func(t *testing.T, o Order, raw string) {
				if o.Status != "processing" || o.Shipping != nil {
					t.Errorf("order = %+v", o)
				}
				if strings.Contains(raw, "pending") {
					t.Errorf("old status leaks into the answer: %s", raw)
				}
			}},
		{name: "PATCH cancelled", method: "PATCH", body: `{"status":"cancelled"}`, status: 200,
			check: func(t *testing.T, o Order, _ string) {
				if o.Status != "cancelled" {
					t.Errorf("status = %q", o.Status)
				}
			}},
		{name: "upper case status", method: "PUT", body: `{"status":"Delivered"}`, status: 200,
			check: func(t *testing.T, o Order, _ string) {
				if o.Status != "delivered" {
					t.Errorf("status = %q", o.Status)
				}
			}},
		{name: "same status", method: "PUT", body: `{"status":"pending"}`, status: 200,
			check: func(t *testing.T, o Order, _ string) {
				if o.Status != "pending" {
					t.Errorf("status = %q", o.Status)
				}
			}},
		{name: "shipped with tracking", method: "PUT", status: 200,
			body: `{"status":"shipped","trackingNumber":"99.00.1234","trackingUrl":"https://post.ch/t/99.00.1234"}`,
			check: func(t *testing.T, o Order, raw string) {
				sh := o.Shipping
				if o.Status != "shipped" || sh == nil || sh.TrackingNumber != "99.00.1234" ||
					sh.TrackingURL != "https://post.ch/t/99.00.1234" || sh.ShippedAt == nil {
					t.Fatalf("order = %+v shipping = %+v", o, sh)
				}
				if !strings.Contains(raw, `"shipping":{"trackingNumber":"99.00.1234","trackingUrl":"https://post.ch/t/99.00.1234","shippedAt":"2026-11-23T11:00:00.123Z"}`) {
					t.Errorf("shipping JSON: %s", raw)
				}
			}},
		{name: "tracking without shipping", method: "PATCH", body: `{"status":"processing","trackingNumber":"T1"}`, status: 200,
			check: func(t *testing.T, o Order, _ string) {
				if o.Shipping == nil || o.Shipping.TrackingNumber != "T1" || o.Shipping.ShippedAt != nil {
					t.Errorf("shipping = %+v", o.Shipping)
				}
			}},
		{name: "invalid status", method: "PUT", body: `{"status":"lost"}`, status: 400, wantErr: "invalid status"},
		{name: "missing status", method: "PUT", body: `{"trackingNumber":"T1"}`, status: 400, wantErr: "status is required"},
		{name: "bad JSON", method: "PATCH", body: `{"status":`, status: 400, wantErr: "invalid JSON"},
		{name: "status not a string", method: "PUT", body: `{"status":3}`, status: 400, wantErr: "invalid JSON"},
		{name: "unknown id", method: "PUT", body: `{"status":"paid"}`, unknownID: true, status: 404, wantErr: "order not found"},
		{name: "unknown id PATCH", method: "PATCH", body: `{"status":"paid"}`, unknownID: true, status: 404, wantErr: "order not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer()
			created := createOrder(t, s)
			id := created.ID
			if tt.unknownID {
				id = "ffffffffffffffffffffffff"
			}
			later := fixedNow.Add(time.Hour)
			s.now = func() time.Time { return later }
			rec := do(t, s, tt.method, "/api/orders/"+id+"/status", tt.body)
			if tt.wantErr != "" {
				checkError(t, rec, tt.status, tt.wantErr)
				if o, _ := s.store.order(created.ID); o.Status != "pending" || o.UpdatedAt != created.UpdatedAt {
					t.Errorf("order changed after an error: %+v", o)
				}
				return
			}
			if rec.Code != tt.status {
				t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
			}
			var o Order
			decode(t, rec, &o)
			if o.ID != created.ID || o.OrderNumber != created.OrderNumber || o.Total != created.Total {
				t.Errorf("identity changed: %+v", o)
			}
			if !o.UpdatedAt.Equal(later.Truncate(time.Millisecond)) || !o.CreatedAt.Equal(created.CreatedAt.Time) {
				t.Errorf("createdAt %v updatedAt %v", o.CreatedAt, o.UpdatedAt)
			}
			tt.check(t, o, rec.Body.String())
			if stored, _ := s.store.order(created.ID); stored.Status != o.Status {
				t.Errorf("stored status %q, answered %q", stored.Status, o.Status)
			}
		})
	}
}

// stripeBody builds the body of a Stripe event about orderID.
func stripeBody(eventType, orderID string) string {
	return fmt.Sprintf(`{"id":"evt_1QxYz","object":"event","type":%q,"livemode":false,
		"data":{"object":{"id":"cs_test_a1B2","object":"checkout.session","amount_total":7530,"currency":"chf",
		"payment_intent":"pi_3QxYz","payment_status":"paid","metadata":{"orderId":%q}}}}`, eventType, orderID)
}

func TestStripeWebhook(t *testing.T) {
	tests := []struct {
		name    string
		body    func(orderID string) string
		status  int
		wantErr string
		paid    bool
	}{
		{name: "checkout completed", status: 200, paid: true,
			body: func(id string) string { return stripeBody("checkout.session.completed", id) }},
		{name: "other event type", status: 200,
			body: func(id string) string { return stripeBody("payment_intent.created", id) }},
		{name: "checkout expired", status: 200,
			body: func(id string) string { return stripeBody("checkout.session.expired", id) }},
		{name: "other type without data", status: 200,
			body: func(string) string { return `{"id":"evt_2","type":"customer.created"}` }},
		{name: "unknown order", status: 404, wantErr: "order not found",
			body: func(string) string { return stripeBody("checkout.session.completed", "aaaaaaaaaaaaaaaaaaaaaaaa") }},
		{name: "missing orderId", status: 400, wantErr: "metadata.orderId",
			body: func(string) string {
				return `{"id":"evt_3","type":"checkout.session.completed","data":{"object":{"id":"cs_1","metadata":{}}}}`
			}},
		{name: "missing type", status: 400, wantErr: "type is required",
			body: func(string) string { return `{"id":"evt_4"}` }},
		{name: "bad JSON", status: 400, wantErr: "invalid JSON",
			body: func(string) string { return `{"type":"checkout.session.completed"` }},
		{name: "empty body", status: 400, wantErr: "invalid JSON",
			body: func(string) string { return `` }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer()
			created := createOrder(t, s)
			paidAt := fixedNow.Add(2 * time.Minute)
			s.now = func() time.Time { return paidAt }
			rec := do(t, s, "POST", "/api/webhooks/stripe", tt.body(created.ID))
			if tt.wantErr != "" {
				checkError(t, rec, tt.status, tt.wantErr)
			} else if rec.Code != tt.status || strings.TrimSpace(rec.Body.String()) != `{"received":true}` {
				t.Fatalf("got %d %s", rec.Code, rec.Body)
			}
			o, _ := s.store.order(created.ID)
			if !tt.paid {
				if o.Status != "pending" || o.PaymentStatus != "unpaid" || o.Payment != nil {
					t.Errorf("order changed: %+v", o)
				}
				return
			}
			want := Payment{Method: "stripe", TransactionID: "pi_3QxYz", SessionID: "cs_test_a1B2", EventID: "evt_1QxYz",
				Amount: 75.3, Currency: "CHF", PaidAt: newTime(paidAt)}
			if o.Status != "paid" || o.PaymentStatus != "paid" || o.Payment == nil || *o.Payment != want {
				t.Fatalf("order = %+v payment = %+v", o, o.Payment)
			}
			// Stripe delivers at least once: a second delivery changes nothing.
			s.now = func() time.Time { return paidAt.Add(time.Hour) }
			if rec := do(t, s, "POST", "/api/webhooks/stripe", tt.body(created.ID)); rec.Code != 200 {
				t.Fatalf("redelivery: %d %s", rec.Code, rec.Body)
			}
			if again, _ := s.store.order(created.ID); *again.Payment != want || again.UpdatedAt != o.UpdatedAt {
				t.Errorf("redelivery changed the order: %+v", again.Payment)
			}
			// The paid order shows its payment.
			rec = do(t, s, "GET", "/api/orders/"+created.ID, "")
			if !strings.Contains(rec.Body.String(), `"status":"paid","site":"`+siteID+`","paymentStatus":"paid","payment":{"method":"stripe","transactionId":"pi_3QxYz","sessionId":"cs_test_a1B2","eventId":"evt_1QxYz","amount":75.3,"currency":"CHF","paidAt":"2026-11-23T10:02:00.123Z"}`) {
				t.Errorf("paid order JSON: %s", rec.Body)
			}
		})
	}
}

func TestCreateCustomer(t *testing.T) {
	s := newTestServer()
	rec := do(t, s, "POST", "/api/customers", `{"email":" Jean@Example.ch ","password":"s3cret!","firstName":"Jean","lastName":"Muller","phone":"+41 79 000 00 00","site":"`+siteID+`"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
	}
	wantKeys := []string{"_id", "createdAt", "email", "firstName", "lastName", "passwordHash", "phone", "site", "updatedAt"}
	if got := keys(t, rec.Body.Bytes()); !slices.Equal(got, wantKeys) {
		t.Errorf("keys = %v, want %v", got, wantKeys)
	}
	var c Customer
	decode(t, rec, &c)
	sum := "5cb7b35eb7ae9bbd505baa5cde3fb64c1e9a5e8862072013989c0a557ab9eaa2" // sha256("s3cret!")
	if !objectIDRe.MatchString(c.ID) || c.Email != "jean@example.ch" || c.FirstName != "Jean" || c.LastName != "Muller" ||
		c.Phone != "+41 79 000 00 00" || c.Site != siteID || c.PasswordHash != sum {
		t.Errorf("customer = %+v", c)
	}
	if strings.Contains(rec.Body.String(), "s3cret!") {
		t.Errorf("plain password in the answer: %s", rec.Body)
	}

	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"duplicate email", `{"email":"JEAN@example.ch","password":"x"}`, 409, "already exists"},
		{"missing email", `{"password":"x","firstName":"A"}`, 400, "email is required"},
		{"blank email", `{"email":"  ","password":"x"}`, 400, "email is required"},
		{"invalid email", `{"email":"jean","password":"x"}`, 400, "email is invalid"},
		{"missing password", `{"email":"new@example.ch"}`, 400, "password is required"},
		{"empty password", `{"email":"new@example.ch","password":""}`, 400, "password is required"},
		{"bad JSON", `{"email":`, 400, "invalid JSON"},
		{"wrong type", `{"email":"new@example.ch","password":123}`, 400, "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkError(t, do(t, s, "POST", "/api/customers", tt.body), tt.status, tt.want)
		})
	}
	if n := len(s.store.listCustomers()); n != 1 {
		t.Errorf("%d customers stored, want 1", n)
	}

	// Without phone and site: phone is "", site is absent.
	rec = do(t, s, "POST", "/api/customers", `{"email":"solo@example.ch","password":"pw"}`)
	if rec.Code != 201 || !strings.Contains(rec.Body.String(), `"phone":""`) || strings.Contains(rec.Body.String(), `"site"`) {
		t.Errorf("minimal customer: %d %s", rec.Code, rec.Body)
	}
}

func TestGetAndListCustomers(t *testing.T) {
	s := newTestServer()
	rec := do(t, s, "GET", "/api/customers", "")
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Fatalf("empty list = %d %s", rec.Code, rec.Body)
	}
	a := createCustomer(t, s, validCustomer)
	b := createCustomer(t, s, `{"email":"b@example.ch","password":"pw"}`)

	var list []Customer
	decode(t, do(t, s, "GET", "/api/customers", ""), &list)
	if len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID {
		t.Errorf("list = %+v", list)
	}

	tests := []struct {
		name, id string
		status   int
	}{
		{"found", a.ID, 200},
		{"unknown", "000000000000000000000000", 404},
		{"not an ObjectId", "x", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, s, "GET", "/api/customers/"+tt.id, "")
			if tt.status != 200 {
				checkError(t, rec, tt.status, "customer not found")
				return
			}
			var c Customer
			decode(t, rec, &c)
			if rec.Code != 200 || c != a {
				t.Errorf("got %d %+v, want %+v", rec.Code, c, a)
			}
		})
	}
}

func TestUpdateCustomer(t *testing.T) {
	tests := []struct {
		name, body string
		unknownID  bool
		status     int
		wantErr    string
		check      func(t *testing.T, before, after Customer)
	}{
		{name: "subset", body: `{"lastName":"Müller","phone":"+41 79 123 45 67"}`, status: 200,
			check: func(t *testing.T, before, after Customer) {
				want := before
				want.LastName, want.Phone = "Müller", "+41 79 123 45 67"
				want.UpdatedAt = after.UpdatedAt
				if after != want {
					t.Errorf("got %+v, want %+v", after, want)
				}
			}},
		{name: "all fields", body: `{"email":"J.Muller@Example.ch","firstName":"Jeannot","lastName":"M","phone":"1"}`, status: 200,
			check: func(t *testing.T, _, after Customer) {
				if after.Email != "j.muller@example.ch" || after.FirstName != "Jeannot" || after.LastName != "M" || after.Phone != "1" {
					t.Errorf("got %+v", after)
				}
			}},
		{name: "clear phone", body: `{"phone":""}`, status: 200,
			check: func(t *testing.T, _, after Customer) {
				if after.Phone != "" {
					t.Errorf("phone = %q", after.Phone)
				}
			}},
		{name: "own email again", body: `{"email":"jean@example.ch"}`, status: 200,
			check: func(t *testing.T, before, after Customer) {
				if after.Email != before.Email {
					t.Errorf("email = %q", after.Email)
				}
			}},
		{name: "unknown field", body: `{"firstName":"A","password":"new"}`, status: 400, wantErr: `unknown field "password"`},
		{name: "unknown field site", body: `{"site":"x"}`, status: 400, wantErr: `unknown field "site"`},
		{name: "empty object", body: `{}`, status: 400, wantErr: "no fields to update"},
		{name: "null body", body: `null`, status: 400, wantErr: "no fields to update"},
		{name: "not a string", body: `{"phone":41}`, status: 400, wantErr: "phone must be a string"},
		{name: "null value", body: `{"lastName":null}`, status: 400, wantErr: "lastName must be a string"},
		{name: "invalid email", body: `{"email":"nope"}`, status: 400, wantErr: "email is invalid"},
		{name: "taken email", body: `{"email":"Other@example.ch"}`, status: 409, wantErr: "already exists"},
		{name: "bad JSON", body: `{"phone":`, status: 400, wantErr: "invalid JSON"},
		{name: "array body", body: `["phone"]`, status: 400, wantErr: "invalid JSON"},
		{name: "unknown id", body: `{"phone":"1"}`, unknownID: true, status: 404, wantErr: "customer not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer()
			before := createCustomer(t, s, validCustomer)
			createCustomer(t, s, `{"email":"other@example.ch","password":"pw"}`)
			later := fixedNow.Add(time.Hour)
			s.now = func() time.Time { return later }
			id := before.ID
			if tt.unknownID {
				id = "bbbbbbbbbbbbbbbbbbbbbbbb"
			}
			rec := do(t, s, "PUT", "/api/customers/"+id, tt.body)
			stored, _ := s.store.customer(before.ID)
			if tt.wantErr != "" {
				checkError(t, rec, tt.status, tt.wantErr)
				if stored != before {
					t.Errorf("customer changed after an error: %+v", stored)
				}
				return
			}
			if rec.Code != tt.status {
				t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), `"passwordHash":"`+before.PasswordHash+`"`) {
				t.Errorf("answer lacks passwordHash: %s", rec.Body)
			}
			var after Customer
			decode(t, rec, &after)
			if after.ID != before.ID || after.PasswordHash != before.PasswordHash || after.Site != before.Site ||
				after.CreatedAt != before.CreatedAt || !after.UpdatedAt.Equal(later.Truncate(time.Millisecond)) {
				t.Errorf("fixed fields changed: %+v", after)
			}
			if stored != after {
				t.Errorf("stored %+v, answered %+v", stored, after)
			}
			tt.check(t, before, after)
		})
	}
}

func TestEmailIndexFollowsUpdates(t *testing.T) {
	s := newTestServer()
	c := createCustomer(t, s, validCustomer)
	if rec := do(t, s, "PUT", "/api/customers/"+c.ID, `{"email":"new@example.ch"}`); rec.Code != 200 {
		t.Fatalf("update: %d %s", rec.Code, rec.Body)
	}
	// The old address is free again, the new one is taken.
	if rec := do(t, s, "POST", "/api/customers", `{"email":"jean@example.ch","password":"pw"}`); rec.Code != 201 {
		t.Errorf("old email: %d %s", rec.Code, rec.Body)
	}
	checkError(t, do(t, s, "POST", "/api/customers", `{"email":"NEW@example.ch","password":"pw"}`), 409, "already exists")
}

func TestObjectID(t *testing.T) {
	now := time.Unix(0x6b03da42, 0)
	seen := map[string]bool{}
	for range 1000 {
		id := newObjectID(now)
		if !objectIDRe.MatchString(id) {
			t.Fatalf("id %q is not 24 hex chars", id)
		}
		if !strings.HasPrefix(id, "6b03da42") {
			t.Fatalf("id %q does not start with the timestamp", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
	b, _ := hex.DecodeString(newObjectID(now))
	if len(b) != 12 {
		t.Fatalf("%d bytes", len(b))
	}
}

func TestTimeJSON(t *testing.T) {
	for _, tt := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 2, 1, 8, 5, 0, 0, time.UTC), `"2026-02-01T08:05:00.000Z"`},
		{time.Date(2026, 2, 1, 9, 5, 0, 987654321, time.FixedZone("CET", 3600)), `"2026-02-01T08:05:00.987Z"`},
	} {
		b, _ := json.Marshal(newTime(tt.in))
		if string(b) != tt.want {
			t.Errorf("got %s, want %s", b, tt.want)
		}
		var back Time
		if err := json.Unmarshal(b, &back); err != nil || !back.Equal(tt.in.Truncate(time.Millisecond)) {
			t.Errorf("round trip: %v %v", back, err)
		}
	}
}

func TestConcurrentRequests(t *testing.T) {
	s := New()
	const n = 50
	var wg sync.WaitGroup
	orders := make([]Order, n)
	for i := range n {
		wg.Go(func() {
			rec := do(t, s, "POST", "/api/orders", validOrder)
			if rec.Code != 201 {
				t.Errorf("create: %d", rec.Code)
				return
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &orders[i]); err != nil {
				t.Errorf("create: %v", err)
				return
			}
			do(t, s, "PUT", "/api/orders/"+orders[i].ID+"/status", `{"status":"processing"}`)
			do(t, s, "POST", "/api/webhooks/stripe", stripeBody("checkout.session.completed", orders[i].ID))
			do(t, s, "GET", "/api/orders", "")
			c := createCustomer(t, s, fmt.Sprintf(`{"email":"c%d@example.ch","password":"pw"}`, i))
			do(t, s, "PUT", "/api/customers/"+c.ID, fmt.Sprintf(`{"phone":"%d"}`, i))
			do(t, s, "GET", "/api/customers", "")
		})
	}
	wg.Wait()
	ids, numbers := map[string]bool{}, map[string]bool{}
	for _, o := range orders {
		ids[o.ID], numbers[o.OrderNumber] = true, true
	}
	if len(ids) != n || len(numbers) != n {
		t.Errorf("%d distinct ids, %d distinct numbers, want %d", len(ids), len(numbers), n)
	}
	if paid := s.store.listOrders(func(o *Order) bool { return o.PaymentStatus == "paid" }); len(paid) != n {
		t.Errorf("%d paid orders, want %d", len(paid), n)
	}
}

func TestCancelledOrderKeepsItsStatus(t *testing.T) {
	s := newTestServer()
	o := createOrder(t, s)
	if rec := do(t, s, "PUT", "/api/orders/"+o.ID+"/status", `{"status":"cancelled"}`); rec.Code != 200 {
		t.Fatalf("cancel: %d %s", rec.Code, rec.Body)
	}
	cancelled, _ := s.store.order(o.ID)
	for _, status := range []string{"pending", "paid", "shipped"} {
		checkError(t, do(t, s, "PATCH", "/api/orders/"+o.ID+"/status", `{"status":"`+status+`"}`), http.StatusConflict, "order is cancelled")
	}
	if got, _ := s.store.order(o.ID); got.Status != "cancelled" || got.UpdatedAt != cancelled.UpdatedAt {
		t.Errorf("cancelled order changed: %+v", got)
	}
	// Cancelling again is a no-op that succeeds.
	if rec := do(t, s, "PUT", "/api/orders/"+o.ID+"/status", `{"status":"cancelled"}`); rec.Code != 200 {
		t.Errorf("cancel again: %d %s", rec.Code, rec.Body)
	}
}

func TestStripePaidAtIsTheEventTime(t *testing.T) {
	s := newTestServer()
	o := createOrder(t, s)
	body := `{"id":"evt_9","type":"checkout.session.completed","created":1795420800,
		"data":{"object":{"id":"cs_9","amount_total":7530,"currency":"chf","payment_intent":"pi_9","metadata":{"orderId":"` + o.ID + `"}}}}`
	if rec := do(t, s, "POST", "/api/webhooks/stripe", body); rec.Code != 200 {
		t.Fatalf("stripe: %d %s", rec.Code, rec.Body)
	}
	got, _ := s.store.order(o.ID)
	if got.Payment == nil || !got.Payment.PaidAt.Equal(time.Unix(1795420800, 0)) || !got.UpdatedAt.Equal(fixedNow.Truncate(time.Millisecond)) {
		t.Fatalf("payment = %+v, updatedAt %v", got.Payment, got.UpdatedAt)
	}
	rec := do(t, s, "GET", "/api/orders/"+o.ID, "")
	if !strings.Contains(rec.Body.String(), `"paidAt":"2026-11-23T08:00:00.000Z"`) {
		t.Errorf("paidAt JSON: %s", rec.Body)
	}
}
