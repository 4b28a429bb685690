package crm

import (
	"errors"
	"maps"
	"slices"
	"sync"
)

// Errors of the store, mapped to HTTP statuses by the handlers.
var (
	errNotFound = errors.New("not found")
)

// conflictError is a 409: the change breaks a uniqueness or state rule.
type conflictError struct{ msg string }

func (e *conflictError) Error() string { return e.msg }

// invalidError is a 422 on one body field (e.g. a reference to a record
// that does not exist).
type invalidError struct {
	field, msg string
}

func (e *invalidError) Error() string { return e.field + ": " + e.msg }

// table holds the rows of one kind, by id; ids count up from 1 and are
// never reused, as with a SERIAL column.
type table[T any] struct {
	rows map[int]*T
	last int
}

func newTable[T any]() table[T] { return table[T]{rows: map[int]*T{}} }

// insert gives v the next id (through setID) and stores a copy.
func (t *table[T]) insert(v T, setID func(*T, int)) T {
	t.last++
	setID(&v, t.last)
	c := v
	t.rows[t.last] = &c
	return v
}

// get returns a copy of row id.
func (t *table[T]) get(id int) (T, bool) {
	p, ok := t.rows[id]
	if !ok {
		var zero T
		return zero, false
	}
	return *p, true
}

// put replaces row id.
func (t *table[T]) put(id int, v T) { t.rows[id] = &v }

// list returns copies of the rows for which keep is true, by id.
func (t *table[T]) list(keep func(*T) bool) []T {
	out := []T{}
	for _, id := range slices.Sorted(maps.Keys(t.rows)) {
		if r := t.rows[id]; keep == nil || keep(r) {
			out = append(out, *r)
		}
	}
	return out
}

// db is the in-memory database: every access holds mu. Rows are values
// whose pointer fields (nullable columns) are never written through, so
// the copies handed out share nothing that changes.
type db struct {
	mu           sync.Mutex
	orgs         table[Organisation]
	people       table[Person]
	tasks        table[Task]
	mandats      table[Mandat]
	interactions table[Interaction]
}

func newDB() *db {
	return &db{
		orgs:         newTable[Organisation](),
		people:       newTable[Person](),
		tasks:        newTable[Task](),
		mandats:      newTable[Mandat](),
		interactions: newTable[Interaction](),
	}
}

// tx runs fn with the database locked.
func (d *db) tx(fn func() error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return fn()
}

// checkRefs returns an invalidError when an organisation or person id
// given in a body does not exist. The caller holds the lock.
func (d *db) checkRefs(orgID, personID *int) error {
	if orgID != nil {
		if _, ok := d.orgs.rows[*orgID]; !ok {
			return &invalidError{"organisation_id", "organisation " + itoa(*orgID) + " introuvable"}
		}
	}
	if personID != nil {
		if _, ok := d.people.rows[*personID]; !ok {
			return &invalidError{"person_id", "personne " + itoa(*personID) + " introuvable"}
		}
	}
	return nil
}
