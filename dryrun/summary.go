package dryrun

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/caddy-webhooks/caddy-webhooks/rules"
)

// Summary says what each rule did in a replay.
type Summary struct {
	Exchanges int `json:"exchanges"`
	Events    int `json:"events"`
	// RequestBodiesNotRecorded and ResponseBodiesNotRecorded count the
	// exchanges whose body the recording does not hold (all of them in an
	// access log): rules that read it are skipped.
	RequestBodiesNotRecorded  int           `json:"request_bodies_not_recorded"`
	ResponseBodiesNotRecorded int           `json:"response_bodies_not_recorded"`
	Rules                     []RuleSummary `json:"rules"`
}

// RuleSummary is what one rule did. Matched counts the exchanges whose
// method, path and status it matched; for a rule with each, Fired,
// WhenFalse and Skipped count items.
type RuleSummary struct {
	Rule      string `json:"rule"` // "file:line name"
	File      string `json:"file,omitempty"`
	Line      int    `json:"line,omitempty"`
	Name      string `json:"name,omitempty"` // "" for a rule that keeps state only
	Matched   int    `json:"matched"`
	Fired     int    `json:"fired"`
	WhenFalse int    `json:"when_false"`
	// Skipped counts the events that could not be produced, by reason
	// (the handler's event_skipped reasons).
	Skipped map[string]int `json:"skipped,omitempty"`
	// BodyNotRecorded counts, of the skips for a body that is not JSON,
	// those whose body the recording does not hold.
	BodyNotRecorded map[string]int `json:"body_not_recorded,omitempty"`
	Remembered      int            `json:"remembered,omitempty"` // snapshots written
	Forgotten       int            `json:"forgotten,omitempty"`  // snapshot: none
	// Notes count what happened to the rule's state: prefetches answered
	// from the recording or not, keys that could not be made.
	Notes map[string]int `json:"notes,omitempty"`
}

// The notes of a rule's state.
const (
	noteNoState             = "no state: " // + the reason: the rule ran with previous null
	noteNotWritten          = "state not written: "
	noteNotOrdered          = "not ordered: order_key has a missing or null part"
	notePrefetch            = "prefetch: "
	notePrefetchRecorded    = "prefetch: from the recording"
	notePrefetchNotRecorded = "prefetch: not in the recording"
	notePrefetchNoBody      = "prefetch: body not in the recording"
	noteNoItems             = "each: no items"
)

// summary gathers a replay's Summary.
type summary struct {
	Summary
	byRule map[*rules.Rule]*RuleSummary
}

func newSummary(set *rules.Set) *summary {
	rs := set.Rules()
	s := &summary{Summary: Summary{Rules: make([]RuleSummary, len(rs))}, byRule: make(map[*rules.Rule]*RuleSummary, len(rs))}
	for i, r := range rs {
		pos := r.Pos()
		label := r.Name()
		if label == "" {
			label = "(state only)"
		}
		s.Rules[i] = RuleSummary{File: pos.File, Line: pos.Line, Name: r.Name(),
			Rule: fmt.Sprintf("%s:%d %s", pos.File, pos.Line, label)}
		s.byRule[r] = &s.Rules[i]
	}
	return s
}

func (s *summary) rule(r *rules.Rule) *ruleStats {
	return &ruleStats{RuleSummary: s.byRule[r], rule: r}
}

// count records the totals of the replay.
func (s *summary) count(xs []Exchange, events int) {
	s.Exchanges, s.Events = len(xs), events
	for i := range xs {
		if xs[i].BodyMissing {
			s.RequestBodiesNotRecorded++
		}
		if xs[i].RespBodyMissing {
			s.ResponseBodiesNotRecorded++
		}
	}
}

// ruleStats counts what happens to one rule.
type ruleStats struct {
	*RuleSummary
	rule *rules.Rule
}

// skip counts an event that could not be produced.
func (s *ruleStats) skip(err error, x *Exchange) {
	reason := reasonOf(err)
	s.Skipped = inc(s.Skipped, reason)
	if (reason == string(rules.ReasonRequestBodyNotJSON) && x.BodyMissing) ||
		(reason == string(rules.ReasonResponseBodyNotJSON) && x.RespBodyMissing) {
		s.BodyNotRecorded = inc(s.BodyNotRecorded, reason)
	}
}

func (s *ruleStats) note(label string) { s.Notes = inc(s.Notes, label) }

// noteAt notes what happened to the rule's state before x, if the rule
// matched x (the state of every candidate is read before the status is
// known; that of a rule that then does not match does not matter).
func (s *ruleStats) noteAt(x *Exchange, label string) {
	if s.rule.MatchesStatus(x.Status) {
		s.note(label)
	}
}

func inc(m map[string]int, k string) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	m[k]++
	return m
}

// WriteText writes the summary for people: a line per rule, then one per
// outcome and note, indented.
func (s *Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "dry run: %d exchanges, %d events (nothing was stored or sent)\n", s.Exchanges, s.Events)
	for i := range s.Rules {
		s.Rules[i].writeText(&b)
	}
	if s.RequestBodiesNotRecorded > 0 || s.ResponseBodiesNotRecorded > 0 {
		fmt.Fprintf(&b, "note: the recording does not hold the body of %d requests and %d responses that had one: "+
			"rules that read them were skipped (request_body_not_json, response_body_not_json), "+
			"as the handler skips a body that is not JSON\n", s.RequestBodiesNotRecorded, s.ResponseBodiesNotRecorded)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (rs *RuleSummary) writeText(b *strings.Builder) {
	skipped := 0
	for _, n := range rs.Skipped {
		skipped += n
	}
	if rs.Name == "" {
		fmt.Fprintf(b, "%s: matched %d\n", rs.Rule, rs.Matched)
	} else {
		fmt.Fprintf(b, "%s: matched %d, fired %d, skipped %d\n", rs.Rule, rs.Matched, rs.Fired, skipped)
	}
	if rs.WhenFalse > 0 {
		fmt.Fprintf(b, "  when false: %d\n", rs.WhenFalse)
	}
	for _, reason := range slices.Sorted(maps.Keys(rs.Skipped)) {
		fmt.Fprintf(b, "  %s: %d", reason, rs.Skipped[reason])
		if n := rs.BodyNotRecorded[reason]; n > 0 {
			fmt.Fprintf(b, " (body not in the recording: %d)", n)
		}
		b.WriteByte('\n')
	}
	if rs.Remembered > 0 {
		fmt.Fprintf(b, "  remembered: %d\n", rs.Remembered)
	}
	if rs.Forgotten > 0 {
		fmt.Fprintf(b, "  forgotten: %d\n", rs.Forgotten)
	}
	for _, label := range slices.Sorted(maps.Keys(rs.Notes)) {
		fmt.Fprintf(b, "  %s: %d\n", label, rs.Notes[label])
	}
}

// WriteJSON writes the summary as one JSON document.
func (s *Summary) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the summary: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
