package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/tidwall/pretty"
)

// Event is what a rule emits.
type Event struct {
	Name   string
	Data   json.RawMessage // always valid JSON in UTF-8 (null when data is missing/empty)
	UserID json.RawMessage // nil when the rule has no user_id; valid JSON in UTF-8 otherwise
	Site   string          // the `site` value as text ("" when none/null); strings unquoted, numbers as text
	Shadow bool            // the rule is in shadow mode: store the event, never deliver it
}

// Eval is EvalContext without a context: `when` is bounded by its cost
// limit only.
func (c Candidate) Eval(in *Input) (*Event, error) {
	return c.EvalContext(context.Background(), in)
}

// EvalContext runs the candidate's rule on in. It returns nil, nil when
// `when` is false, and a *SkipError when the event cannot be produced. A
// body is looked at only if the rule reads it, and only once `when` has
// passed when `when` itself does not read it. `when` stops (when_error)
// past WhenCostLimit or, in a long comprehension, once ctx is done.
func (c Candidate) EvalContext(ctx context.Context, in *Input) (*Event, error) {
	r := c.Rule
	if r.name == "" {
		return nil, nil // keeps state only
	}
	if w := r.when; w != nil {
		if w.needsReq {
			if _, err := in.requestBody(); err != nil {
				return nil, err
			}
		}
		if w.needsResp {
			if _, err := in.responseBody(); err != nil {
				return nil, err
			}
		}
		ok, err := w.eval(ctx, in, c.Params)
		if err != nil {
			return nil, &SkipError{Reason: ReasonWhenError, Err: fmt.Errorf("when: %w", err)}
		}
		if !ok {
			return nil, nil
		}
	}

	ev := &Event{Name: r.name, Data: json.RawMessage(nullJSON), Shadow: r.shadow}
	if r.data != nil {
		var buf bytes.Buffer
		if err := r.data.appendJSON(&buf, in, c.Params); err != nil {
			return nil, err
		}
		// Compacted without json.Compact's second check of the syntax:
		// every piece was checked as it was extracted, and the template
		// adds only its own punctuation (FuzzEval holds the result to
		// json.Valid). That check was a third of a rule's evaluation.
		data := r.redact.apply(buf.Bytes()) // buf's or a copy: ours either way
		ev.Data = validUTF8(pretty.UglyInPlace(data))
	}
	if r.userID != nil {
		v, err := r.userID.value(in, c.Params)
		if err != nil {
			return nil, err
		}
		ev.UserID = validUTF8(pretty.Ugly(v)) // a copy: v may be the body's own bytes
	}
	if r.site != nil {
		v, err := r.site.value(in, c.Params)
		if err != nil {
			return nil, err
		}
		ev.Site = string(validUTF8([]byte(siteText(v))))
	}
	return ev, nil
}
