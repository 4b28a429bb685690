package learn

import (
	"strings"
	"unicode"
)

// words splits a field or collection name into lower-case words at _, -,
// . and camelCase boundaries: passwordHash, password_hash and
// PasswordHash are all [password hash].
func words(name string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(name)
	for i, r := range rs {
		switch {
		case r == '_' || r == '-' || r == '.' || r == ' ' || r == '$':
			flush()
		case unicode.IsUpper(r) && i > 0 && (unicode.IsLower(rs[i-1]) ||
			i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1])):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	return out
}

// style is how an app names its JSON fields.
type style uint8

const (
	camelCase style = iota // orderNumber
	snakeCase              // order_number
)

func (s style) String() string {
	if s == snakeCase {
		return "snake_case"
	}
	return "camelCase"
}

// styleOf guesses the naming style from field names: snake_case when more
// names have an inner underscore than a lower-to-upper change. A leading
// underscore (_id) says nothing.
func styleOf(names []string) style {
	snake, camel := 0, 0
	for _, n := range names {
		n = strings.TrimLeft(n, "_")
		if strings.Contains(n, "_") {
			snake++
		}
		for i := 1; i < len(n); i++ {
			if n[i] >= 'A' && n[i] <= 'Z' && n[i-1] >= 'a' && n[i-1] <= 'z' {
				camel++
				break
			}
		}
	}
	if snake > camel {
		return snakeCase
	}
	return camelCase
}

// join writes words in a style: [old status] is oldStatus or old_status.
func (s style) join(ws ...string) string {
	all := make([]string, 0, 2*len(ws))
	for _, w := range ws {
		all = append(all, words(w)...)
	}
	if s == snakeCase {
		return strings.Join(all, "_")
	}
	var b strings.Builder
	for i, w := range all {
		if i > 0 && w != "" {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		b.WriteString(w)
	}
	return b.String()
}

// eventWord makes a resource or field name fit an event name: lower-case
// ASCII words joined by _ (lineItem → line_item). It is "" when nothing
// is left.
func eventWord(name string) string {
	var ws []string
	for _, w := range words(name) {
		var b strings.Builder
		for _, r := range w {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				b.WriteRune(r)
			}
		}
		if b.Len() > 0 {
			ws = append(ws, b.String())
		}
	}
	return strings.Join(ws, "_")
}

// isSimpleName reports whether a field name can be written as it is in a
// gjson path, a CEL expression and a data key: a letter or _ then
// letters, digits and _.
func isSimpleName(s string) bool {
	if s == "" || len(s) > maxKeyBytes {
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
	return !celReserved[s]
}

// celReserved are CEL's reserved words: previous.in would not parse.
var celReserved = map[string]bool{
	"as": true, "break": true, "const": true, "continue": true, "else": true,
	"false": true, "for": true, "function": true, "if": true, "import": true,
	"in": true, "let": true, "loop": true, "package": true, "namespace": true,
	"null": true, "return": true, "true": true, "var": true, "void": true, "while": true,
}

// isStampName reports whether a field is named as a last-modified time
// (updated_at, updatedAt, modified, modified_at, date_updated,
// lastModified, mtime…), and not as who made the change (updated_by).
func isStampName(name string) bool {
	ws := words(name)
	if len(ws) == 0 {
		return false
	}
	switch ws[len(ws)-1] {
	case "by", "user", "id", "count":
		return false
	}
	for _, w := range ws {
		if strings.HasPrefix(w, "updat") || strings.HasPrefix(w, "modif") || w == "mtime" {
			return true
		}
	}
	return false
}

// isStatusName reports whether a field is named as a state: status,
// state, stage, phase, step and compounds (paymentStatus, order_state).
func isStatusName(name string) bool {
	for _, w := range words(name) {
		switch w {
		case "status", "state", "stage", "phase", "step", "lifecycle", "workflow":
			return true
		}
	}
	return false
}

// isEnumValue reports whether a string reads like one value of a short
// list (pending, signé, in_progress) rather than free text, a date, an id
// or an address.
func isEnumValue(s string) bool {
	if s == "" || len(s) > 32 || s != strings.TrimSpace(s) || strings.Count(s, " ") > 2 {
		return false
	}
	if strings.ContainsAny(s, "@/\n\t") || isIDSegment(s) || isDateLike(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

// isDateLike reports whether s starts like an ISO date (2025-10-18…).
func isDateLike(s string) bool {
	return len(s) >= 10 && isDigits(s[:4]) && s[4] == '-' && isDigits(s[5:7]) && s[7] == '-'
}

// article is "an" before a vowel sound (roughly), else "a".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiouAEIOU", rune(word[0])) {
		return "an"
	}
	return "a"
}
