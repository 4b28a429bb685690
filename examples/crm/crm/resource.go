package crm

import (
	"net/http"
	"reflect"
)

// resource holds what the get, update and delete routes of one kind of
// record need.
type resource[T any] struct {
	s     *Server
	param string    // path parameter of the id: "organisation_id"
	what  string    // name in 404 details: "Organisation"
	table *table[T] // guarded by s.db.mu
	// apply reads a body into v: every field on create, the given ones on
	// update. It returns the form's errors.
	apply func(f *form, v *T) []FieldError
	// finish runs under the lock once apply succeeded: checks against
	// other records (409, 422) and derived fields. old is nil on create.
	finish func(old, v *T, now Time) error
	// touch sets v's updated_at.
	touch func(v *T, now Time)
}

func (rs *resource[T]) notFound(id int) string { return rs.what + " " + itoa(id) + " introuvable" }

// create handles POST: v holds the defaults (and created_*), setID gives
// it its id. 201 with the record; 422; 409.
func (rs *resource[T]) create(w http.ResponseWriter, r *http.Request, v T, setID func(*T, int)) {
	obj, ok := readObject(w, r)
	if !ok {
		return
	}
	if errs := rs.apply(&form{raw: obj, create: true}, &v); errs != nil {
		writeInvalid(w, errs)
		return
	}
	now := newTime(rs.s.now())
	err := rs.s.db.tx(func() error {
		if rs.finish != nil {
			if err := rs.finish(nil, &v, now); err != nil {
				return err
			}
		}
		v = rs.table.insert(v, setID)
		return nil
	})
	if err != nil {
		writeStoreError(w, err, "")
		return
	}
	writeJSON(w, http.StatusCreated, v)
}

// get handles GET /…/{id}: 200 with the record; 404.
func (rs *resource[T]) get(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, rs.param)
	if !ok {
		return
	}
	var v T
	_ = rs.s.db.tx(func() error {
		v, ok = rs.table.get(id)
		return nil
	})
	if !ok {
		writeDetail(w, http.StatusNotFound, "%s", rs.notFound(id))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// update handles PUT /…/{id}: the given fields change (an empty object
// changes nothing); 200 with the record, whose updated_at moves only when
// something changed; 404; 409; 422.
func (rs *resource[T]) update(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, rs.param)
	if !ok {
		return
	}
	obj, ok := readObject(w, r)
	if !ok {
		return
	}
	rs.change(w, id, func(v *T) ([]FieldError, error) { return rs.apply(&form{raw: obj}, v), nil })
}

// change applies edit to record id and answers like update; an error from
// edit is answered like one from finish.
func (rs *resource[T]) change(w http.ResponseWriter, id int, edit func(v *T) ([]FieldError, error)) {
	now := newTime(rs.s.now())
	var v T
	var errs []FieldError
	err := rs.s.db.tx(func() error {
		old, ok := rs.table.get(id)
		if !ok {
			return errNotFound
		}
		v = old
		var err error
		if errs, err = edit(&v); errs != nil || err != nil {
			return err
		}
		if rs.finish != nil {
			if err := rs.finish(&old, &v, now); err != nil {
				return err
			}
		}
		if !reflect.DeepEqual(v, old) {
			rs.touch(&v, now)
			rs.table.put(id, v)
		}
		return nil
	})
	switch {
	case err != nil:
		writeStoreError(w, err, rs.notFound(id))
	case errs != nil:
		writeInvalid(w, errs)
	default:
		writeJSON(w, http.StatusOK, v)
	}
}

// remove handles DELETE /…/{id}: 204 with no body; 404. cascade, if
// set, runs under the lock once the record is gone.
func (rs *resource[T]) remove(w http.ResponseWriter, r *http.Request, cascade func(id int)) {
	id, ok := pathID(w, r, rs.param)
	if !ok {
		return
	}
	err := rs.s.db.tx(func() error {
		if _, ok := rs.table.rows[id]; !ok {
			return errNotFound
		}
		delete(rs.table.rows, id)
		if cascade != nil {
			cascade(id)
		}
		return nil
	})
	if err != nil {
		writeStoreError(w, err, rs.notFound(id))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// list answers a list route with the records keep accepts, paginated.
func (rs *resource[T]) list(w http.ResponseWriter, r *http.Request, keep func(*T) bool) {
	var rows []T
	_ = rs.s.db.tx(func() error {
		rows = rs.table.list(keep)
		return nil
	})
	if p, ok := paginate(w, r, rows); ok {
		writeJSON(w, http.StatusOK, p)
	}
}
