package rules

import "github.com/caddy-webhooks/caddy-webhooks/internal/jsontext"

// compactValid removes the whitespace between the tokens of src, which
// must be valid JSON, appending the result to dst (which may be src[:0]:
// the result is never longer). It does json.Compact's work without
// checking the syntax again: a rule's output is assembled from pieces
// that were each checked (extract, the sources' own encodings) joined by
// the template's own punctuation, and the fuzz test holds every event's
// data to json.Valid. That check was a third of a rule's evaluation.
func compactValid(dst, src []byte) []byte {
	var strs jsontext.Strings
	start := 0
	for i, c := range src {
		if strs.In(c) {
			continue
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			dst = append(dst, src[start:i]...)
			start = i + 1
		}
	}
	return append(dst, src[start:]...)
}
