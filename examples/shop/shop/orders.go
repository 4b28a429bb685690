package shop

import (
	"errors"
	"math"
	"net/http"
	"strings"
)

// Order statuses, in their usual sequence.
const (
	StatusPending    = "pending"
	StatusPaid       = "paid"
	StatusProcessing = "processing"
	StatusShipped    = "shipped"
	StatusDelivered  = "delivered"
	StatusCancelled  = "cancelled"
)

// Payment statuses.
const (
	PaymentUnpaid = "unpaid"
	PaymentPaid   = "paid"
)

// defaultCurrency is used when an order does not name one.
const defaultCurrency = "CHF"

// validStatuses holds the statuses an order may take.
var validStatuses = map[string]bool{
	StatusPending: true, StatusPaid: true, StatusProcessing: true,
	StatusShipped: true, StatusDelivered: true, StatusCancelled: true,
}

// Order is an order document, as stored and returned by the shop.
// Payment appears once the order is paid, Shipping once it has tracking
// information or has been shipped, Site only when the order named one.
type Order struct {
	ID            string        `json:"_id"`
	OrderNumber   string        `json:"orderNumber"`
	Customer      OrderCustomer `json:"customer"`
	Items         []OrderItem   `json:"items"`
	Total         float64       `json:"total"`
	Currency      string        `json:"currency"`
	Status        string        `json:"status"`
	Site          string        `json:"site,omitempty"`
	PaymentStatus string        `json:"paymentStatus"`
	Payment       *Payment      `json:"payment,omitempty"`
	Shipping      *Shipping     `json:"shipping,omitempty"`
	CreatedAt     Time          `json:"createdAt"`
	UpdatedAt     Time          `json:"updatedAt"`
}

// OrderCustomer is the buyer as recorded on an order.
type OrderCustomer struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

// OrderItem is one line of an order; Price is the unit price.
type OrderItem struct {
	SKU      string  `json:"sku"`
	Name     string  `json:"name"`
	Quantity int     `json:"quantity"`
	Price    float64 `json:"price"`
}

// Shipping holds the tracking information of an order.
type Shipping struct {
	TrackingNumber string `json:"trackingNumber,omitempty"`
	TrackingURL    string `json:"trackingUrl,omitempty"`
	ShippedAt      *Time  `json:"shippedAt,omitempty"`
}

// clone returns a deep copy of o.
func (o *Order) clone() Order {
	c := *o
	c.Items = append([]OrderItem(nil), o.Items...)
	if o.Payment != nil {
		p := *o.Payment
		c.Payment = &p
	}
	if o.Shipping != nil {
		s := *o.Shipping
		if s.ShippedAt != nil {
			t := *s.ShippedAt
			s.ShippedAt = &t
		}
		c.Shipping = &s
	}
	return c
}

// createOrderRequest is the body of POST /api/orders.
type createOrderRequest struct {
	Customer OrderCustomer `json:"customer"`
	Items    []OrderItem   `json:"items"`
	Currency string        `json:"currency"`
	Site     string        `json:"site"`
}

// updateStatusRequest is the body of PUT/PATCH /api/orders/{id}/status.
type updateStatusRequest struct {
	Status         string  `json:"status"`
	TrackingNumber *string `json:"trackingNumber"`
	TrackingURL    *string `json:"trackingUrl"`
}

