package natsstore

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestLockTaken: a Create refused because the lock exists is told from a
// failure, in each form nats.go gives it.
func TestLockTaken(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"ErrKeyExists", fmt.Errorf("create: %w", jetstream.ErrKeyExists), true},
		{"wrong last sequence, replicated, after a delete", &jetstream.APIError{Code: 400, ErrorCode: 10164, Description: "wrong last sequence"}, true},
		{"wrong last sequence", &jetstream.APIError{Code: 400, ErrorCode: 10071}, true},
		{"another API error", &jetstream.APIError{Code: 503, ErrorCode: 10008}, false},
		{"a timeout", errors.New("nats: timeout"), false},
	} {
		if got := taken(tc.err); got != tc.want {
			t.Errorf("%s: taken = %v, want %v", tc.name, got, tc.want)
		}
	}
}
