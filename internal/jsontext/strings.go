// Package jsontext reads JSON text byte by byte, for the scans that need
// to know only where its strings are (compacting, counting nesting) and
// would pay too much for a full parse. It assumes nothing of the text's
// validity and never fails.
package jsontext

// Strings follows the strings of a JSON text fed to it one byte at a
// time. The zero value is at the start of a text.
type Strings struct {
	in, escaped bool
}

// In reports whether c, the next byte of the text, belongs to a string:
// its quotes, escapes and content. Bytes for which it is false are the
// text's structure, numbers, literals and whitespace.
func (s *Strings) In(c byte) bool {
	switch {
	case s.escaped:
		s.escaped = false
	case s.in && c == '\\':
		s.escaped = true
	case s.in && c == '"':
		s.in = false
	case s.in:
	case c == '"':
		s.in = true
	default:
		return false
	}
	return true
}
