package learn

import (
	"strconv"
	"strings"
)

// pathTemplate is a request path with its id segments replaced by
// {params}: /api/orders/6b04…/status is /api/orders/{id}/status.
type pathTemplate struct {
	text   string   // the template, as a rule's match.path writes it
	segs   []string // its segments; params as "{id}", "{id2}"…
	values []string // the path's values of the params, in order
}

// paramName names the n-th id of a path (from 0): the first is {id}, the
// ones nested under it {id2}, {id3}…, counted from the left, so that a
// route and its sub-routes (/orders/{id}, /orders/{id}/status) agree on
// the name of the same id.
func paramName(n int) string {
	if n == 0 {
		return "id"
	}
	return "id" + strconv.Itoa(n+1)
}

// templatePath makes the template of path, or says why it has none.
func templatePath(path string, o *Options) (pathTemplate, string) {
	switch {
	case path == "" || path[0] != '/':
		return pathTemplate{}, "bad_path"
	case len(path) > o.MaxPathBytes:
		return pathTemplate{}, "path_too_long"
	case strings.Count(path, "/") > o.MaxSegments:
		return pathTemplate{}, "too_many_segments"
	}
	var t pathTemplate
	var b strings.Builder
	b.Grow(len(path))
	for seg := range strings.SplitSeq(path[1:], "/") {
		b.WriteByte('/')
		// A segment that reads as a {param} is one: a template's braced
		// segments are all params.
		if isIDSegment(seg) || isParam(seg) {
			name := "{" + paramName(len(t.values)) + "}"
			t.values = append(t.values, seg)
			t.segs = append(t.segs, name)
			b.WriteString(name)
			continue
		}
		t.segs = append(t.segs, seg)
		b.WriteString(seg)
	}
	t.text = b.String()
	return t, ""
}

// isParam reports whether a template segment is a {param}.
func isParam(seg string) bool {
	return len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}'
}

// lastParam is the index of the template's last {param} segment, or -1.
func lastParam(segs []string) int {
	for i := len(segs) - 1; i >= 0; i-- {
		if isParam(segs[i]) {
			return i
		}
	}
	return -1
}

// joinSegs writes segments back as a path.
func joinSegs(segs []string) string {
	return "/" + strings.Join(segs, "/")
}

// safeLiteral reports whether a literal segment can go in a rule's
// match.path and in a prefetch request as it is: the unreserved and
// sub-delimiter characters of RFC 3986, without the * and {} the pattern
// syntax uses, nor %, which would be read as an escape.
func safeLiteral(seg string) bool {
	if seg == "" {
		return false
	}
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-._~!$&'()+,;=:@", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// proposable reports whether a template can be a rule's match.path: every
// literal segment is safe (a trailing empty one, a path ending in /, is
// kept as the app's own route).
func proposable(segs []string) bool {
	for i, s := range segs {
		if isParam(s) || s == "" && i == len(segs)-1 && i > 0 {
			continue
		}
		if !safeLiteral(s) {
			return false
		}
	}
	return true
}

// isPrefixSegment reports whether a literal is an API prefix rather than a
// collection: api, rest, and versions (v1, v2.1).
func isPrefixSegment(s string) bool {
	switch strings.ToLower(s) {
	case "api", "apis", "rest", "json":
		return true
	}
	if len(s) < 2 || s[0] != 'v' && s[0] != 'V' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return true
}

// firstCollection is the first literal segment that is not an API prefix,
// or "".
func firstCollection(segs []string) string {
	for _, s := range segs {
		if !isParam(s) && s != "" && !isPrefixSegment(s) {
			return s
		}
	}
	return ""
}
