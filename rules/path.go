package rules

import (
	"errors"
	"fmt"
	"strings"
)

// segKind is what one segment of a path pattern matches.
type segKind uint8

const (
	segLiteral segKind = iota // exactly its text
	segParam                  // one non-empty segment, captured
	segRest                   // a final "*": the rest of the path, possibly empty
)

type segment struct {
	kind segKind
	text string // literal text, or the param name
}

// pathPattern is a compiled match.path.
type pathPattern struct {
	raw    string
	segs   []segment
	params []string // names of the {param} segments, in order
}

var errBadPath = errors.New("bad path pattern")

// compilePath parses a pattern such as /api/orders/{id}/status or /api/*.
func compilePath(raw string) (*pathPattern, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w %q: %s", errBadPath, raw, why)
	}
	if raw == "" {
		return nil, errors.New("missing match.path")
	}
	if raw[0] != '/' {
		return nil, bad("must start with /")
	}
	p := &pathPattern{raw: raw}
	parts := strings.Split(raw[1:], "/")
	for i, part := range parts {
		last := i == len(parts)-1
		switch {
		case part == "*":
			if !last {
				return nil, bad("* is only allowed as the last segment")
			}
			p.segs = append(p.segs, segment{kind: segRest})
		case strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}"):
			name := part[1 : len(part)-1]
			if !isIdent(name) {
				return nil, bad(fmt.Sprintf("parameter %q must be a name (letters, digits, _)", name))
			}
			for _, prev := range p.params {
				if prev == name {
					return nil, bad(fmt.Sprintf("parameter {%s} appears twice", name))
				}
			}
			p.params = append(p.params, name)
			p.segs = append(p.segs, segment{kind: segParam, text: name})
		case strings.ContainsAny(part, "{}*"):
			return nil, bad(fmt.Sprintf("segment %q: {param} and * must be whole segments", part))
		case part == "" && !last:
			return nil, bad("empty segment (//)")
		case strings.ContainsAny(part, "?#"):
			return nil, bad("a pattern matches the path only, without ? or #")
		default:
			// A trailing empty segment is a pattern ending in "/": it
			// matches only paths ending in "/".
			p.segs = append(p.segs, segment{kind: segLiteral, text: part})
		}
	}
	return p, nil
}

// isIdent reports whether s is a name: a letter or _ then letters, digits, _.
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// match reports whether path matches. It walks path segment by segment
// without splitting it, so it does not allocate. When params is non-nil
// the {param} captures are stored in it.
func (p *pathPattern) match(path string, params map[string]string) bool {
	i := 0 // index of the '/' before the next segment
	for _, seg := range p.segs {
		if i >= len(path) || path[i] != '/' {
			return false
		}
		start := i + 1
		if seg.kind == segRest {
			return true
		}
		end := strings.IndexByte(path[start:], '/')
		if end < 0 {
			end = len(path)
		} else {
			end += start
		}
		text := path[start:end]
		switch seg.kind { //nolint:exhaustive // segRest returned above
		case segLiteral:
			if text != seg.text {
				return false
			}
		case segParam:
			if text == "" {
				return false
			}
			if params != nil {
				params[seg.text] = text
			}
		}
		i = end
	}
	return i == len(path)
}

// hasParam reports whether name is a {param} of the pattern.
func (p *pathPattern) hasParam(name string) bool {
	for _, n := range p.params {
		if n == name {
			return true
		}
	}
	return false
}
