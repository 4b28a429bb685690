package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// Headers of the ledger's records (doc.go): what the watch of the ledger,
// which reads headers only, needs to keep the due index.
const (
	hdrAt     = "Wh-At"     // an event's commit time (Unix ns): its deliveries' creation and first due time
	hdrFanout = "Wh-Fanout" // an event's deliveries: "<delivery id> <subscription key>", comma-separated
	hdrName   = "Wh-Event"  // an event's name
	hdrStatus = "Wh-Status" // a delivery's status
	hdrDue    = "Wh-Due"    // a pending delivery's due time (Unix ns)
	hdrWas    = "Wh-Was"    // the finished delivery record a write replaces: "<status> <expiry> <sequence>" (tally.go)

	hdrKVOp        = "KV-Operation"
	hdrExpectedSeq = "Nats-Expected-Last-Subject-Sequence"
	hdrTTL         = "Nats-TTL"
)

// errConflict is a compare-and-set write that lost: the record changed
// since it was read.
var errConflict = errors.New("the record changed meanwhile")

// tokenRE is what an id must be to stand in a key.
var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (s *Store) subject(key string) string { return "$KV." + s.cfg.prefix + "." + key }

// keyOf is the key of a ledger subject.
func (s *Store) keyOf(subject string) string { return subject[len("$KV.")+len(s.cfg.prefix)+1:] }

func eventKey(id string) string         { return "e." + id }
func deliveryKey(sub, id string) string { return "d." + subKey(sub) + "." + id }
func expectSeq(seq uint64) nats.Header {
	return nats.Header{hdrExpectedSeq: {strconv.FormatUint(seq, 10)}}
}
func unixNano(t time.Time) string     { return strconv.FormatInt(t.UnixNano(), 10) }
func kvDelete(rev uint64) nats.Header { h := expectSeq(rev); h.Set(hdrKVOp, "DEL"); return h }
func withTTL(h nats.Header, d time.Duration) {
	if d > 0 {
		h.Set(hdrTTL, strconv.FormatInt(int64(max(d, time.Second).Seconds()), 10)+"s")
	}
}

// isMarker says whether a record is a delete marker (a KV delete or
// purge, or the server's marker of an expired record).
func isMarker(h nats.Header) bool {
	return h.Get(hdrKVOp) != "" || h.Get(jetstream.MarkerReasonHeader) != ""
}

// publish writes one message and returns its sequence; a failed
// expectation is errConflict.
func (s *Store) publish(ctx context.Context, subject string, data []byte, h nats.Header) (uint64, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	ack, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: data, Header: h})
	if isWrongLastSeq(err) {
		return 0, errConflict
	}
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// isWrongLastSeq says whether err is JetStream's answer to a failed
// expected last subject sequence (10071, or 10164 on replicated streams).
func isWrongLastSeq(err error) bool {
	var api *jetstream.APIError
	return errors.As(err, &api) && (api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// JetStream's error codes for an atomic batch that holds an id it has
// seen (the commit had succeeded before), and a sequence that moved.
const (
	errCodeBatchDuplicate = 10201
	errCodeWrongLastSeq   = 10071
	errCodeWrongLastSeqR  = 10164
)

// batchMsg is one message of an atomic batch.
type batchMsg struct {
	subject string
	data    []byte
	h       nats.Header
	key     string // a snapshot's state key
}

// pubAck is JetStream's answer to a batch's commit.
type pubAck struct {
	Seq   uint64 `json:"seq"`
	Error *struct {
		Code        int                 `json:"code"`
		ErrCode     jetstream.ErrorCode `json:"err_code"`
		Description string              `json:"description"`
	} `json:"error"`
}

// publishBatch writes msgs all or nothing (JetStream's atomic batch: the
// headers by hand, nats.go has no API for it) and returns the sequence of
// the last. A batch refused as a duplicate was stored by an earlier try:
// it returns 0 and no error.
func (s *Store) publishBatch(ctx context.Context, msgs []batchMsg) (seq uint64, err error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	id := nuid.Next()
	for i, m := range msgs {
		h := m.h
		if h == nil {
			h = nats.Header{}
		}
		h.Set("Nats-Batch-Id", id)
		h.Set("Nats-Batch-Sequence", strconv.Itoa(i+1))
		msg := &nats.Msg{Subject: m.subject, Data: m.data, Header: h}
		if i < len(msgs)-1 {
			h.Del("Nats-Batch-Commit") // sent last in an earlier batch (see group)
			if err := s.nc.PublishMsg(msg); err != nil {
				return 0, err
			}
			continue
		}
		h.Set("Nats-Batch-Commit", "1")
		resp, err := s.nc.RequestMsgWithContext(ctx, msg)
		if err != nil {
			return 0, err
		}
		return readAck(resp.Data)
	}
	return 0, nil
}

// readAck decodes a batch's acknowledgement.
func readAck(data []byte) (uint64, error) {
	var ack pubAck
	if err := json.Unmarshal(data, &ack); err != nil {
		return 0, fmt.Errorf("reading the batch's acknowledgement %q: %w", data, err)
	}
	if e := ack.Error; e != nil {
		switch int(e.ErrCode) {
		case errCodeBatchDuplicate:
			return 0, nil
		case errCodeWrongLastSeq, errCodeWrongLastSeqR:
			return 0, fmt.Errorf("%w: %s", errConflict, e.Description)
		}
		return 0, &jetstream.APIError{Code: e.Code, ErrorCode: e.ErrCode, Description: e.Description}
	}
	return ack.Seq, nil
}

// lastMsg reads the last record of a ledger subject (wildcards allowed)
// from the stream leader; nil when there is none. It may be a marker. A
// read that gets no answer in readTry (the leader died, and the stream
// elects another) is tried again for failoverWait, as writes are (unless
// ctx ends first): a request waits for the failover rather than go on
// without the record.
func (s *Store) lastMsg(ctx context.Context, subject string) (*jetstream.RawStreamMsg, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, failoverWait)
		defer cancel()
	}
	for {
		try, cancelTry := context.WithTimeout(ctx, readTry)
		m, err := s.ledger.GetLastMsgForSubject(try, subject)
		cancelTry()
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			return nil, nil
		case err == nil || ctx.Err() != nil || !transient(err):
			return m, err
		}
		select { // no answer at all (no responders) comes back at once
		case <-ctx.Done():
			return nil, err
		case <-time.After(republishEvery):
		}
	}
}

// readTry bounds one try of a read: a stream leader answers in
// milliseconds, and after a leader's death the next try reaches the new
// one.
const readTry = 2 * time.Second

// gone says whether a record read by lastMsg is absent or deleted.
func gone(m *jetstream.RawStreamMsg) bool { return m == nil || isMarker(m.Header) }
