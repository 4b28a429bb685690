package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// jszSubject is the system account's service that answers, from every
// server, its JetStream settings: the only way a client can read whether
// a server fsyncs every write (the JetStream account info does not say).
const jszSubject = "$SYS.REQ.SERVER.PING.JSZ"

// syncReport is what the servers said of their fsync setting.
type syncReport struct {
	Always []string // servers that fsync every write
	Not    []string // servers that fsync every sync_interval
}

// askSync asks every server for its JetStream settings and gathers the
// answers that come within wait (or until ctx ends). No answer (an account
// without the service) is an empty report.
func askSync(ctx context.Context, nc *nats.Conn, wait time.Duration) (syncReport, error) {
	var r syncReport
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return r, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest(jszSubject, inbox, []byte(`{}`)); err != nil {
		return r, err
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrNoResponders) {
			break
		}
		if err != nil {
			return r, err
		}
		var resp struct {
			Server struct {
				Name string `json:"name"`
			} `json:"server"`
			Data struct {
				Config struct {
					SyncAlways bool `json:"sync_always"`
				} `json:"config"`
			} `json:"data"`
		}
		if err := json.Unmarshal(m.Data, &resp); err != nil {
			continue // not an answer of this form
		}
		if resp.Data.Config.SyncAlways {
			r.Always = append(r.Always, resp.Server.Name)
		} else {
			r.Not = append(r.Not, resp.Server.Name)
		}
	}
	slices.Sort(r.Always)
	slices.Sort(r.Not)
	return r, nil
}

// logSync says, at start, whether a 2xx under durability sync survives a
// power loss of the whole cluster.
func logSync(logger *zap.Logger, r syncReport, err error) {
	switch {
	case err != nil:
		logger.Warn("could not ask the NATS servers whether they fsync every write; without sync_interval: always, events acknowledged to clients can be lost if the whole cluster loses power (docs/multi-node.md)",
			zap.Error(err))
	case len(r.Not) > 0:
		logger.Warn("NATS servers do not fsync every write (sync_interval: always): events acknowledged to clients can be lost if the whole cluster loses power (docs/multi-node.md)",
			zap.Strings("servers", r.Not))
	case len(r.Always) == 0:
		logger.Warn("cannot check whether the NATS servers fsync every write: the account does not import " + jszSubject +
			" from the system account; without sync_interval: always, events acknowledged to clients can be lost if the whole cluster loses power (docs/multi-node.md)")
	default:
		logger.Info("NATS servers fsync every write", zap.Strings("servers", r.Always))
	}
}
