package testbed

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// OrderRules is the rule file of the admin routes' and the management
// page's tests: three named events, each with a description, which make
// their event catalogue.
const OrderRules = `events:
  - name: order.created
    description: A new order was placed
    match: { method: POST, path: /api/orders, status: 201 }
    data:
      orderId: response.body._id
  - name: order.paid
    description: An order was paid
    match: { method: POST, path: "/api/orders/{id}/pay", status: 2xx }
    data:
      orderId: path.id
  - name: customer.created
    description: A customer signed up
    match: { method: POST, path: /api/customers, status: 201 }
    data: response.body
    redact: [password]
`

// WriteOrderRules writes OrderRules to a file in a temporary directory and
// returns its path.
func WriteOrderRules(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(OrderRules), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// OrdersApp starts the legacy app of OrderRules, stopped when the test
// ends: POST /api/orders answers 201 with an order.
func OrdersApp(t testing.TB) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/orders", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"_id":"ord1","total":10}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}
