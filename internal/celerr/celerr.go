// Package celerr writes CEL's compile errors as one line each, with their
// column (and line, for an expression of several lines), for messages
// that end up in a config error or an API answer.
package celerr

import (
	"errors"
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"
)

// Format turns CEL's multi-line report on expr into one line per issue.
func Format(expr string, iss *cel.Issues) error {
	multiline := strings.Contains(expr, "\n")
	msgs := make([]string, 0, len(iss.Errors()))
	for _, e := range iss.Errors() {
		loc := fmt.Sprintf("column %d", e.Location.Column()+1)
		if multiline {
			loc = fmt.Sprintf("line %d column %d", e.Location.Line(), e.Location.Column()+1)
		}
		msg := strings.ReplaceAll(e.Message, " (in container '')", "")
		msgs = append(msgs, fmt.Sprintf("%s (%s)", msg, loc))
	}
	if len(msgs) == 0 {
		return iss.Err()
	}
	return errors.New(strings.Join(msgs, "; "))
}
