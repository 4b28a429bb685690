// Package natsstore is the clustered storage of caddy-webhooks, on NATS
// JetStream (Caddy module webhooks.storage.nats): any number of Caddy
// nodes that name the same NATS cluster and prefix act as one webhooks
// service. Only this package imports nats.go. The records it stores are
// the webhook package's types, as JSON.
//
// # Streams and buckets
//
// Everything lives under the configured prefix P (default "webhooks"), so
// several apps can share one cluster. There are four KV buckets (a KV
// bucket is a stream KV_<bucket> whose subjects are $KV.<bucket>.<key>),
// each with the configured number of replicas, file storage, and no
// JetStream consumer or stream per subscription:
//
//	P        the ledger: events, deliveries and resource snapshots,
//	         one record per key (history 1). Per-message TTLs
//	         (AllowMsgTTL) expire records after the retention;
//	         AllowAtomicPublish lets a commit write several keys
//	         all or nothing; subject delete markers
//	         (SubjectDeleteMarkerTTL) tell watchers when a record expired.
//	           e.<event id>            an event and its fan-out (below)
//	           d.<sub>.<delivery id>   a delivery that has been claimed,
//	                                   attempted, rescheduled or finished
//	           s.<sha256 of state key> a snapshot (the value holds the
//	                                   key itself, so a hash collision is
//	                                   detected, and any key fits a subject)
//	P_subs   subscriptions, one key per subscription, updated by CAS
//	P_locks  resource locks; the bucket's TTL (MaxAge) is the lock TTL
//	P_nodes  live nodes (n.<node id>) and subscription owners (o.<sub>);
//	         the bucket's TTL is the heartbeat TTL
//
// <sub> is the subscription id in unpadded base64url: subscription ids
// come from the config and may hold characters a subject cannot; so is
// <node id> in the P_nodes bucket.
//
// # Commit
//
// A commit is one atomic batch publish (Nats-Batch-Id, Nats-Batch-Sequence,
// Nats-Batch-Commit headers; nats.go v1.55.0 has no client API for it, so
// the headers are set by hand) to the ledger: one s.<hash> record per
// snapshot, then one e.<id> record per event (so the batch's last
// sequence is an event's, which the ledger watch sees). An event record
// carries, in headers, its commit time (Wh-At, the committing node's
// clock: the deliveries' creation and first due time), its name
// (Wh-Event) and its fan-out (Wh-Fanout: "<delivery id> <sub>" for each
// active subscription, in the committing node's cache, that wants it). A
// delivery needs no record of its own until it is first claimed: until
// then it is "implied" by its event. So a batch holds events + snapshots
// (a handful) whatever the number of subscriptions, far below the
// server's limit of 1000 messages per batch; the fan-out header bounds the
// subscriptions that one event can go to by the 1 MB max_payload (about
// 14,000 with the ids the handler and the admin API make).
//
// Sync durability waits for the batch's acknowledgement, which JetStream
// gives once a majority of the replicas hold it, then until this node's
// due index shows the commit (bounded: 2 s); Async does not wait and
// reports failures through Settings.NotStored. A commit carrying snapshots
// always waits: the next request on the resource, perhaps on another node,
// must read them. Each event message carries Nats-Msg-Id = the event id,
// so a retried commit (after a leader change) is not stored twice: the
// server refuses a batch holding an id it has seen (error 10201), whole,
// and that refusal is the earlier try's success.
//
// Writes made at the same time share a batch (group.go: a group commit):
// commits, claims and results queued while the node has groupFlushers (4)
// batches in flight go as one atomic batch (at most 256 messages), so the
// cluster makes one replicated append for many writes. A combined batch
// is all or nothing, so each write in it keeps its atomicity; its
// messages take consecutive sequences, so each write learns its own
// revision. When the cluster refuses a combined batch (a lost
// compare-and-set, an event id seen before: the refusal does not say
// which write), each of its writes is sent again alone and gets its own
// answer; one that gets no answer fails every write in it, as it would
// alone.
//
// The ledger and the subscriptions bucket are read from their stream
// leader only: direct gets are turned off, since any replica answers them,
// perhaps before it has applied a write that was just acknowledged. A
// node that starts updates these two, once they exist, as streams (at
// most one update, keeping those settings), not through the KV API, whose
// update would turn atomic batches off until the next one and get the
// other nodes' commits refused meanwhile.
//
// # The due index and Claim
//
// Every node watches the ledger's e.> and d.> subjects, headers only (an
// ordered consumer: ephemeral, in memory, one replica, no Raft group),
// and keeps in memory, for every subscription, its pending deliveries with
// their due time: implied ones from the events' Wh-Fanout, recorded ones
// from the records' Wh-Status and Wh-Due headers (a record that is not
// pending, or a delete marker, takes the delivery out). Writes made
// through this node return once the watch has applied them (bounded:
// 2 s), so the node reads its own writes. Claim takes a subscription's
// due deliveries from the index, earliest first, and claims each with a
// compare-and-set write of its record (Nats-Expected-Last-Subject-Sequence:
// the revision just read; 0 creates the record of an implied delivery),
// setting NextAttemptAt = now+lease, with now the caller's clock as the
// contract asks. A write that loses the race (another worker or node, an
// admin redeliver), or a record found already claimed, is skipped and the
// next due delivery tried: CAS, not ownership, is what makes a claim
// exclusive. A node that dies leaves records due at their lease's end;
// the next owner finds them in its index. The index is ready when the
// watch has caught up with the ledger at start (Open waits for it, up to
// 30 s); until then Claim returns nothing. QueueDepth is the index's size.
// Each subscription's pending deliveries are a heap by due time, so a
// claim reads the few it takes, whatever the backlog. Memory: about 250
// bytes per pending delivery, on each node.
//
// A claim is one write: an implied delivery is created at revision 0
// without reading it first (a record that exists makes it a lost
// compare-and-set), and its event comes from the events this node
// committed lately (recent, cache.go: the last 8192, past their retention
// not used), else is read. A result (UpdateDelivery) starts from the
// record this node's claim wrote, else reads it; a record kept that
// another node or an admin call changed since fails its compare-and-set
// and is read again. So a delivery of an event committed on the node that
// sends it is two writes (claim, result) and no read; one committed on
// another node adds a read of the event.
//
// Every 30 s Claim cancels the pending deliveries of subscriptions absent
// from the node's cache at two sweeps in a row: a commit on a node that had
// not yet seen a delete, or a replay racing with it, can make some.
//
// # Ownership, fairness and rate limits
//
// The dispatcher stays as it is: it asks Claim, for every active
// subscription, how many it may send within its share of the workers and
// its local rate window. The store claims only for the subscriptions the
// node owns (owners.go). Each node puts its heartbeat n.<node> every TTL/3
// (5s; the bucket's TTL, 15s, expires it otherwise) and watches the
// bucket. The owner of a subscription is the live node with the highest
// hash(node, subscription) (rendezvous hashing: balanced, and a node that
// joins or leaves moves only its share). The owner holds the lease
// o.<sub>, whose value names it, and every write of it is a
// compare-and-set, so the KV is the arbiter:
//
//   - the node the hashing names acquires it by a KV Create when the key
//     is free, or by an Update at the revision it saw when the holder's
//     heartbeat is gone (expired or deleted); a lease held by a live node
//     is never taken: that node releases it;
//   - the holder renews it every TTL/3 by an Update at its revision; a
//     renewal refused for its revision drops the lease at once;
//   - the holder releases it by a Delete at its revision when the hashing
//     names another live node, or the subscription is gone; Owns turns
//     false before the delete is sent.
//
// Owns answers from memory. A new subscription gets its owner within a
// second (the owners are recomputed every second, and at once when a
// node comes or goes or a lease is freed); when Claim is asked for one
// that the hashing gives this node and nobody holds, it asks for the lease
// at once and waits for it (settle, at most 2s), so a new subscription's
// first deliveries do not wait for the next pass; a stopped node deletes its
// heartbeat and its leases, so its subscriptions move within milliseconds;
// a crashed node's move when its heartbeat expires, within about the TTL
// (at most 15s plus the servers' expiry delay). The store's onChange wakes
// the dispatcher when the node gains one. So one node at a time claims a
// subscription's deliveries, and the dispatcher's per-process rate window
// is the cluster's: rate_limit 100/m means at most 100 a minute to that
// subscription, however many nodes (but see the handovers below).
//
// Owns stays safe when writes fail: it turns false once the lease is
// older than the TTL minus a margin (15s - 3s), counted from the sending
// of the write that last renewed it or from the sending of the node's
// last heartbeat, whichever is older. The servers expire a key a TTL after
// they stored it, so a stalled node (a long pause, a partition) stops
// claiming before another node can count it dead or find its lease free.
// Durations are compared, not times of different clocks (the node's
// monotonic clock against the servers' message ages), and the margin
// absorbs drift between them; a server whose wall clock jumps forward
// expires keys early, which the margin does not cover. One write is not
// arbitrated by revision: the marker a server writes when a key expires is
// a rollup, written unconditionally, so a renewal or take-over that lands
// just before it is erased. The node drops the lease as soon as its watch
// shows a deletion, an expiry or another node's write of it at a later
// revision (milliseconds), and only the node the hashing names creates a
// free lease, so a second owner in that moment needs two nodes that
// disagree about which nodes are live.
//
// Limits:
//
//   - At a handover the new owner's rate window starts empty: within one
//     rate period a handover can let through up to the rate again (the old
//     owner's sends plus the new owner's). Handovers happen when a node
//     joins, leaves or crashes.
//   - Ownership gates claims, not sends: deliveries the old owner claimed
//     before it released the lease are still sent by it (each once: a
//     claim is a compare-and-set on the delivery).
//   - A subscription whose winning node is live but does not take it (its
//     list of subscriptions lags) has no owner until it does.
//   - Two Caddy nodes must not share a node id.
//   - Cost: one replicated write per owned subscription every 5s (about
//     100 writes a second for 500 subscriptions, whatever the number of
//     nodes) and one heartbeat per node; each node keeps the bucket's
//     content in memory (a few hundred bytes a subscription).
//
// Alternatives weighed: a counter per subscription in JetStream (a
// replicated write per send, and the dispatcher's rate check would have to
// move into the store); the rate divided by the number of nodes (wrong as
// soon as the load is uneven, and the dispatcher would need the node
// count). Both change the contract; ownership does not.
//
// A slow or dead subscriber does not delay others: the index is per
// subscription, Claim looks at each want's own due deliveries, and the
// dispatcher gives each subscription at most a quarter of the workers.
// JetStream consumers are not used for dispatch: one durable consumer per
// subscription is one Raft group each (the maintainers' guideline is about
// 2,000 replicated streams and consumers per cluster), and a shared
// consumer is filled by the delayed NAKs of one failing endpoint
// (MaxAckPending counts them). The design holds as many subscriptions as
// the nodes' memory holds subscriptions and pending deliveries; it creates
// no JetStream object per subscription.
//
// # Retries, dead letters, redeliver, replay, retention
//
// UpdateDelivery reads the record (found through the index, else by the
// subject d.*.<id>), or the implied delivery, applies fn and writes it back
// by CAS, retrying on a conflict: the retry schedule, Retry-After, 410 and
// dead letters are the dispatcher's, unchanged. Pending records have no
// TTL; finished ones (succeeded, failed, cancelled) get Nats-TTL =
// retention. Redeliver is an UpdateDelivery to pending. AddDeliveries
// (replay) creates d.<sub>.<new id> records, due now, in one atomic batch.
// DeleteSubscription writes the subscription's delete marker at the
// revision read, then cancels its pending deliveries one by one.
// Events and snapshots carry Nats-TTL = retention (none when it is 0); a
// forgotten snapshot is a delete marker that expires after a minute; a
// pending delivery whose event expired is cancelled when claimed, as on
// Badger. EventsSince reads e.> from a minute before since (by the
// servers' storage time: the clocks of nodes and servers may be that far
// apart) and sorts what it reads by event time in memory. Deliveries
// reads the subscription's records (d.<sub>.>) and adds its implied
// deliveries from the index.
//
// Count asks the cluster nothing: the watch of the ledger keeps a tally
// (tally.go) of the events and of the finished deliveries by status, each
// by the second its record expires (storage time plus Nats-TTL), dropped
// when that second comes (the servers' expiry markers do not say what
// they replace); the pending ones are the index's size. A write that
// replaces a finished record (a redeliver, an attempt recorded after a
// cancel) carries Wh-Was: the status, expiry and sequence of the record
// it replaces, which the tally takes back if it counted that sequence
// (the watch may never have read it: replaced before the watch reached
// it). Memory: a bit per ledger sequence from the oldest finished record
// alive, and a bucket per second in which records expire.
//
// # Ordered delivery
//
// An event whose fan-out holds ordered subscriptions carries its order key
// in Wh-Order (unpadded base64url: any text fits a header) and those
// subscriptions' keys in Wh-Ordered; a delivery record of an ordered
// subscription carries Wh-Order too. The due index keeps, per
// subscription, a line per order key, in the order its watch read the
// records: the ledger's order, the same on every node, and the order of
// inference, since the commits of one resource take turns under its lock.
// Only the first of a line is in the heap that Claim reads; when it leaves
// the index (succeeded, failed for good, cancelled, deleted) the next is
// put in the heap, due as it was, and the dispatcher woken. A node whose
// watch lags lets a line go later, never earlier: it frees a delivery only
// once it has read the record that finished the one before. Lines are
// built from the event records, which are never rewritten, so a node that
// rebuilds its index at start orders them as the others did. Redeliveries
// and replays are not ordered (their records carry no Wh-Order; a record
// without it takes its delivery out of its line). Waiting deliveries have
// no state of their own in the cluster: Deliveries and Delivery show them
// waiting from the index.
//
// # Locks
//
// LockKeys takes the keys in sorted order (no deadlock between two nodes
// locking overlapping sets), each first in the process (callers of one
// node queue in memory, so that one at a time asks the cluster), then by
// a Create of the hashed key in P_locks, holding a random token; on ErrKeyExists it watches the key until it
// is deleted or expires (the TTL marker), or ctx is done. A held lock is
// renewed by Update with its revision every TTL/3; unlock deletes it with
// its revision. A holder that stalls past the TTL loses the lock silently,
// so the lock alone is not trusted: Snapshot remembers the revision of the
// s.<hash> record it read under the lock, and the commit writes the
// snapshot with Nats-Expected-Last-Subject-Sequence = that revision. If
// another node wrote meanwhile, the batch fails whole and the event is
// skipped with the error logged: the chain of old → new values stays
// consistent.
//
// # Subscriptions
//
// P_subs holds one JSON record per subscription. UpdateSubscription is
// get, fn, Update(revision), retried on ErrKeyRevisionMismatch. Every node
// watches the bucket (ordered consumer) into an in-memory map, from which
// ActiveSubscriptions and Subscriptions answer; a change through any node's admin
// API reaches the others within the watch's latency (milliseconds; the
// contract asks a second) and wakes the dispatcher.
//
// # Health and durability
//
// Health is degraded, with the reason, while the connection is not
// CONNECTED or the ledger's stream info request fails (its leader gone and
// no other elected yet, no quorum; the meta leader is not needed), as
// probed every 2 s and at each change of the connection's
// status. For failoverWait (20 s) from then, the store's calls wait for
// it to be ok again (a restart, a reconnection, an election: the events of
// that moment are stored late rather than lost); after that they fail at
// once with an error matching webhook.ErrUnavailable, so the handler skips
// events as store_unavailable and logs them whole, and clients are not
// held. A commit no server took (no responders, JetStream 503) is sent
// again for failoverWait; one whose fate is unknown (a timeout) is not (a
// snapshot's sequence check would refuse it): it fails with an error
// matching webhook.ErrUnavailable. A delivery's write (a claim, a result)
// no server took is sent again likewise (group.writeTaken), as
// jetstream.PublishMsg would: its compare-and-set still holds. The
// connection reconnects forever.
//
// A publish acknowledgement means a majority of replicas hold the write in
// memory: the servers fsync only every two minutes unless they run with
// `jetstream { sync_interval: always }`. The setting is visible to a
// client only through the servers' monitoring: /varz and /jsz on the HTTP
// monitor port (jetstream.config.sync_always), and the system account's
// $SYS.REQ.SERVER.PING.JSZ request (JSInfo.Config.SyncAlways); the
// JetStream account info ($JS.API.INFO) does not carry it (checked in
// nats-server v2.15.2: server/jetstream.go JetStreamConfig, server/events.go
// registerSystemImports imports only CONNZ, STATZ and user info into
// other accounts). At start the backend sends $SYS.REQ.SERVER.PING.JSZ
// and gathers the answers for a moment: when a server answers without
// sync_always it warns that acknowledged events may be lost if the whole
// cluster loses power; when none answers (the account has no import of
// that service from the system account) it warns that it cannot verify
// the setting, and the docs show the import.
//
// # Not yet
//
//   - Carrying the rate window across a handover: the old owner could write
//     into o.<sub>, at each renewal, the claims it made in the current rate
//     period, and the new owner cap its claims by what is left of it (after
//     a crash, the claims since the last renewal stay unknown). This needs
//     the app's default rate_limit in the store's Settings (subscriptions
//     with their own rate_limit do not); not built.
//   - Lowering the retention can make a finished delivery's record expire
//     before its event: a node that starts afterwards reads the event's
//     fan-out and takes the delivery for pending again.
package natsstore
