package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Spec is one rule as written, in a YAML file or in the handler's JSON
// config (`events` array). The JSON tags are the YAML keys.
type Spec struct {
	Name        string     `json:"name,omitempty"`
	Description string     `json:"description,omitempty"`
	Match       MatchSpec  `json:"match"`
	When        string     `json:"when,omitempty"`
	Data        *Data      `json:"data,omitempty"`
	Redact      []string   `json:"redact,omitempty"`
	Site        string     `json:"site,omitempty"`
	UserID      string     `json:"user_id,omitempty"`
	State       *StateSpec `json:"state,omitempty"`
	Each        *EachSpec  `json:"each,omitempty"`
	Shadow      bool       `json:"shadow,omitempty"`
	// OrderKey is a template naming the resource whose events ordered
	// subscriptions receive in order ("order:{path.id}"); without it, the
	// state key is.
	OrderKey string `json:"order_key,omitempty"`
	Pos      Pos    `json:"-"`
}

// MatchSpec says which requests a rule looks at.
type MatchSpec struct {
	Method StringList `json:"method,omitempty"` // one method or a list; empty = any method
	Path   string     `json:"path"`
	Status StringList `json:"status,omitempty"` // codes "201" or classes "2xx"; empty = 2xx
}

// StringList is a scalar or a list in YAML/JSON; numbers are accepted and
// kept as their decimal text (status: 201).
type StringList []string

// UnmarshalJSON accepts a string, a number or an array of those.
func (l *StringList) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("string list: %w", err)
	}
	one := func(v any) (string, error) {
		switch x := v.(type) {
		case string:
			return x, nil
		case json.Number:
			return x.String(), nil
		}
		return "", fmt.Errorf("string list: want a string or a number, got %s", jsonKind(v))
	}
	switch x := v.(type) {
	case nil:
		*l = nil
	case []any:
		out := make(StringList, 0, len(x))
		for _, e := range x {
			s, err := one(e)
			if err != nil {
				return err
			}
			out = append(out, s)
		}
		*l = out
	default:
		s, err := one(x)
		if err != nil {
			return err
		}
		*l = StringList{s}
	}
	return nil
}

// jsonKind names the JSON type of a value decoded into any, for messages.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// Pos says where a Spec was written. File is "" for inline/JSON rules;
// their errors are then prefixed "events[i]" (the index in the slice given
// to Compile).
type Pos struct {
	File   string
	Line   int            // line of the rule's mapping
	Fields map[string]int // line of each key path: "name", "match.status", "data.orderId", ...
}

// line returns the line of the key path field, else of its closest
// enclosing key ("state.snapshot" for "state.snapshot.source"), else of
// the rule.
func (p Pos) line(field string) int {
	for field != "" {
		if l, ok := p.Fields[field]; ok && l > 0 {
			return l
		}
		i := strings.LastIndexByte(field, '.')
		if i < 0 {
			break
		}
		field = field[:i]
	}
	return p.Line
}

// Data is the `data` value: either a source (a string such as
// "response.body") or an ordered object of fields (nested objects allowed).
// A Data with no Source is an object, possibly empty.
type Data struct {
	Source string
	Fields []DataField
}

// DataField is one named field of an object Data.
type DataField struct {
	Name  string
	Value Data
}

// MarshalJSON writes a source as a JSON string and fields as an object in
// their written order.
func (d Data) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	if err := d.appendJSON(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (d Data) appendJSON(buf *bytes.Buffer) error {
	if d.Source != "" {
		b, err := json.Marshal(d.Source)
		if err != nil {
			return fmt.Errorf("data source: %w", err)
		}
		buf.Write(b)
		return nil
	}
	buf.WriteByte('{')
	for i, f := range d.Fields {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(f.Name)
		if err != nil {
			return fmt.Errorf("data field name: %w", err)
		}
		buf.Write(k)
		buf.WriteByte(':')
		if err := f.Value.appendJSON(buf); err != nil {
			return err
		}
	}
	buf.WriteByte('}')
	return nil
}

// UnmarshalJSON reads a string as a source and an object as fields,
// keeping the key order; duplicate keys are an error.
func (d *Data) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	v, err := decodeData(dec, 0)
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	*d = v
	return nil
}

// maxDataDepth bounds the nesting of data objects, so hostile input cannot
// exhaust the stack.
const maxDataDepth = 64

func decodeData(dec *json.Decoder, depth int) (Data, error) {
	if depth > maxDataDepth {
		return Data{}, errors.New("objects nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return Data{}, err
	}
	switch t := tok.(type) {
	case string:
		return Data{Source: t}, nil
	case json.Delim:
		if t != '{' {
			return Data{}, fmt.Errorf("want a source string or an object, got %q", t.String())
		}
	default:
		return Data{}, fmt.Errorf("want a source string or an object, got %v", tok)
	}
	d := Data{Fields: []DataField{}}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Data{}, err
		}
		name, _ := tok.(string)
		if seen[name] {
			return Data{}, fmt.Errorf("duplicate key %q", name)
		}
		seen[name] = true
		v, err := decodeData(dec, depth+1)
		if err != nil {
			return Data{}, fmt.Errorf("%s: %w", name, err)
		}
		d.Fields = append(d.Fields, DataField{Name: name, Value: v})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return Data{}, err
	}
	return d, nil
}
