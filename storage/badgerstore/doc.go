// Package badgerstore is the embedded storage of caddy-webhooks: one Badger
// database that holds the inferred events, their deliveries and attempts,
// the subscriptions and the resources' state. Only this package imports
// Badger; the records it stores are the webhook package's types.
//
// Key layout (every key starts with a one-letter family and a slash so that
// families never interleave and each can be scanned by prefix):
//
//	e/<event id>              event record; ids are time-ordered, so a
//	                          prefix scan from an id made for a time T
//	                          yields the events since T (replay)
//	d/<delivery id>           delivery record
//	q/<subscription id>/<due unix nanos BE>/<delivery id>
//	                          dispatch index: each subscription's pending
//	                          deliveries by due time
//	s/<subscription id>       subscription record
//	x/<subscription id>/<delivery id>
//	                          per-subscription index of deliveries
//	k/<state key>             resource snapshot (state-aware rules), JSON,
//	                          expiring after the retention unless rewritten
//
// Records that only matter for a while (events, finished deliveries,
// snapshots) carry a Badger TTL equal to the configured retention, so old
// data disappears without a sweeper.
//
// Beside Badger's files, commits.log holds the synced commits until
// Badger's own files are synced (commitlog.go, replay.go).
package badgerstore
