package webhook

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strings"
)

// traceParentRE is a W3C Trace Context traceparent: version, trace id,
// parent (span) id, flags, in lower-case hex; later versions may append
// fields, which a version-00 reader ignores.
var traceParentRE = regexp.MustCompile(`^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$`)

// TraceParent returns a request's traceparent header value if it is a
// valid one (W3C Trace Context: not version ff, no all-zero ids), or "".
func TraceParent(v string) string {
	v = strings.TrimSpace(v)
	m := traceParentRE.FindStringSubmatch(v)
	switch {
	case m == nil, m[1] == "ff", m[1] == "00" && m[5] != "",
		m[2] == strings.Repeat("0", 32), m[3] == strings.Repeat("0", 16):
		return ""
	}
	return v
}

// ChildTraceParent returns the traceparent of a new span in the trace of
// parent (a valid traceparent): the same trace id and flags, a new
// random span id, version 00.
func ChildTraceParent(parent string) string {
	m := traceParentRE.FindStringSubmatch(parent)
	if m == nil {
		return ""
	}
	var id [8]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails on supported platforms
	return "00-" + m[2] + "-" + hex.EncodeToString(id[:]) + "-" + m[4]
}

// TraceID returns the trace id of a valid traceparent.
func TraceID(traceparent string) string {
	if m := traceParentRE.FindStringSubmatch(traceparent); m != nil {
		return m[2]
	}
	return ""
}
