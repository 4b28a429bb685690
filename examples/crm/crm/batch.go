package crm

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
)

// Batch routes, as a Directus-style admin UI sends them (people and tasks):
//
//	POST   /api/v1/people, /api/v1/tasks   a JSON array of objects: create them all
//	PATCH  /api/v1/people, /api/v1/tasks   {"keys": [1, 2], "data": {...}}: update them all
//	DELETE /api/v1/people                  [1, 2]: delete them all (admins only)
//
// Each item is handled as its single route would handle it (validation,
// updated_at and completed_at, cascades, permissions), and a batch is all
// or nothing: the first item that fails answers as the single route would
// (422, 409, 404) and nothing changes. A batch holds 1 to MaxBatch items
// (else 422).

// MaxBatch is the most items a batch request may hold (create, update or
// delete); above it the CRM answers 422.
const MaxBatch = 100

// bodyIsArray reports whether r's body, past leading white space, starts
// with '['. The body reads on from there unchanged (within maxBodyBytes).
func bodyIsArray(w http.ResponseWriter, r *http.Request) bool {
	body := r.Body
	br := bufio.NewReader(http.MaxBytesReader(w, body, maxBodyBytes))
	r.Body = struct {
		io.Reader
		io.Closer
	}{br, body}
	for {
		b, err := br.ReadByte()
		switch {
		case err != nil:
			return false
		case b == ' ' || b == '\t' || b == '\n' || b == '\r':
			continue
		}
		_ = br.UnreadByte()
		return b == '['
	}
}

// post handles a create route: a JSON object body creates one record
// (create), a JSON array body several (createMany).
func (rs *resource[T]) post(w http.ResponseWriter, r *http.Request, v T, setID func(*T, int)) {
	if bodyIsArray(w, r) {
		rs.createMany(w, r, v, setID)
		return
	}
	rs.create(w, r, v, setID)
}

// batchError is the error of the batch's item at index (a position in the
// body's array, or in keys).
type batchError struct {
	index int
	err   error
}

func (e *batchError) Error() string { return strconv.Itoa(e.index) + ": " + e.err.Error() }
func (e *batchError) Unwrap() error { return e.err }

// writeBatchError answers for the error of a batch change as
// writeStoreError does, with loc (then the field) as the location of a
// 422 on one body field.
func writeBatchError(w http.ResponseWriter, err error, notFound string, loc ...any) {
	var invalid *invalidError
	if errors.As(err, &invalid) {
		writeInvalid(w, []FieldError{{Loc: append(loc, invalid.field), Msg: invalid.msg, Type: "value_error.not_found"}})
		return
	}
	writeStoreError(w, err, notFound)
}

// relocate returns errs with their location ["body", …] moved to
// ["body", at…, …].
func relocate(errs []FieldError, at ...any) []FieldError {
	for i, e := range errs {
		loc := append([]any{"body"}, at...)
		errs[i].Loc = append(loc, e.Loc[1:]...)
	}
	return errs
}

// sizeErrors checks the number of items of a batch at loc.
func sizeErrors(n int, loc ...any) []FieldError {
	switch {
	case n == 0:
		return []FieldError{{Loc: loc, Msg: "ensure this value has at least 1 items", Type: "value_error.list.min_items"}}
	case n > MaxBatch:
		return []FieldError{{Loc: loc, Msg: "ensure this value has at most " + strconv.Itoa(MaxBatch) + " items", Type: "value_error.list.max_items"}}
	}
	return nil
}

// readArray decodes the request body, which must be one JSON array.
func readArray(w http.ResponseWriter, r *http.Request) ([]json.RawMessage, bool) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var items []json.RawMessage
	err := dec.Decode(&items)
	switch {
	case errors.Is(err, io.EOF):
		err = errors.New("empty body")
	case err == nil && items == nil:
		err = errors.New("the body must be a JSON array")
	case err == nil:
		if dec.Decode(&struct{}{}) != io.EOF {
			err = errors.New("unexpected data after the JSON array")
		}
	}
	if err != nil {
		writeInvalid(w, []FieldError{{Loc: []any{"body"}, Msg: "invalid JSON: " + err.Error(), Type: "value_error.jsondecode"}})
		return nil, false
	}
	return items, true
}

// parseIDs reads the items of a JSON array of distinct record ids
// (positive integers), 1 to MaxBatch of them, found at loc in the body.
func parseIDs(items []json.RawMessage, loc ...any) ([]int, []FieldError) {
	if errs := sizeErrors(len(items), loc...); errs != nil {
		return nil, errs
	}
	var errs []FieldError
	ids := make([]int, len(items))
	seen := map[int]bool{}
	for i, item := range items {
		at := append(append([]any{}, loc...), i)
		var id int
		switch {
		case json.Unmarshal(item, &id) != nil || id <= 0:
			errs = append(errs, FieldError{Loc: at, Msg: "value is not a valid integer", Type: "type_error.integer"})
		case seen[id]:
			errs = append(errs, FieldError{Loc: at, Msg: "duplicate id " + strconv.Itoa(id), Type: "value_error.list.unique_items"})
		}
		seen[id] = true
		ids[i] = id
	}
	return ids, errs
}

