package rules

import (
	"strings"
)

// errFlowMapping is yaml.v3's message when a flow mapping ({...}) is cut
// short; its commonest cause in a rule file is a {param} in an unquoted
// value: match: {method: PUT, path: /api/orders/{id}}.
const errFlowMapping = "did not find expected ',' or '}'"

// flowBraceHint looks, from line from (1-based) on, for a value with a
// brace inside a flow mapping or list, which YAML reads as the start of
// another mapping. It returns that value's line and a hint quoting it,
// or 0 and "" when it finds none.
//
// yaml.v3 reports such an error on the line before the mapping that holds
// it (its context mark, counted from 0), so the caller starts there.
func flowBraceHint(src []byte, from int) (int, string) {
	lines := strings.Split(string(src), "\n")
	depth, indent := 0, 0
	for i := max(from, 1) - 1; i < len(lines); i++ {
		text := lines[i]
		ind := len(text) - len(strings.TrimLeft(text, " "))
		if depth > 0 && ind <= indent && strings.TrimSpace(text) != "" {
			depth = 0 // a new block key: the flow collection was not closed
		}
		if depth == 0 {
			indent = ind
		}
		var quote byte
		for j := 0; j < len(text); j++ {
			c := text[j]
			switch {
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '"' || c == '\'':
				quote = c
			case c == '#' && (j == 0 || text[j-1] == ' '):
				j = len(text) // a comment
			case c == '{' || c == '[':
				if depth > 0 && c == '{' && j > 0 && !strings.ContainsRune(" \t,[{", rune(text[j-1])) {
					return i + 1, quoteHint(text, j)
				}
				depth++
			case c == '}' || c == ']':
				if depth > 0 {
					depth--
				}
			}
		}
	}
	return 0, ""
}

// quoteHint writes "key: \"value\"" for the plain value of text that has
// a brace at j: the value runs from after the ": " before it to the brace
// that closes the one at j, and what follows up to a , or space.
func quoteHint(text string, j int) string {
	start := strings.LastIndex(text[:j], ": ")
	if start < 0 {
		return "quote values that hold {braces} inside a { } mapping"
	}
	keyStart := strings.LastIndexAny(text[:start], " {,") + 1
	key := text[keyStart:start]
	end, depth := len(text), 0
	for k := j; k < len(text); k++ {
		switch text[k] {
		case '{':
			depth++
		case '}':
			depth--
		}
		if depth < 0 || (depth == 0 && (text[k] == ',' || text[k] == ' ')) {
			end = k
			break
		}
	}
	value := text[start+2 : end]
	return "inside a { } mapping, quote a value that holds {braces}: " + key + ": \"" + value + "\""
}
