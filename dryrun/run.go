package dryrun

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddy-webhooks/caddy-webhooks/rules"
)

// DefaultMaxBody is the handler's default max_body.
const DefaultMaxBody = 1 << 20

// Options are the settings of a replay.
type Options struct {
	// MaxBody is the handler's max_body: a larger body is skipped as the
	// handler skips it (request_body_too_large, response_body_too_large).
	// 0 means DefaultMaxBody.
	MaxBody int64
}

// Event is an event the rules would infer, as the command prints it.
type Event struct {
	Event  string          `json:"event"`
	Data   json.RawMessage `json:"data"`
	UserID json.RawMessage `json:"user_id,omitempty"`
	Site   string          `json:"site,omitempty"`
	Shadow bool            `json:"shadow,omitempty"` // the rule is in shadow mode: stored, never delivered
	// OrderKey is what ordered subscriptions order the event by (the
	// rule's order_key, else its state key).
	OrderKey string `json:"order_key,omitempty"`
	Request  string `json:"request"` // "METHOD /path?query"
	Status   int    `json:"status"`
	Index    int    `json:"index"` // the exchange's Index
}

// Result is what a replay gives: the events in the order the handler
// would infer them, and what each rule did.
type Result struct {
	Events  []Event
	Summary Summary
}

// Replay runs the exchanges, in order, through the rules as the handler
// would (state included, kept in memory for this replay), and returns the
// events that would fire.
func Replay(set *rules.Set, xs []Exchange, opts Options) Result {
	r := &replay{
		set:     set,
		maxBody: opts.MaxBody,
		state:   map[string][]byte{},
		gets:    map[string]*Exchange{},
		sum:     newSummary(set),
	}
	if r.maxBody <= 0 {
		r.maxBody = DefaultMaxBody
	}
	for i := range xs {
		r.exchange(&xs[i])
	}
	r.sum.count(xs, len(r.events))
	return Result{Events: r.events, Summary: r.sum.Summary}
}

// replay is a replay under way.
type replay struct {
	set     *rules.Set
	maxBody int64
	state   map[string][]byte    // key → snapshot (never null): the store of a live handler
	gets    map[string]*Exchange // the latest 2xx GET of each path and query, for prefetches
	sum     *summary
	events  []Event
}

// snapshot is a state change of an exchange, applied after all its rules
// were evaluated; a nil value forgets the key.
type snapshot struct {
	key   string
	value []byte
}

// exchange evaluates the rules on one exchange, as the handler's emit.
func (r *replay) exchange(x *Exchange) {
	defer r.recordGET(x) // a prefetch is answered from the exchanges before its own
	cands := r.set.Candidates(x.Method, x.URL.Path)
	if !canMatch(cands, x.Status) {
		return // the handler evaluates nothing, and writes no state
	}
	in := r.input(x)
	st := r.before(x, cands)
	var snaps []snapshot
	for i, c := range cands {
		if !c.Rule.MatchesStatus(x.Status) {
			continue
		}
		s := r.sum.rule(c.Rule)
		s.Matched++
		if !c.Rule.HasEach() {
			snaps = r.eval(x, st, i, 0, c, in, snaps)
			continue
		}
		items, err := c.Items(in)
		if err != nil {
			s.skip(err, x)
			continue
		}
		if len(items) == 0 {
			s.note(noteNoItems)
		}
		for j := range items {
			in.SetItem(&items[j])
			snaps = r.eval(x, st, i, j, c, in, snaps)
		}
		in.SetItem(nil)
	}
	r.apply(snaps)
}

func canMatch(cands []rules.Candidate, status int) bool {
	for _, c := range cands {
		if c.Rule.MatchesStatus(status) {
			return true
		}
	}
	return false
}

// input is what the rules see of the exchange, with the handler's limits:
// a body over max_body, or a stream, is not read.
func (r *replay) input(x *Exchange) *rules.Input {
	in := &rules.Input{
		Method: x.Method, Path: x.URL.Path, Header: x.Header, Query: x.URL.Query(), Body: x.Body,
		Status: x.Status, RespHeader: x.RespHeader, RespBody: x.RespBody,
	}
	if int64(len(x.Body)) > r.maxBody {
		in.Body, in.BodyErr = nil, rules.ReasonRequestBodyTooLarge
	}
	switch {
	case strings.HasPrefix(x.RespHeader.Get("Content-Type"), "text/event-stream"):
		in.RespBody, in.RespBodyErr = nil, rules.ReasonResponseIsStream
	case int64(len(x.RespBody)) > r.maxBody:
		in.RespBody, in.RespBodyErr = nil, rules.ReasonResponseBodyTooLarge
	}
	return in
}

// eval evaluates candidate i (at its item j) on in, as the handler's
// evalRule: with the state from before the exchange, adding its snapshot
// to snaps and its event, if any, to the replay's.
func (r *replay) eval(x *Exchange, st *exchangeState, i, j int, c rules.Candidate, in *rules.Input, snaps []snapshot) []snapshot {
	s := r.sum.rule(c.Rule)
	key, prev, err := r.previousFor(st, i, j, c, in)
	if err != nil {
		s.note(noteNoState + reasonOf(err)) // a key with a null part: the rule runs without state
	}
	in.SetPrevious(prev)
	switch {
	case key == "":
	case c.Rule.StateForgets():
		snaps = append(snaps, snapshot{key: key})
		s.Forgotten++
	default:
		if snap, err := c.Snapshot(in); err != nil {
			s.note(noteNotWritten + reasonOf(err)) // the state stays as it was
		} else if len(snap) > 0 && string(snap) != "null" {
			snaps = append(snaps, snapshot{key: key, value: bytes.Clone(snap)})
			s.Remembered++
		}
	}
	ev, err := c.Eval(in)
	switch {
	case err != nil:
		s.skip(err, x)
	case ev == nil && c.Rule.Name() == "": // keeps state only
	case ev == nil:
		s.WhenFalse++
	default:
		s.Fired++
		order, err := c.EventOrderKey(in, key)
		if err != nil {
			s.note(noteNotOrdered)
		}
		r.events = append(r.events, Event{Event: ev.Name, Data: ev.Data, UserID: ev.UserID, Site: ev.Site, Shadow: ev.Shadow,
			OrderKey: order, Request: x.RequestLine(), Status: x.Status, Index: x.Index})
	}
	return snaps
}

// apply writes the exchange's snapshots, in the order of its rules, once
// all of them were evaluated.
func (r *replay) apply(snaps []snapshot) {
	for _, sn := range snaps {
		if sn.value == nil {
			delete(r.state, sn.key)
			continue
		}
		r.state[sn.key] = sn.value
	}
}

// recordGET keeps a successful GET as the answer to later prefetches of
// its path and query.
func (r *replay) recordGET(x *Exchange) {
	if x.Method == http.MethodGet && x.Status >= 200 && x.Status <= 299 {
		r.gets[getKey(x.URL.Path, x.URL.RawQuery)] = x
	}
}

// getKey identifies a GET by its path (unescaped) and its query (in
// url.Values' sorted order, so that the order of its parameters does not
// matter).
func getKey(path, rawQuery string) string {
	if q, err := url.ParseQuery(rawQuery); err == nil {
		rawQuery = q.Encode()
	}
	return path + "?" + rawQuery
}

// reasonOf is the skip reason of an error of the rules.
func reasonOf(err error) string {
	var se *rules.SkipError
	if errors.As(err, &se) {
		return string(se.Reason)
	}
	return string(rules.ReasonError)
}
