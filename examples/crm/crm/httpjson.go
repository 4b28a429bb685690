package crm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// maxBodyBytes bounds request bodies.
const maxBodyBytes = 1 << 20

// Detail is the body of 401, 403, 404 and 409 answers: {"detail": "..."}.
type Detail struct {
	Detail string `json:"detail"`
}

// FieldError is one entry of a 422 answer, as FastAPI writes it:
// {"loc": ["body", "name"], "msg": "field required", "type": "value_error.missing"}.
type FieldError struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

// ValidationErrors is the body of a 422 answer: {"detail": [FieldError, …]}.
type ValidationErrors struct {
	Detail []FieldError `json:"detail"`
}

// writeJSON answers with status and v encoded as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"detail":"Internal Server Error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeDetail answers with status and {"detail": msg}.
func writeDetail(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, Detail{Detail: fmt.Sprintf(format, args...)})
}

// writeInvalid answers 422 with the given field errors.
func writeInvalid(w http.ResponseWriter, errs []FieldError) {
	writeJSON(w, http.StatusUnprocessableEntity, ValidationErrors{Detail: errs})
}

// pathID reads the integer path parameter name (FastAPI answers 422 when
// it is not an integer).
func pathID(w http.ResponseWriter, r *http.Request, name string) (int, bool) {
	id, err := strconv.Atoi(r.PathValue(name))
	if err != nil || id <= 0 {
		writeInvalid(w, []FieldError{{Loc: []any{"path", name}, Msg: "value is not a valid integer", Type: "type_error.integer"}})
		return 0, false
	}
	return id, true
}

// Time is an instant that encodes the way Python's datetime.isoformat()
// writes a naive UTC datetime: "2025-10-18T09:42:31.120523", without
// the fraction when it is zero.
type Time struct{ time.Time }

// MarshalJSON writes t as a naive ISO 8601 string with microseconds.
func (t Time) MarshalJSON() ([]byte, error) {
	u := t.UTC()
	s := u.Format("2006-01-02T15:04:05")
	if us := u.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return []byte(`"` + s + `"`), nil
}

// newTime truncates now to microseconds (what PostgreSQL keeps).
func newTime(now time.Time) Time {
	return Time{now.UTC().Truncate(time.Microsecond)}
}

// dateLayout is the layout of a date field: "2025-10-18".
const dateLayout = "2006-01-02"

// today returns the UTC date of now as "2025-10-18".
func today(now time.Time) string { return now.UTC().Format(dateLayout) }

// addDays returns the date d plus n days; d must be valid.
func addDays(d string, n int) string {
	t, _ := time.Parse(dateLayout, d)
	return t.AddDate(0, 0, n).Format(dateLayout)
}

// readObject decodes the request body, which must be one JSON object.
func readObject(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, bool) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var obj map[string]json.RawMessage
	err := dec.Decode(&obj)
	switch {
	case errors.Is(err, io.EOF):
		err = errors.New("empty body")
	case err == nil && obj == nil:
		err = errors.New("the body must be a JSON object")
	case err == nil:
		if dec.Decode(&struct{}{}) != io.EOF {
			err = errors.New("unexpected data after the JSON object")
		}
	}
	if err != nil {
		writeInvalid(w, []FieldError{{Loc: []any{"body"}, Msg: "invalid JSON: " + err.Error(), Type: "value_error.jsondecode"}})
		return nil, false
	}
	return obj, true
}
