package receiver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"unicode"
)

// missing is printed for a value that is absent.
const missing = "-"

// verifiedLine formats the summary of a verified delivery (see the package
// documentation for the format), without the newline.
func verifiedLine(scheme string, h http.Header, body []byte) string {
	env := parseEnvelope(body)
	event := firstNonEmpty(env.str("event"), h.Get("X-Webhook-Event"))
	id := firstNonEmpty(env.str("id"), h.Get("Webhook-Id"))

	var b strings.Builder
	b.WriteString("verified " + scheme + " " + token(event))
	b.WriteString(" id=" + token(id))
	b.WriteString(" attempt=" + token(h.Get("X-Webhook-Attempt")))
	b.WriteString(" sub=" + token(h.Get("X-Webhook-Id")))
	if uid, ok := env["user_id"]; ok {
		b.WriteString(" user_id=" + token(scalar(uid)))
	}
	b.WriteString(" data=" + compact(env["data"]))
	return b.String()
}

// rejectedLine formats the summary of a rejected delivery, without the
// newline.
func rejectedLine(reason string) string {
	return "REJECTED " + oneLine(reason)
}

// envelope is the delivery body's top-level object, field by field; it is
// empty when the body is not a JSON object.
type envelope map[string]json.RawMessage

// parseEnvelope decodes body leniently: a body that is not a JSON object
// gives an empty envelope.
func parseEnvelope(body []byte) envelope {
	var env envelope
	if json.Unmarshal(body, &env) != nil {
		return nil
	}
	return env
}

// str returns the field key if it is a JSON string, else "".
func (e envelope) str(key string) string {
	var s string
	if json.Unmarshal(e[key], &s) != nil {
		return ""
	}
	return s
}

// scalar returns raw as text: a JSON string unquoted, anything else as
// compact JSON.
func scalar(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return compact(raw)
}

// compact returns raw as compact JSON, or "-" when absent or invalid.
// Compact JSON never holds a raw newline: those inside strings are escaped.
func compact(raw json.RawMessage) string {
	var buf bytes.Buffer
	if len(raw) == 0 || json.Compact(&buf, raw) != nil {
		return missing
	}
	return buf.String()
}

// token returns s ready to be one space-separated field: "-" when empty,
// Go-quoted when it holds spaces, quotes or non-printable characters.
func token(s string) string {
	if s == "" {
		return missing
	}
	if strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || r == '"' || !unicode.IsPrint(r)
	}) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

// oneLine replaces line breaks in s so that a reason prints on one line.
func oneLine(s string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}

// firstNonEmpty returns the first of vs that is not "".
func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
