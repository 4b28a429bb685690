package badgerstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// recentScan bounds how many of the newest events RecentEvents reads to
// find those whose name matches: a listing for a page that polls it stays
// cheap on a store of millions.
const recentScan = 10_000

// RecentEvents returns up to limit of the newest events, newest first,
// whose name matches pattern ("" for all, or a name or pattern such as
// order.*), among the newest recentScan stored.
func (s *Store) RecentEvents(ctx context.Context, limit int, pattern string) ([]webhook.Event, error) {
	var out []webhook.Event
	err := s.use(ctx, func() error {
		return s.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixEvent, Reverse: true})
			defer it.Close()
			scanned := 0
			for it.Seek(append(bytes.Clone(prefixEvent), 0xff)); it.Valid() && len(out) < limit && scanned < recentScan; it.Next() {
				if err := ctx.Err(); err != nil {
					return err
				}
				scanned++
				var ev webhook.Event
				if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &ev) }); err != nil {
					return fmt.Errorf("reading event %s: %w", it.Item().Key(), err)
				}
				if pattern == "" || webhook.EventMatches(pattern, ev.Name) {
					out = append(out, ev)
				}
			}
			return nil
		})
	})
	return out, err
}