// createMany handles POST with a JSON array of objects: each is read as
// create reads its body (v holds the defaults), and all are created in
// one transaction, or none. 201 with the records in the array's order;
// 422 (at ["body", index, field]); 409.
func (rs *resource[T]) createMany(w http.ResponseWriter, r *http.Request, v T, setID func(*T, int)) {
	items, ok := readArray(w, r)
	if !ok {
		return
	}
	if errs := sizeErrors(len(items), "body"); errs != nil {
		writeInvalid(w, errs)
		return
	}
	var errs []FieldError
	recs := make([]T, len(items))
	for i, item := range items {
		var obj map[string]json.RawMessage
		if json.Unmarshal(item, &obj) != nil || obj == nil {
			errs = append(errs, FieldError{Loc: []any{"body", i}, Msg: "value is not a valid dict", Type: "type_error.dict"})
			continue
		}
		recs[i] = v
		errs = append(errs, relocate(rs.apply(&form{raw: obj, create: true}, &recs[i]), i)...)
	}
	if errs != nil {
		writeInvalid(w, errs)
		return
	}
	now := newTime(rs.s.now())
	err := rs.s.db.tx(func() error {
		last := rs.table.last
		for i := range recs {
			err := error(nil)
			if rs.finish != nil {
				err = rs.finish(nil, &recs[i], now)
			}
			if err != nil {
				for id := last + 1; id <= rs.table.last; id++ {
					delete(rs.table.rows, id)
				}
				rs.table.last = last
				return &batchError{i, err}
			}
			recs[i] = rs.table.insert(recs[i], setID)
		}
		return nil
	})
	if err != nil {
		var be *batchError
		errors.As(err, &be)
		writeBatchError(w, err, "", "body", be.index)
		return
	}
	writeJSON(w, http.StatusCreated, recs)
}

// updateMany handles PATCH with {"keys": [id, …], "data": {…}}: data is
// applied to each record as update applies a body (updated_at moves only
// for the records that changed), in one transaction, or not at all. 200
// with the records in the order of keys; 404 an unknown id; 409; 422
// (data's errors at ["body", "data", field]; no, empty, duplicate or
// invalid keys).
func (rs *resource[T]) updateMany(w http.ResponseWriter, r *http.Request) {
	obj, ok := readObject(w, r)
	if !ok {
		return
	}
	f := &form{raw: obj, create: true}
	f.allow("keys", "data")
	var ids []int
	if raw, present, isNull := f.get("keys", field{required: true}); present && !isNull {
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil || items == nil {
			f.fail("keys", "value is not a valid list", "type_error.list")
		} else {
			var errs []FieldError
			ids, errs = parseIDs(items, "body", "keys")
			f.errs = append(f.errs, errs...)
		}
	}
	var data map[string]json.RawMessage
	if raw, present, isNull := f.get("data", field{required: true}); present && !isNull {
		if json.Unmarshal(raw, &data) != nil || data == nil {
			f.fail("data", "value is not a valid dict", "type_error.dict")
		} else {
			// The errors of data do not depend on the record: check them once.
			var probe T
			f.errs = append(f.errs, relocate(rs.apply(&form{raw: data}, &probe), "data")...)
		}
	}
	if f.errs != nil {
		writeInvalid(w, f.errs)
		return
	}
	now := newTime(rs.s.now())
	out := make([]T, len(ids))
	var failed int
	err := rs.s.db.tx(func() error {
		var undo []T // the records as they were, for the ids changed so far
		rollback := func() {
			for i, old := range undo {
				rs.table.put(ids[i], old)
			}
		}
		for i, id := range ids {
			old, ok := rs.table.get(id)
			if !ok {
				rollback()
				failed = id
				return &batchError{i, errNotFound}
			}
			v := old
			_ = rs.apply(&form{raw: data}, &v)
			if rs.finish != nil {
				if err := rs.finish(&old, &v, now); err != nil {
					rollback()
					failed = id
					return &batchError{i, err}
				}
			}
			if !reflect.DeepEqual(v, old) {
				rs.touch(&v, now)
				rs.table.put(id, v)
			}
			undo = append(undo, old)
			out[i] = v
		}
		return nil
	})
	if err != nil {
		writeBatchError(w, err, rs.notFound(failed), "body", "data")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// removeMany handles DELETE with a JSON array of ids: each record goes as
// remove deletes one (cascade runs for each), in one transaction, or none
// does. 204; 404 an unknown id; 422 no, duplicate or invalid ids.
func (rs *resource[T]) removeMany(w http.ResponseWriter, r *http.Request, cascade func(id int)) {
	items, ok := readArray(w, r)
	if !ok {
		return
	}
	ids, errs := parseIDs(items, "body")
	if errs != nil {
		writeInvalid(w, errs)
		return
	}
	var failed int
	err := rs.s.db.tx(func() error {
		for _, id := range ids {
			if _, ok := rs.table.rows[id]; !ok {
				failed = id
				return errNotFound
			}
		}
		for _, id := range ids {
			delete(rs.table.rows, id)
			if cascade != nil {
				cascade(id)
			}
		}
		return nil
	})
	if err != nil {
		writeStoreError(w, err, rs.notFound(failed))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// updatePeople handles PATCH /api/v1/people {"keys": […], "data": {…}}:
// 200 with the people; 404; 409 (an email taken, also by another person of
// the batch); 422.
func (s *Server) updatePeople(w http.ResponseWriter, r *http.Request) { s.people().updateMany(w, r) }

// deletePeople handles DELETE /api/v1/people [id, …] (admins only): 204;
// each person's tasks and interactions stay, without person. 403; 404;
// 422.
func (s *Server) deletePeople(w http.ResponseWriter, r *http.Request) {
	if !adminOnly(w, r) {
		return
	}
	s.people().removeMany(w, r, s.unlinkPerson)
}

// updateTasks handles PATCH /api/v1/tasks {"keys": […], "data": {…}}: 200
// with the tasks; 404; 422. As with PUT, status "done" completes the tasks
// that were not done (completed_at), another status reopens them.
func (s *Server) updateTasks(w http.ResponseWriter, r *http.Request) { s.tasks().updateMany(w, r) }
