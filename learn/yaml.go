package learn

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode"
)

// commentWidth is where comments wrap.
const commentWidth = 78

// yamlWriter writes the proposal line by line: the layout (flow match,
// block state and data, comments above each rule) is the repository's
// rule files' own, which a generic encoder would not keep.
type yamlWriter struct {
	b bytes.Buffer
}

func (w *yamlWriter) line(indent int, s string) {
	w.b.WriteString(strings.Repeat(" ", indent))
	w.b.WriteString(s)
	w.b.WriteByte('\n')
}

func (w *yamlWriter) blank() { w.b.WriteByte('\n') }

// comment writes text as # lines, wrapped at commentWidth. The text may
// come from the traffic (paths, values): cleanComment keeps it on its
// lines, so that it cannot end the comment.
func (w *yamlWriter) comment(indent int, text string) {
	text = cleanComment(text)
	width := max(commentWidth-indent-2, 30)
	var cur strings.Builder
	flush := func() {
		w.line(indent, strings.TrimRight("# "+cur.String(), " "))
		cur.Reset()
	}
	for _, word := range strings.Split(text, " ") {
		if cur.Len() > 0 && cur.Len()+1+len(word) > width {
			flush()
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(word)
	}
	flush()
}

// commentLine writes one # line as it is (a table row), cleaned.
func (w *yamlWriter) commentLine(indent int, text string) {
	w.line(indent, strings.TrimRight("# "+cleanComment(text), " "))
}

// cleanComment replaces what could break a comment line (control
// characters, YAML's other line breaks) and bounds its length.
func cleanComment(s string) string {
	const maxComment = 2000
	if len(s) > maxComment {
		s = s[:maxComment] + "…"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '\ufeff' || r == unicode.ReplacementChar {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

// scalar writes s as a YAML scalar: plain when it is plainly text, else
// double-quoted (JSON's quoting is valid YAML).
func scalar(s string) string {
	if isPlain(s) {
		return s
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// isPlain reports whether s reads back as the same string unquoted, in
// block and flow context alike: letters, digits, spaces and _ . / - ' ! =
// < > only, starting with a letter, digit, _ or /, and not a word YAML
// reads as a boolean, null or number.
func isPlain(s string) bool {
	if s == "" || s != strings.TrimSpace(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '/':
		case i > 0 && strings.IndexByte(" .-'!=<>", c) >= 0:
		default:
			return false
		}
	}
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~":
		return false
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return false
	}
	if _, err := strconv.ParseInt(s, 0, 64); err == nil {
		return false // 0x1F, 0o17, 0b101
	}
	return !isDigits(strings.NewReplacer("_", "", ".", "", "-", "").Replace(s))
}

// flowList writes [a, b] of scalars.
func flowList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = scalar(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
