package crm

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// form reads the fields of a JSON object body with Pydantic's rules and
// collects every error, so that one 422 answer lists them all. On create,
// required fields must be there; on update (PUT is partial, like an
// exclude_unset Pydantic model), absent fields are left unchanged.
type form struct {
	raw    map[string]json.RawMessage
	create bool
	errs   []FieldError
}

// field says how a field is read.
type field struct {
	required bool // on create
	nullable bool // null is accepted (and clears the value)
	max      int  // strings: maximum length in characters (0: none)
}

func (f *form) fail(key, msg, typ string) {
	f.errs = append(f.errs, FieldError{Loc: []any{"body", key}, Msg: msg, Type: typ})
}

// allow rejects the keys not listed.
func (f *form) allow(keys ...string) {
	var extra []string
	for k := range f.raw {
		if !slices.Contains(keys, k) {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	for _, k := range extra {
		f.fail(k, "extra fields not permitted", "value_error.extra")
	}
}

// get returns the raw value of key; present is false when it is absent
// (a missing required field is recorded), isNull when it is null (an
// error unless the field is nullable).
func (f *form) get(key string, fd field) (raw json.RawMessage, present, isNull bool) {
	raw, present = f.raw[key]
	if !present {
		if f.create && fd.required {
			f.fail(key, "field required", "value_error.missing")
		}
		return nil, false, false
	}
	if string(raw) == "null" {
		if !fd.nullable {
			f.fail(key, "none is not an allowed value", "type_error.none.not_allowed")
		}
		return nil, true, true
	}
	return raw, true, false
}

// str reads a string, trimmed; a required string must not be empty. It
// returns (nil, true) for null, (nil, false) when absent or invalid.
func (f *form) str(key string, fd field) (*string, bool) {
	raw, present, isNull := f.get(key, fd)
	if !present || isNull {
		return nil, present && isNull && fd.nullable
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		f.fail(key, "str type expected", "type_error.str")
		return nil, false
	}
	s = strings.TrimSpace(s)
	switch n := len([]rune(s)); {
	case fd.required && n == 0:
		f.fail(key, "ensure this value has at least 1 characters", "value_error.any_str.min_length")
		return nil, false
	case fd.max > 0 && n > fd.max:
		f.fail(key, fmt.Sprintf("ensure this value has at most %d characters", fd.max), "value_error.any_str.max_length")
		return nil, false
	}
	return &s, true
}

// enum reads a string that must be one of allowed.
func (f *form) enum(key string, fd field, allowed []string) (*string, bool) {
	s, ok := f.str(key, fd)
	if s != nil && !slices.Contains(allowed, *s) {
		f.fail(key, "value is not a valid enumeration member; permitted: '"+strings.Join(allowed, "', '")+"'", "type_error.enum")
		return nil, false
	}
	return s, ok
}

// code reads an upper-cased code of lo to hi ASCII letters (country,
// language).
func (f *form) code(key string, fd field, lo, hi int) (*string, bool) {
	s, ok := f.str(key, fd)
	if s == nil {
		return nil, ok
	}
	up := strings.ToUpper(*s)
	valid := len(up) >= lo && len(up) <= hi
	for _, c := range up {
		valid = valid && c >= 'A' && c <= 'Z'
	}
	if !valid {
		f.fail(key, fmt.Sprintf("string does not match regex \"^[A-Za-z]{%d,%d}$\"", lo, hi), "value_error.str.regex")
		return nil, false
	}
	return &up, true
}

// email reads an email address, lower-cased.
func (f *form) email(key string, fd field) (*string, bool) {
	s, ok := f.str(key, fd)
	if s == nil || *s == "" {
		return s, ok
	}
	at := strings.IndexByte(*s, '@')
	if at <= 0 || at == len(*s)-1 || strings.ContainsAny(*s, " \t") {
		f.fail(key, "value is not a valid email address", "value_error.email")
		return nil, false
	}
	low := strings.ToLower(*s)
	return &low, true
}

// date reads a "2025-10-18" date.
func (f *form) date(key string, fd field) (*string, bool) {
	raw, present, isNull := f.get(key, fd)
	if !present || isNull {
		return nil, present && isNull && fd.nullable
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		f.fail(key, "invalid date format", "value_error.date")
		return nil, false
	}
	if _, err := time.Parse(dateLayout, s); err != nil {
		f.fail(key, "invalid date format", "value_error.date")
		return nil, false
	}
	return &s, true
}

// id reads a positive integer (a reference to another record).
func (f *form) id(key string, fd field) (*int, bool) {
	raw, present, isNull := f.get(key, fd)
	if !present || isNull {
		return nil, present && isNull && fd.nullable
	}
	var n int
	if json.Unmarshal(raw, &n) != nil || n <= 0 {
		f.fail(key, "value is not a valid integer", "type_error.integer")
		return nil, false
	}
	return &n, true
}

// num reads a number that must not be negative.
func (f *form) num(key string, fd field) (*float64, bool) {
	raw, present, isNull := f.get(key, fd)
	if !present || isNull {
		return nil, present && isNull && fd.nullable
	}
	var x float64
	if json.Unmarshal(raw, &x) != nil {
		f.fail(key, "value is not a valid float", "type_error.float")
		return nil, false
	}
	if x < 0 {
		f.fail(key, "ensure this value is greater than or equal to 0", "value_error.number.not_ge")
		return nil, false
	}
	return &x, true
}

// boolean reads true or false.
func (f *form) boolean(key string, fd field) (*bool, bool) {
	raw, present, isNull := f.get(key, fd)
	if !present || isNull {
		return nil, false
	}
	var b bool
	if json.Unmarshal(raw, &b) != nil {
		f.fail(key, "value could not be parsed to a boolean", "type_error.bool")
		return nil, false
	}
	return &b, true
}

// setStr applies a nullable string field read by str (or enum, code,
// email, date): v is the value, null clears it. It reports whether the
// field was given.
func setStr(dst **string, v *string, given bool) bool {
	if v != nil {
		*dst = v
		return true
	}
	if given {
		*dst = nil
		return true
	}
	return false
}

// setID is setStr for references.
func setID(dst **int, v *int, given bool) bool {
	if v != nil {
		*dst = v
		return true
	}
	if given {
		*dst = nil
		return true
	}
	return false
}
