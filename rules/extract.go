package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// value returns the source's value as JSON: null when missing; method,
// path, headers, query values and params as strings; the status as a
// number. It fails only when a needed body is unavailable or not JSON.
func (s *source) value(in *Input, params map[string]string) ([]byte, *SkipError) {
	switch s.kind {
	case srcRequestMethod:
		return jsonString(in.Method), nil
	case srcRequestPath:
		return jsonString(in.Path), nil
	case srcRequestHeader:
		return firstString(in.Header[s.name]), nil
	case srcRequestQuery:
		return firstString(in.Query[s.name]), nil
	case srcRequestBody:
		raw, err := in.requestBody()
		if err != nil {
			return nil, err
		}
		return extract(raw, s.path), nil
	case srcResponseStatus:
		return strconv.AppendInt(nil, int64(in.Status), 10), nil
	case srcResponseHeader:
		return firstString(in.RespHeader[s.name]), nil
	case srcResponseBody:
		raw, err := in.responseBody()
		if err != nil {
			return nil, err
		}
		return extract(raw, s.path), nil
	case srcParam:
		v, ok := params[s.name]
		if !ok {
			return nullJSON, nil
		}
		return jsonString(v), nil
	case srcPrevious:
		return extract(in.previous(), s.path), nil
	case srcItem:
		return extract(in.itemDoc(false).raw, s.path), nil
	case srcResponseItem:
		return extract(in.itemDoc(true).raw, s.path), nil
	}
	return nullJSON, nil
}

func jsonString(s string) []byte { return gjson.AppendJSONString(nil, s) }

func firstString(vs []string) []byte {
	if len(vs) == 0 {
		return nullJSON
	}
	return jsonString(vs[0])
}

// extract applies a gjson path to a valid JSON document; "" is the whole
// document. A missing value is null. Modifiers can build new JSON, so a
// result is checked before it is trusted.
func extract(doc []byte, path string) []byte {
	if path == "" {
		return doc
	}
	r := gjson.GetBytes(doc, path)
	if r.Raw == "" || !gjson.Valid(r.Raw) {
		return nullJSON
	}
	return []byte(r.Raw)
}

// validUTF8 returns b with each byte that is not part of valid UTF-8
// replaced by U+FFFD, as encoding/json decodes it. A body's JSON is
// checked for its syntax only, so its strings may hold such bytes; in JSON
// they can only be inside strings (the rest is ASCII), so only string
// contents change. b is returned as it is when it is valid.
func validUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return out
}

// needs reports which bodies a source reads (response.item is an element
// of the response body).
func (s *source) needs() (req, resp bool) {
	return s.kind == srcRequestBody, s.kind == srcResponseBody || s.kind == srcResponseItem
}

// dataTmpl is a compiled Data: a source or an ordered list of fields.
type dataTmpl struct {
	src    *source
	fields []fieldTmpl
}

type fieldTmpl struct {
	key []byte // the name as a JSON string, ready to write
	val dataTmpl
}

// compileData compiles d; at is the key path for error lines ("data",
// "data.customer"), reported through errf.
func compileData(d *Data, at string, pp *pathPattern, errf func(at string, err error)) dataTmpl {
	if d.Source != "" || d.Fields == nil {
		s, err := compileSource(d.Source, pp)
		if d.Source == "" {
			err = errors.New("empty source")
		}
		if err != nil {
			errf(at, err)
			return dataTmpl{}
		}
		return dataTmpl{src: &s}
	}
	t := dataTmpl{fields: make([]fieldTmpl, 0, len(d.Fields))}
	seen := make(map[string]bool, len(d.Fields))
	for _, f := range d.Fields {
		sub := at + "." + f.Name
		if seen[f.Name] {
			errf(sub, errors.New("duplicate field"))
			continue
		}
		seen[f.Name] = true
		t.fields = append(t.fields, fieldTmpl{
			key: jsonString(f.Name),
			val: compileData(&f.Value, sub, pp, errf),
		})
	}
	return t
}

// appendJSON writes the value of t to buf.
func (t *dataTmpl) appendJSON(buf *bytes.Buffer, in *Input, params map[string]string) *SkipError {
	if t.src != nil {
		v, err := t.src.value(in, params)
		if err != nil {
			return err
		}
		buf.Write(v)
		return nil
	}
	buf.WriteByte('{')
	for i := range t.fields {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(t.fields[i].key)
		buf.WriteByte(':')
		if err := t.fields[i].val.appendJSON(buf, in, params); err != nil {
			return err
		}
	}
	buf.WriteByte('}')
	return nil
}

// walk calls fn for every source in t.
func (t *dataTmpl) walk(fn func(*source)) {
	if t.src != nil {
		fn(t.src)
	}
	for i := range t.fields {
		t.fields[i].val.walk(fn)
	}
}

// siteText renders a value for Event.Site: strings unquoted, null as "",
// anything else as its JSON text.
func siteText(raw []byte) string {
	r := gjson.ParseBytes(raw)
	switch r.Type {
	case gjson.Null:
		return ""
	case gjson.String:
		return r.Str
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return string(raw)
	}
	return buf.String()
}
