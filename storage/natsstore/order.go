package natsstore

import (
	"encoding/base64"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// Ordered subscriptions (doc.go, "Ordered delivery"): an event's record
// names, in Wh-Ordered, the subscriptions of its fan-out that are ordered
// and, in Wh-Order, its order key (orderToken); a delivery record carries
// Wh-Order too. The due index keeps, per subscription, a line per order
// key in the order its watch read them (the ledger's order, the same on
// every node): only the first of a line is in the heap that claims read;
// the others wait until it leaves the index (finished, cancelled).
const (
	hdrOrder   = "Wh-Order"   // the order key, as orderToken
	hdrOrdered = "Wh-Ordered" // the subscription keys of the fan-out that are ordered, comma-separated
)

// orderToken is what stands for an order key in headers and the index:
// any text fits a header as unpadded base64url, and the index gives an
// implied delivery its key back (orderKeyOf).
func orderToken(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

// orderKeyOf is orderToken's inverse ("" for a token that is not one).
func orderKeyOf(token string) string {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return ""
	}
	return string(b)
}

// orderHeaders adds to an event record's headers the order of the
// deliveries it implies to ordered subscriptions.
func orderHeaders(h nats.Header, ev *webhook.Event, ordered []string) {
	if ev.OrderKey == "" || len(ordered) == 0 {
		return
	}
	h.Set(hdrOrder, orderToken(ev.OrderKey))
	h.Set(hdrOrdered, strings.Join(ordered, ","))
}

// orderedSubs reads an event record's Wh-Ordered.
func orderedSubs(h nats.Header) map[string]bool {
	v := h.Get(hdrOrdered)
	if v == "" {
		return nil
	}
	out := map[string]bool{}
	for k := range strings.SplitSeq(v, ",") {
		out[k] = true
	}
	return out
}

// join puts p, new to the queue, at the end of its line; it reports
// whether p waits (an earlier delivery of its line is pending).
func (q *subQueue) join(p *pending) bool {
	if p.line == "" {
		return false
	}
	if q.lines == nil {
		q.lines = map[string][]*pending{}
	}
	q.lines[p.line] = append(q.lines[p.line], p)
	p.waiting = len(q.lines[p.line]) > 1
	return p.waiting
}

// leave takes p, leaving the queue, out of its line and returns the
// delivery that it let go (nil when none): the next of the line when p
// was the first.
func (q *subQueue) leave(p *pending) *pending {
	line := q.lines[p.line]
	i := slices.Index(line, p)
	if i < 0 {
		return nil
	}
	line = slices.Delete(line, i, i+1)
	if len(line) == 0 {
		delete(q.lines, p.line)
		return nil
	}
	q.lines[p.line] = line
	if i > 0 || !line[0].waiting {
		return nil
	}
	line[0].waiting = false
	return line[0]
}

// waiters returns the deliveries waiting in the queue's lines.
func (q *subQueue) waiters() []*pending {
	var out []*pending
	for _, line := range q.lines {
		for _, p := range line {
			if p.waiting {
				out = append(out, p)
			}
		}
	}
	return out
}

// showWaiting makes a delivery read from its record say what the index
// knows: it waits for an earlier one of its line.
func (s *Store) showWaiting(d *webhook.Delivery) {
	if p := s.index.lookup(d.ID); p != nil && p.waiting && d.Status == webhook.Pending {
		d.Waiting, d.NextAttemptAt = true, nil
	}
}
