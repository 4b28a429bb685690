package rules

import "errors"

// EventOrderKey is the order key of the event c emits on in: its
// order_key, else stateKey (the key its state was read under). An
// order_key whose value is missing or null gives "" and an error: the
// event is then unordered.
func (c Candidate) EventOrderKey(in *Input, stateKey string) (string, error) {
	if c.Rule.orderKey == nil {
		return stateKey, nil
	}
	k, err := c.Rule.orderKey.render(in, c.Params, nil)
	if err != nil {
		return "", errors.New("order_key: a placeholder's value is missing or null")
	}
	return k, nil
}
