package shop

import (
	"net/http"
	"strings"
	"time"
)

// stripeCheckoutCompleted is the only Stripe event type the shop acts on.
const stripeCheckoutCompleted = "checkout.session.completed"

// Payment is the payment information stored on a paid order.
type Payment struct {
	Method        string  `json:"method"`        // always "stripe" here
	TransactionID string  `json:"transactionId"` // the Stripe PaymentIntent id (pi_…)
	SessionID     string  `json:"sessionId"`     // the Checkout Session id (cs_…)
	EventID       string  `json:"eventId"`       // the Stripe event id (evt_…)
	Amount        float64 `json:"amount"`        // in currency units (Stripe sends minor units)
	Currency      string  `json:"currency"`
	PaidAt        Time    `json:"paidAt"`
}

// ReceivedResponse is the answer to the payment provider: {"received": true}.
type ReceivedResponse struct {
	Received bool `json:"received"`
}

// stripeEvent is the part of a Stripe event the shop reads. Created is
// when Stripe created the event (Unix seconds): for
// checkout.session.completed, when the customer paid.
type stripeEvent struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Created int64  `json:"created"`
	Data    struct {
		Object stripeCheckoutSession `json:"object"`
	} `json:"data"`
}

// stripeCheckoutSession is the part of a Checkout Session the shop reads.
type stripeCheckoutSession struct {
	ID            string            `json:"id"`
	AmountTotal   int64             `json:"amount_total"`
	Currency      string            `json:"currency"`
	PaymentIntent string            `json:"payment_intent"`
	Metadata      map[string]string `json:"metadata"`
}

// stripeWebhook handles POST /api/webhooks/stripe, the webhook Stripe sends
// to the shop. On checkout.session.completed it marks the order named in
// data.object.metadata.orderId as paid; every other event type is
// acknowledged and ignored. The payment's paidAt is the event's created
// time (the time of the request when the event has none). Answers 200
// {"received":true}, 400 on a bad body, 404 when the order does not exist.
// Like many small shops it does not check the Stripe-Signature header.
func (s *Server) stripeWebhook(w http.ResponseWriter, r *http.Request) {
	var ev stripeEvent
	if err := readJSON(w, r, &ev, false); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if ev.Type == "" {
		writeError(w, http.StatusBadRequest, "type is required")
		return
	}
	if ev.Type != stripeCheckoutCompleted {
		writeJSON(w, http.StatusOK, ReceivedResponse{Received: true})
		return
	}
	sess := ev.Data.Object
	orderID := sess.Metadata["orderId"]
	if orderID == "" {
		writeError(w, http.StatusBadRequest, "data.object.metadata.orderId is required")
		return
	}
	now := newTime(s.now())
	paidAt := now
	if ev.Created > 0 {
		paidAt = newTime(time.Unix(ev.Created, 0))
	}
	_, err := s.store.updateOrder(orderID, func(o *Order) error {
		if o.PaymentStatus == PaymentPaid {
			return nil // Stripe retries deliveries: paying twice changes nothing
		}
		currency := strings.ToUpper(sess.Currency)
		if currency == "" {
			currency = o.Currency
		}
		o.Status = StatusPaid
		o.PaymentStatus = PaymentPaid
		o.Payment = &Payment{
			Method:        "stripe",
			TransactionID: sess.PaymentIntent,
			SessionID:     sess.ID,
			EventID:       ev.ID,
			Amount:        float64(sess.AmountTotal) / 100,
			Currency:      currency,
			PaidAt:        paidAt,
		}
		o.UpdatedAt = now
		return nil
	})
	if err != nil {
		writeError(w, http.StatusNotFound, "order not found")
		return
	}
	writeJSON(w, http.StatusOK, ReceivedResponse{Received: true})
}
