package webhook

import (
	"time"
)

// Delivery states.
const (
	Pending   = "pending"
	Succeeded = "succeeded"
	Failed    = "failed"
	Cancelled = "cancelled"
)

// Delivery is one event on its way to one subscription.
type Delivery struct {
	ID             string `json:"id"`
	EventID        string `json:"event_id"`
	Event          string `json:"event"`
	SubscriptionID string `json:"subscription_id"`
	Status         string `json:"status"`
	// Attempts are all attempts, oldest first, numbered from 1 across
	// redeliveries (the X-Webhook-Attempt header).
	Attempts []Attempt `json:"attempts"`
	// RunStart is the index in Attempts where the current run of the
	// retry schedule began: a redelivery starts a new run.
	RunStart int `json:"run_start"`
	// NextAttemptAt is when a pending delivery is due (or its claim
	// expires while an attempt is in flight); nil once finished.
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	// OrderKey is set on the deliveries of an ordered subscription (the
	// event's order key): a delivery waits while an earlier one of the
	// same key to the same subscription is pending.
	OrderKey string `json:"order_key,omitempty"`
	// Waiting marks a pending delivery held back by an earlier one of its
	// order key; its NextAttemptAt is nil until that one has finished.
	Waiting   bool      `json:"waiting,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Attempt is one HTTP try of a delivery.
type Attempt struct {
	N            int       `json:"attempt"`
	At           time.Time `json:"at"`
	StatusCode   int       `json:"status_code,omitempty"`
	DurationMs   int64     `json:"duration_ms"`
	Error        string    `json:"error,omitempty"`
	ResponseBody string    `json:"response_body,omitempty"` // the first 1 KiB
}

// TriesInRun returns how many attempts the current run has made.
func (d *Delivery) TriesInRun() int { return len(d.Attempts) - d.RunStart }

// NextAttemptNumber is the number the next attempt carries.
func (d *Delivery) NextAttemptNumber() int { return len(d.Attempts) + 1 }

// Claim is a delivery claimed for an attempt, with its event and
// subscription: no other worker or node attempts it until its lease runs
// out.
type Claim struct {
	Delivery *Delivery
	Event    *Event
	Sub      *Subscription
}

// Want asks for up to Max due deliveries of one subscription.
type Want struct {
	SubID string
	Max   int
}

// NewDelivery is a new delivery of ev to sub, pending and due at now. It
// is unordered: a store's fan-out gives the deliveries of an ordered
// subscription their event's order key (OrderedBy).
func NewDelivery(sub *Subscription, ev *Event, now time.Time) *Delivery {
	return &Delivery{
		ID: NewID("dlv_", now), EventID: ev.ID, Event: ev.Name, SubscriptionID: sub.ID,
		Status: Pending, Attempts: []Attempt{}, NextAttemptAt: &now, CreatedAt: now, UpdatedAt: now,
	}
}

// OrderedBy is the order key of ev's delivery to sub, made by the
// fan-out of ev: the event's when sub is ordered, else "". Redeliveries
// and replays repeat an event whose turn has passed: they are not
// ordered.
func OrderedBy(sub *Subscription, ev *Event) string {
	if sub.Ordered {
		return ev.OrderKey
	}
	return ""
}

// Redeliver makes a finished delivery pending again, due at now, with a
// new run of the retry schedule. It leaves its order line: it goes as
// soon as it is due.
func (d *Delivery) Redeliver(now time.Time) {
	d.Status, d.RunStart, d.NextAttemptAt, d.UpdatedAt = Pending, len(d.Attempts), &now, now
	d.OrderKey, d.Waiting = "", false
}
