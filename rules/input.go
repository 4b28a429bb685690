package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"

	"github.com/tidwall/gjson"
)

// Input is what one request/response gives to the rules. One Input is
// shared by all candidates of a request: parsed bodies are cached inside
// it, so it must be used from one goroutine.
type Input struct {
	Method      string
	Path        string
	Header      http.Header // request headers
	Query       url.Values
	Body        []byte     // request body as captured
	BodyErr     SkipReason // non-empty when the request body is unavailable, e.g. ReasonRequestBodyTooLarge
	Status      int
	RespHeader  http.Header
	RespBody    []byte     // response body, already decompressed
	RespBodyErr SkipReason // non-empty when unavailable, e.g. ReasonResponseBodyTooLarge
	Previous    []byte     // JSON snapshot of the resource before this request, or nil (null)

	req, resp, prev doc
	// The item of a rule with each (SetItem): its JSON and its paired
	// element of the answer, raw and parsed.
	hasItem              bool
	itemRaw, itemRespRaw []byte
	item, itemResp       doc
	celReqHeaders        any
	celRespHeaders       any
	celQuery             any
}

// doc caches one JSON document of an Input: its checked bytes and, for
// CEL, its decoded value.
type doc struct {
	parsed bool
	raw    []byte // valid JSON once parsed without error
	err    *SkipError

	decoded bool
	value   any // raw decoded for CEL (float64 numbers, map[string]any objects)
}

var nullJSON = []byte("null")

// SetPrevious sets Previous, forgetting what was parsed of the last one:
// rules with different state keys share an Input but not a snapshot.
func (in *Input) SetPrevious(snapshot []byte) {
	in.Previous = snapshot
	in.prev = doc{}
}

// requestBody returns the request body as JSON (form bodies converted), or
// why it is unavailable.
func (in *Input) requestBody() ([]byte, *SkipError) {
	d := &in.req
	if !d.parsed {
		d.parsed = true
		switch {
		case in.BodyErr != "":
			d.err = &SkipError{Reason: in.BodyErr}
		case isForm(in.Header):
			raw, err := formToJSON(in.Body)
			if err != nil {
				d.err = &SkipError{Reason: ReasonRequestBodyNotJSON, Err: err}
			}
			d.raw = raw
		default:
			if err := checkJSON(in.Body); err != nil {
				d.err = &SkipError{Reason: ReasonRequestBodyNotJSON, Err: err}
			} else {
				d.raw = in.Body
			}
		}
	}
	return d.raw, d.err
}

// responseBody returns the response body, which must be JSON, or why it is
// unavailable.
func (in *Input) responseBody() ([]byte, *SkipError) {
	d := &in.resp
	if !d.parsed {
		d.parsed = true
		switch {
		case in.RespBodyErr != "":
			d.err = &SkipError{Reason: in.RespBodyErr}
		default:
			if err := checkJSON(in.RespBody); err != nil {
				d.err = &SkipError{Reason: ReasonResponseBodyNotJSON, Err: err}
			} else {
				d.raw = in.RespBody
			}
		}
	}
	return d.raw, d.err
}

// previous returns the snapshot; a missing or unreadable one is null, as
// there is nothing better to say about a resource never seen.
func (in *Input) previous() []byte {
	d := &in.prev
	if !d.parsed {
		d.parsed = true
		d.raw = nullJSON
		if len(in.Previous) > 0 && gjson.ValidBytes(in.Previous) {
			d.raw = in.Previous
		}
	}
	return d.raw
}

// decode returns the cached CEL form of a JSON document.
func (d *doc) decode() (any, error) {
	if !d.decoded {
		d.decoded = true
		if err := json.Unmarshal(d.raw, &d.value); err != nil {
			return nil, fmt.Errorf("decoding JSON: %w", err)
		}
	}
	return d.value, nil
}

var errEmptyBody = errors.New("empty body")

// checkJSON refuses a body that is not JSON. gjson's validator takes the
// same documents as encoding/json's (compared by fuzzing) in a third of
// the time; the response body of every matching request goes through it.
func checkJSON(b []byte) error {
	if len(b) == 0 {
		return errEmptyBody
	}
	if !gjson.ValidBytes(b) {
		return errors.New("invalid JSON")
	}
	return nil
}

func isForm(h http.Header) bool {
	ct := h.Get("Content-Type")
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// formToJSON turns a urlencoded body into a JSON object: a key given once
// becomes a string, a key given several times an array of strings. Keys
// are sorted, as url.ParseQuery does not keep their order.
func formToJSON(body []byte) ([]byte, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("parsing form body: %w", err)
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		out = gjson.AppendJSONString(out, k)
		out = append(out, ':')
		vs := vals[k]
		if len(vs) == 1 {
			out = gjson.AppendJSONString(out, vs[0])
			continue
		}
		out = append(out, '[')
		for j, v := range vs {
			if j > 0 {
				out = append(out, ',')
			}
			out = gjson.AppendJSONString(out, v)
		}
		out = append(out, ']')
	}
	return append(out, '}'), nil
}

// firstValues flattens headers or query values to their first value, the
// form CEL sees them in.
func firstValues(m map[string][]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}
