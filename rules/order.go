package rules

import "errors"

// HasOrderKey reports whether the rule names the resource its events are
// ordered by (order_key); without it, the state key does.
func (r *Rule) HasOrderKey() bool { return r.orderKey != nil }

// OrderKey renders the rule's order_key from in ("" when it has none). A
// value that is missing or null is an error: the event is then unordered
// (EventOrderKey).
func (c Candidate) OrderKey(in *Input) (string, error) {
	if c.Rule.orderKey == nil {
		return "", nil
	}
	k, err := c.Rule.orderKey.render(in, c.Params, nil)
	if err != nil {
		return "", errors.New("order_key: a placeholder's value is missing or null")
	}
	return k, nil
}

// EventOrderKey is the order key of the event c emits on in: its
// order_key, else stateKey (the key its state was read under). An
// order_key that cannot be rendered gives "" and the error: the event is
// then unordered.
func (c Candidate) EventOrderKey(in *Input, stateKey string) (string, error) {
	if c.Rule.orderKey == nil {
		return stateKey, nil
	}
	return c.OrderKey(in)
}
