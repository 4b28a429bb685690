package badgerstore

import "github.com/caddy-webhooks/caddy-webhooks/storage"

// takerBox holds a storage.Taker for an atomic.Pointer.
type takerBox struct{ storage.Taker }

// SetTaker sets who takes the deliveries of the commits that follow
// (storage.HandOff); nil: nobody.
func (s *Store) SetTaker(t storage.Taker) {
	if t == nil {
		s.taker.Store(nil)
		return
	}
	s.taker.Store(&takerBox{t})
}

// newNotes returns the notes of a commit: its fan-out leases deliveries to
// the taker set, if any.
func (s *Store) newNotes() *dueNotes {
	n := &dueNotes{}
	if b := s.taker.Load(); b != nil {
		n.taker = b.Taker
	}
	return n
}
