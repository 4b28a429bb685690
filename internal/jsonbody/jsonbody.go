// Package jsonbody checks a JSON request body before it is decoded: a key
// given twice in one object (encoding/json would silently keep the last)
// and nesting deeper than MaxDepth are refused, naming where. It stands
// alone, with the standard library only, so that its fuzz test builds in
// seconds.
package jsonbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxDepth bounds how deeply a request body may nest objects and arrays; a
// subscription needs 3 (the body, filters, site_ids).
const MaxDepth = 32

// ErrSyntax is a body that is not one JSON value.
var ErrSyntax = errors.New("request body is not one JSON value")

// Error is a body refused for its shape: a key given twice or too deep a
// nesting.
type Error struct {
	Msg      string // the answer's message
	Field    string // the top-level field it is under, or ""
	FieldMsg string // what is wrong with that field
}

func (e *Error) Error() string { return e.Msg }

// frame is an object or array being read.
type frame struct {
	object  bool
	keys    map[string]bool // the keys read so far, in an object
	wantKey bool            // in an object, the next token is a key
	key     string          // in an object, the current key
	values  int             // in an array, the elements begun so far
}

// Check reads data as a token stream and refuses duplicate keys in any
// object, and nesting deeper than MaxDepth, with an *Error. A syntax error,
// or anything after the first value, is ErrSyntax. It does not decode the
// values: callers unmarshal data once it passes.
func Check(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers too large for a float64 are still valid JSON
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return ErrSyntax // EOF included: the value is unfinished
		}
		if top := last(stack); top != nil && top.object && top.wantKey {
			if key, ok := tok.(string); ok {
				if top.keys[key] {
					return duplicate(stack, key)
				}
				top.keys[key], top.key, top.wantKey = true, key, false
				continue
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			valueRead(last(stack))
			if len(stack) == MaxDepth {
				return tooDeep(stack)
			}
			stack = append(stack, &frame{object: tok == json.Delim('{'), keys: map[string]bool{}, wantKey: true})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		default:
			valueRead(last(stack))
		}
		if len(stack) == 0 {
			break
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return ErrSyntax
	}
	return nil
}

func last(stack []*frame) *frame {
	if len(stack) == 0 {
		return nil
	}
	return stack[len(stack)-1]
}

// valueRead moves the container f (nil at the top level) past a value.
func valueRead(f *frame) {
	switch {
	case f == nil:
	case f.object:
		f.wantKey = true
	default:
		f.values++
	}
}

// location names where the innermost frame of stack is, like
// filters.site_ids[2], and the top-level field it is under.
func location(stack []*frame) (path, field string) {
	var b strings.Builder
	for i, f := range stack[:len(stack)-1] { // the innermost has no current member yet
		switch {
		case f.object && i == 0:
			field = f.key
			b.WriteString(f.key)
		case f.object:
			b.WriteString("." + f.key)
		default:
			b.WriteString("[" + strconv.Itoa(f.values-1) + "]")
		}
	}
	return b.String(), field
}

func duplicate(stack []*frame, key string) error {
	path, field := location(stack)
	if len(stack) == 1 {
		return &Error{
			Msg:   fmt.Sprintf("request body has the key %q more than once", key),
			Field: key, FieldMsg: "given more than once",
		}
	}
	what := fmt.Sprintf("the key %q appears more than once", key)
	if path != "" {
		what += " in " + path
	}
	return &Error{Msg: "request body: " + what, Field: field, FieldMsg: what}
}

func tooDeep(stack []*frame) error {
	stack = append(stack, &frame{}) // location names the frame that would open
	_, field := location(stack)
	what := fmt.Sprintf("nested too deep: more than %d levels of objects and arrays", MaxDepth)
	return &Error{Msg: "request body is " + what, Field: field, FieldMsg: what}
}
