package rules

import (
	"errors"
	"fmt"
	"net/textproto"
	"strings"

	"github.com/tidwall/gjson"
)

// srcKind is where a source reads its value from.
type srcKind uint8

const (
	srcRequestMethod srcKind = iota + 1 // zero is no source
	srcRequestPath
	srcRequestHeader
	srcRequestQuery
	srcRequestBody
	srcResponseStatus
	srcResponseHeader
	srcResponseBody
	srcParam
	srcPrevious
	srcItem         // the element of a rule with each
	srcResponseItem // its paired element of each.response
)

// source is a compiled source such as "response.body.items.#.sku".
type source struct {
	kind srcKind
	name string // header (canonical), query or param name
	path string // gjson path inside a JSON document; "" = the whole document
}

var errUnknownSource = errors.New("unknown source")

// compileSource parses a source. pp is the rule's path pattern, so that
// path.<param> can be checked against its {param}s.
func compileSource(raw string, pp *pathPattern) (source, error) {
	json := func(kind srcKind, prefix string) (source, error) {
		if raw == prefix {
			return source{kind: kind}, nil
		}
		path := raw[len(prefix)+1:]
		if err := checkGJSONPath(path); err != nil {
			return source{}, fmt.Errorf("source %q: %w", raw, err)
		}
		return source{kind: kind, path: path}, nil
	}
	named := func(kind srcKind, prefix string) (source, error) {
		name := raw[len(prefix):]
		if name == "" {
			return source{}, fmt.Errorf("source %q: missing name after %q", raw, prefix)
		}
		if kind == srcRequestHeader || kind == srcResponseHeader {
			if !isToken(name) {
				return source{}, fmt.Errorf("source %q: %q is not a header name", raw, name)
			}
			name = textproto.CanonicalMIMEHeaderKey(name)
		}
		return source{kind: kind, name: name}, nil
	}
	switch {
	case raw == "request.method":
		return source{kind: srcRequestMethod}, nil
	case raw == "request.path":
		return source{kind: srcRequestPath}, nil
	case strings.HasPrefix(raw, "request.headers."):
		return named(srcRequestHeader, "request.headers.")
	case strings.HasPrefix(raw, "request.query."):
		return named(srcRequestQuery, "request.query.")
	case raw == "request.body" || strings.HasPrefix(raw, "request.body."):
		return json(srcRequestBody, "request.body")
	case raw == "response.item" || strings.HasPrefix(raw, "response.item."):
		return json(srcResponseItem, "response.item")
	case raw == "item" || strings.HasPrefix(raw, "item."):
		return json(srcItem, "item")
	case raw == "response.status":
		return source{kind: srcResponseStatus}, nil
	case strings.HasPrefix(raw, "response.headers."):
		return named(srcResponseHeader, "response.headers.")
	case raw == "response.body" || strings.HasPrefix(raw, "response.body."):
		return json(srcResponseBody, "response.body")
	case strings.HasPrefix(raw, "path."):
		name := raw[len("path."):]
		if pp == nil || !pp.hasParam(name) {
			return source{}, fmt.Errorf("source %q: the path pattern has no {%s}", raw, name)
		}
		return source{kind: srcParam, name: name}, nil
	case raw == "previous" || strings.HasPrefix(raw, "previous."):
		return json(srcPrevious, "previous")
	}
	return source{}, fmt.Errorf("%w %q (want request.*, response.*, path.<param>, previous or item)", errUnknownSource, raw)
}

// isToken reports whether s is an HTTP token (RFC 9110), as methods and
// header names must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

var errBadGJSON = errors.New("bad gjson path")

// checkGJSONPath catches the mistakes gjson would silently turn into "no
// value": unbalanced brackets or quotes, empty components ("a..b", a
// trailing "."), and unknown @modifiers. gjson has no validator of its own.
func checkGJSONPath(path string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w %q: %s", errBadGJSON, path, why)
	}
	if path == "" {
		return bad("empty path")
	}
	var stack []byte
	inQuote := false
	compStart := 0
	checkComp := func(end int) error {
		comp := path[compStart:end]
		if comp == "" {
			return bad("empty component")
		}
		if comp[0] == '@' {
			name := comp[1:]
			if i := strings.IndexByte(name, ':'); i >= 0 {
				name = name[:i]
			}
			if !gjson.ModifierExists(name, nil) {
				return bad(fmt.Sprintf("unknown modifier @%s", name))
			}
		}
		return nil
	}
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c == '\\' {
			if i+1 >= len(path) {
				return bad("ends with \\")
			}
			i++
			continue
		}
		if inQuote {
			if c == '"' {
				inQuote = false
			}
			continue
		}
		switch c {
		case '"':
			inQuote = true
		case '(', '[', '{':
			stack = append(stack, c)
		case ')', ']', '}':
			open := map[byte]byte{')': '(', ']': '[', '}': '{'}[c]
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return bad(fmt.Sprintf("unbalanced %q", c))
			}
			stack = stack[:len(stack)-1]
		case '.', '|':
			if len(stack) == 0 {
				if err := checkComp(i); err != nil {
					return err
				}
				compStart = i + 1
			}
		}
	}
	if inQuote {
		return bad("unterminated quote")
	}
	if len(stack) > 0 {
		return bad(fmt.Sprintf("unclosed %q", stack[len(stack)-1]))
	}
	return checkComp(len(path))
}
