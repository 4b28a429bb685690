package rules

import (
	"fmt"
)

// SkipError says why an event could not be produced; Reason is a short
// snake_case label used in logs and metrics.
type SkipError struct {
	Reason SkipReason
	Err    error
}

// Error implements error.
func (e *SkipError) Error() string {
	if e.Err == nil {
		return "event skipped: " + string(e.Reason)
	}
	return "event skipped: " + string(e.Reason) + ": " + e.Err.Error()
}

// Unwrap returns the cause, if any.
func (e *SkipError) Unwrap() error { return e.Err }

// specError is a compile error located in a rule; it prints as
// "file:line: event NAME: what" or "events[i]: event NAME: what".
type specError struct {
	where string
	event string
	err   error
}

func (e *specError) Error() string {
	return e.where + ": event " + e.event + ": " + e.err.Error()
}

func (e *specError) Unwrap() error { return e.err }

// errAt builds the error for spec i at the line of field (a key path such
// as "match.status"; "" for the rule itself).
func errAt(i int, s *Spec, field string, err error) error {
	where := fmt.Sprintf("events[%d]", i)
	if s.Pos.File != "" {
		where = fmt.Sprintf("%s:%d", s.Pos.File, s.Pos.line(field))
	}
	name := s.Name
	if name == "" {
		name = fmt.Sprintf("#%d", i+1)
	}
	return &specError{where: where, event: name, err: err}
}

// lineError is an error located in a file but not (yet) in a rule; it
// prints as "file:line: what" ("file: what" when the line is unknown).
type lineError struct {
	file  string
	line  int
	msg   string
	cause error
}

func (e *lineError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg)
	}
	return e.file + ": " + e.msg
}

func (e *lineError) Unwrap() error { return e.cause }

// fileError builds a lineError with a formatted message and no cause.
func fileError(file string, line int, format string, args ...any) error {
	return &lineError{file: file, line: line, msg: fmt.Sprintf(format, args...)}
}
