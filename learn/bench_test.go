package learn

import (
	"fmt"
	"testing"
)

// BenchmarkObserve is the cost of one exchange: a create answered with a
// document of some 600 bytes, and a read of one.
func BenchmarkObserve(b *testing.B) {
	m := New(Options{})
	req := `{"customer":{"email":"marie@example.ch","name":"Marie"},"items":[{"sku":"TSHIRT-M","name":"T-shirt M","quantity":2,"price":29.9}],"site":"site-1"}`
	doc := func(i int) string {
		return fmt.Sprintf(`{"_id":"6b0403f897c5daf2954a%04x","orderNumber":"CMD-2026-%05d","customer":{"email":"marie@example.ch","name":"Marie"},`+
			`"items":[{"sku":"TSHIRT-M","name":"T-shirt M","quantity":2,"price":29.9},{"sku":"MUG","name":"Mug","quantity":1,"price":12}],`+
			`"total":71.8,"currency":"CHF","status":"pending","site":"site-1","paymentStatus":"unpaid",`+
			`"createdAt":"2026-11-23T09:14:32.562Z","updatedAt":"2026-11-23T09:14:32.562Z"}`, i%4096, i)
	}
	xs := make([]*Exchange, 0, 2048)
	for i := range 1024 {
		d := doc(i)
		xs = append(xs, ex("POST", "/api/orders", 201, req, d), ex("GET", fmt.Sprintf("/api/orders/6b0403f897c5daf2954a%04x", i%4096), 200, "", d))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		m.Observe(xs[i%len(xs)])
	}
}