// createOrder handles POST /api/orders: 201 with the new order.
func (s *Server) createOrder(w http.ResponseWriter, r *http.Request) {
	var req createOrderRequest
	if err := readJSON(w, r, &req, false); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	email := normalizeEmail(req.Customer.Email)
	switch {
	case email == "":
		writeError(w, http.StatusBadRequest, "customer.email is required")
		return
	case !validEmail(email):
		writeError(w, http.StatusBadRequest, "customer.email is invalid")
		return
	case len(req.Items) == 0:
		writeError(w, http.StatusBadRequest, "items must not be empty")
		return
	}
	var cents int64
	for i, it := range req.Items {
		switch {
		case it.Quantity <= 0:
			errorf(w, http.StatusBadRequest, "items[%d].quantity must be greater than 0", i)
			return
		case it.Price < 0 || math.IsNaN(it.Price) || math.IsInf(it.Price, 0):
			errorf(w, http.StatusBadRequest, "items[%d].price must not be negative", i)
			return
		case strings.TrimSpace(it.SKU) == "" && strings.TrimSpace(it.Name) == "":
			errorf(w, http.StatusBadRequest, "items[%d]: sku or name is required", i)
			return
		}
		cents += int64(math.Round(it.Price*100)) * int64(it.Quantity)
	}
	currency := strings.ToUpper(strings.TrimSpace(req.Currency))
	if currency == "" {
		currency = defaultCurrency
	}
	if !validCurrency(currency) {
		writeError(w, http.StatusBadRequest, "currency must be a 3-letter ISO 4217 code")
		return
	}

	now := s.now()
	ts := newTime(now)
	o := &Order{
		ID:            newObjectID(now),
		Customer:      OrderCustomer{Email: email, Name: strings.TrimSpace(req.Customer.Name)},
		Items:         req.Items,
		Total:         float64(cents) / 100,
		Currency:      currency,
		Status:        StatusPending,
		Site:          strings.TrimSpace(req.Site),
		PaymentStatus: PaymentUnpaid,
		CreatedAt:     ts,
		UpdatedAt:     ts,
	}
	writeJSON(w, http.StatusCreated, s.store.insertOrder(o))
}

// listOrders handles GET /api/orders[?status=…]: 200 with an array, oldest first.
func (s *Server) listOrders(w http.ResponseWriter, r *http.Request) {
	status := r.URL.Query().Get("status")
	if status != "" && !validStatuses[status] {
		errorf(w, http.StatusBadRequest, "invalid status %q", status)
		return
	}
	writeJSON(w, http.StatusOK, s.store.listOrders(func(o *Order) bool {
		return status == "" || o.Status == status
	}))
}

// getOrder handles GET /api/orders/{id}: 200 with the order, or 404.
func (s *Server) getOrder(w http.ResponseWriter, r *http.Request) {
	o, err := s.store.order(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusNotFound, "order not found")
		return
	}
	writeJSON(w, http.StatusOK, o)
}

// errOrderCancelled refuses to move a cancelled order to another status.
var errOrderCancelled = errors.New("order is cancelled: its status can no longer change")

// updateOrderStatus handles PUT and PATCH /api/orders/{id}/status: 200
// with the updated order. Like most apps, the answer shows only the new
// status; the old one is gone. Setting the status an order already has is
// accepted (200) and changes only updatedAt (and tracking, when given).
// 400 for a missing or unknown status, 404 for an unknown order, 409 for
// a cancelled order given any other status.
func (s *Server) updateOrderStatus(w http.ResponseWriter, r *http.Request) {
	var req updateStatusRequest
	if err := readJSON(w, r, &req, false); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	status := strings.ToLower(strings.TrimSpace(req.Status))
	if status == "" {
		writeError(w, http.StatusBadRequest, "status is required")
		return
	}
	if !validStatuses[status] {
		errorf(w, http.StatusBadRequest, "invalid status %q: want one of pending, paid, processing, shipped, delivered, cancelled", req.Status)
		return
	}
	now := newTime(s.now())
	o, err := s.store.updateOrder(r.PathValue("id"), func(o *Order) error {
		if o.Status == StatusCancelled && status != StatusCancelled {
			return errOrderCancelled
		}
		o.Status = status
		if req.TrackingNumber != nil || req.TrackingURL != nil || status == StatusShipped {
			if o.Shipping == nil {
				o.Shipping = &Shipping{}
			}
			if req.TrackingNumber != nil {
				o.Shipping.TrackingNumber = strings.TrimSpace(*req.TrackingNumber)
			}
			if req.TrackingURL != nil {
				o.Shipping.TrackingURL = strings.TrimSpace(*req.TrackingURL)
			}
			if status == StatusShipped && o.Shipping.ShippedAt == nil {
				t := now
				o.Shipping.ShippedAt = &t
			}
		}
		o.UpdatedAt = now
		return nil
	})
	switch {
	case errors.Is(err, errNotFound):
		writeError(w, http.StatusNotFound, "order not found")
	case err != nil:
		writeError(w, http.StatusConflict, err.Error())
	default:
		writeJSON(w, http.StatusOK, o)
	}
}

// normalizeEmail trims and lower-cases an email address.
func normalizeEmail(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

// validEmail is a deliberately loose check: something@something, no spaces.
func validEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	return at > 0 && at < len(s)-1 && !strings.ContainsAny(s, " \t\r\n")
}

// validCurrency reports whether s looks like an ISO 4217 code (3 letters).
func validCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}
