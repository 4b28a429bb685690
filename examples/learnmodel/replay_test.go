package learnmodel_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/caddy-webhooks/caddy-webhooks/examples/crm/crm"
	"github.com/caddy-webhooks/caddy-webhooks/examples/shop/shop"
	"github.com/caddy-webhooks/caddy-webhooks/learn"
	"github.com/caddy-webhooks/caddy-webhooks/rules"
)

// proxy runs a rule set in front of an app as the webhooks handler does,
// simplified: one request at a time, state in a map, prefetches through
// the app with the client's X-User-Id. It is enough to see what a
// proposal emits for a session.
type proxy struct {
	t      *testing.T
	set    *rules.Set
	app    http.Handler
	state  map[string][]byte
	events []*rules.Event
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	in := &rules.Input{Method: r.Method, Path: r.URL.Path, Header: r.Header, Query: r.URL.Query(), Body: body}
	cands := p.set.Candidates(r.Method, r.URL.Path)
	fetched := map[string][]byte{}
	for _, c := range cands {
		p.prefetch(c, in, r.Header, fetched)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	p.app.ServeHTTP(rec, r)
	in.Status, in.RespHeader, in.RespBody = rec.Code, rec.Header(), rec.Body.Bytes()

	writes := map[string][]byte{} // nil: forget
	for _, c := range cands {
		if !c.Rule.MatchesStatus(rec.Code) {
			continue
		}
		items := []*rules.Item{nil}
		if c.Rule.HasEach() {
			its, err := c.Items(in)
			if err != nil {
				p.t.Errorf("%s %s: items: %v", r.Method, r.URL.Path, err)
			}
			items = items[:0]
			for i := range its {
				items = append(items, &its[i])
			}
		}
		for _, it := range items {
			in.SetItem(it)
			key, err := c.StateKey(in)
			var skip *rules.SkipError
			switch {
			case errors.As(err, &skip):
				key = "" // a key with a null part: the rule runs without state
			case err != nil:
				p.t.Errorf("%s %s: state key: %v", r.Method, r.URL.Path, err)
			}
			prev, ok := fetched[key]
			if !ok {
				prev = p.state[key]
			}
			in.SetPrevious(prev)
			ev, err := c.Eval(in)
			if err != nil && !errors.As(err, &skip) {
				p.t.Errorf("%s %s: %s: %v", r.Method, r.URL.Path, c.Rule.Name(), err)
			}
			if ev != nil {
				p.events = append(p.events, ev)
			}
			if key == "" {
				continue
			}
			snap, _ := c.Snapshot(in)
			if c.Rule.StateForgets() {
				snap = nil
			}
			writes[key] = snap
		}
		in.SetItem(nil)
	}
	for key, snap := range writes {
		if snap == nil {
			delete(p.state, key)
			continue
		}
		p.state[key] = snap
	}
	maps.Copy(w.Header(), rec.Header())
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// prefetch fetches, before the request goes upstream, the state of the
// resources a candidate names from the request alone, when nothing is
// remembered of them.
func (p *proxy) prefetch(c rules.Candidate, in *rules.Input, h http.Header, fetched map[string][]byte) {
	if !c.Rule.HasPrefetch() || !c.Rule.StateKeyEarly() {
		return
	}
	items := []*rules.Item{nil}
	if c.Rule.HasEach() {
		its, err := c.EarlyItems(in)
		if err != nil || !c.Rule.ItemsEarly() {
			return
		}
		items = its
	}
	for _, it := range items {
		in.SetItem(it)
		key, err := c.StateKey(in)
		_, remembered := p.state[key]
		_, done := fetched[key]
		if err != nil || key == "" || remembered || done {
			continue
		}
		method, path, ok, err := c.Prefetch(in)
		if !ok || err != nil {
			continue
		}
		req := httptest.NewRequest(method, path, nil)
		req.Header.Set("X-User-Id", h.Get("X-User-Id"))
		rec := httptest.NewRecorder()
		p.app.ServeHTTP(rec, req)
		if rec.Code/100 == 2 {
			if v, ok := c.SelectPrefetched(rec.Body.Bytes()); ok {
				fetched[key] = v
			}
		}
	}
	in.SetItem(nil)
}

// replay learns a proposal from a session on one app, then runs the same
// session on a fresh app behind the proposal, and returns its events.
func replay(t *testing.T, newApp func() http.Handler, session func(*recorder)) []*rules.Event {
	m := learn.New(learn.Options{})
	session(&recorder{t: t, app: newApp(), m: m, pace: 2 * time.Millisecond})
	specs, err := rules.Parse("proposal.yaml", m.Rules())
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Compile(specs)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, set: set, app: newApp(), state: map[string][]byte{}}
	session(&recorder{t: t, app: p, m: learn.New(learn.Options{}), pace: 2 * time.Millisecond})
	return p.events
}

// counts are the events by name.
func counts(events []*rules.Event) map[string]int {
	out := map[string]int{}
	for _, e := range events {
		out[e.Name]++
	}
	return out
}

// checkChanges checks that each <field>_changed event says what changed.
func checkChanges(t *testing.T, events []*rules.Event) {
	for _, e := range events {
		d := gjson.ParseBytes(e.Data)
		switch e.Name {
		case "order.status_changed":
			if d.Get("oldStatus").String() == d.Get("newStatus").String() || d.Get("orderId").String() == "" {
				t.Errorf("%s %s", e.Name, e.Data)
			}
		case "task.status_changed", "mandat.status_changed":
			if d.Get("old_status").String() == d.Get("new_status").String() || !d.Get(e.Name[:len(e.Name)-len(".status_changed")]+"_id").Exists() {
				t.Errorf("%s %s", e.Name, e.Data)
			}
		}
	}
}

// TestLearnedRulesReplay checks what the proposals emit, against the
// catalogue's oracle for the session's requests.
func TestLearnedRulesReplay(t *testing.T) {
	t.Run("shop", func(t *testing.T) {
		events := replay(t, func() http.Handler { return shop.New() }, shopSession)
		got := counts(events)
		t.Logf("events: %v", got)
		// The session changes statuses 13 times. Stripe's callback marks
		// orders paid behind the rules' back (its answer shows no order):
		// the proposal forgets the order's state on it, so the next status
		// update fetches the order and says it was paid, as it was. The
		// shop moves updatedAt on every PUT, so customer.updated fires for
		// each of the 10, as the catalogue says.
		want := map[string]int{
			"customer.created": 6, "customer.updated": 10, "order.created": 9, "order.status_changed": 13,
		}
		if !maps.Equal(got, want) {
			t.Errorf("events %v, want %v", got, want)
		}
		fromPaid := 0
		for _, e := range events {
			if e.Name == "order.status_changed" && gjson.GetBytes(e.Data, "oldStatus").String() == "paid" {
				fromPaid++
			}
		}
		if fromPaid != 5 {
			t.Errorf("%d status changes from paid, want 5 (4 orders paid by Stripe, 1 by the back office)", fromPaid)
		}
		checkChanges(t, events)
	})
	t.Run("crm", func(t *testing.T) {
		events := replay(t, func() http.Handler { return crm.New() }, crmSession)
		got := counts(events)
		t.Logf("events: %v", got)
		want := map[string]int{
			"organisation.created": 5, "organisation.updated": 6, "organisation.deleted": 1,
			"person.created": 7, "person.updated": 10, "person.deleted": 2,
			"task.created": 5, "task.updated": 5, "task.deleted": 1, "task.status_changed": 7,
			"mandat.created": 4, "mandat.updated": 5, "mandat.deleted": 1, "mandat.status_changed": 4,
			"interaction.created": 3, "interaction.updated": 3, "interaction.deleted": 1,
		}
		if !maps.Equal(got, want) {
			t.Errorf("events %v, want %v", got, want)
		}
		checkChanges(t, events)
		for _, e := range events {
			if e.Name == "person.deleted" || e.Name == "organisation.deleted" {
				var d map[string]any
				if err := json.Unmarshal(e.Data, &d); err != nil || d["last_name"] == nil && d["name"] == nil {
					t.Errorf("%s without the deleted record: %s", e.Name, e.Data)
				}
			}
		}
		done := slices.IndexFunc(events, func(e *rules.Event) bool {
			return e.Name == "task.status_changed" && gjson.GetBytes(e.Data, "new_status").String() == "done"
		})
		if done < 0 {
			t.Error("no task.status_changed to done")
		}
	})
}
