package shop

import (
	"errors"
	"fmt"
	"sync"
)

// Errors returned by the store.
var (
	errNotFound       = errors.New("not found")
	errDuplicateEmail = errors.New("a customer with this email already exists")
)

// store is the in-memory database. Every method takes the mutex and hands
// out copies, so callers never share memory with the store.
type store struct {
	mu        sync.Mutex
	orders    map[string]*Order
	orderIDs  []string // insertion order, for listing
	orderSeq  int
	customers map[string]*Customer
	custIDs   []string          // insertion order, for listing
	emails    map[string]string // normalised email -> customer _id
}

func newStore() *store {
	return &store{
		orders:    make(map[string]*Order),
		customers: make(map[string]*Customer),
		emails:    make(map[string]string),
	}
}

// insertOrder gives o its order number, then stores a copy of it.
func (s *store) insertOrder(o *Order) Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orderSeq++
	o.OrderNumber = fmt.Sprintf("CMD-%d-%05d", o.CreatedAt.Year(), s.orderSeq)
	c := o.clone()
	s.orders[o.ID] = &c
	s.orderIDs = append(s.orderIDs, o.ID)
	return o.clone()
}

// order returns a copy of the order with this id.
func (s *store) order(id string) (Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return Order{}, errNotFound
	}
	return o.clone(), nil
}

// listOrders returns copies of the orders, oldest first, keeping those
// for which keep returns true.
func (s *store) listOrders(keep func(*Order) bool) []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Order, 0, len(s.orderIDs))
	for _, id := range s.orderIDs {
		if o := s.orders[id]; keep(o) {
			out = append(out, o.clone())
		}
	}
	return out
}

// updateOrder applies change to the stored order under the lock and
// returns a copy of the result. An error from change leaves it untouched.
func (s *store) updateOrder(id string, change func(*Order) error) (Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return Order{}, errNotFound
	}
	c := o.clone()
	if err := change(&c); err != nil {
		return Order{}, err
	}
	s.orders[id] = &c
	return c.clone(), nil
}

// insertCustomer stores a copy of c unless its email is taken.
func (s *store) insertCustomer(c *Customer) (Customer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.emails[c.Email]; taken {
		return Customer{}, errDuplicateEmail
	}
	cp := *c
	s.customers[c.ID] = &cp
	s.custIDs = append(s.custIDs, c.ID)
	s.emails[c.Email] = c.ID
	return cp, nil
}

// customer returns a copy of the customer with this id.
func (s *store) customer(id string) (Customer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.customers[id]
	if !ok {
		return Customer{}, errNotFound
	}
	return *c, nil
}

// listCustomers returns copies of all customers, oldest first.
func (s *store) listCustomers() []Customer {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Customer, 0, len(s.custIDs))
	for _, id := range s.custIDs {
		out = append(out, *s.customers[id])
	}
	return out
}

// updateCustomer applies change to the stored customer under the lock,
// keeps the email index unique and returns a copy of the result.
func (s *store) updateCustomer(id string, change func(*Customer)) (Customer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.customers[id]
	if !ok {
		return Customer{}, errNotFound
	}
	c := *old
	change(&c)
	if c.Email != old.Email {
		if owner, taken := s.emails[c.Email]; taken && owner != id {
			return Customer{}, errDuplicateEmail
		}
		delete(s.emails, old.Email)
		s.emails[c.Email] = id
	}
	s.customers[id] = &c
	return c, nil
}
