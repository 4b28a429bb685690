package natsstore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// TestConnectAndBuckets, on a three-node cluster whose servers do not
// fsync every write: the buckets of the design are made with the replicas
// asked, the ledger takes atomic batches and per-message TTLs, a second
// start finds them as they are; the fsync check names the servers that do
// not fsync, and says it cannot check from an account without the JSZ
// import; an unreachable cluster is "unavailable".
func TestConnectAndBuckets(t *testing.T) {
	c := testbed.StartNATS(t, testbed.NATSOptions{NoSyncAlways: true, Config: testbed.NATSAccounts})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	app := provisioned(t, Backend{URL: c.URL(), User: "app", Password: "app", Prefix: "shop"}).cfg
	nc, err := app.connect(zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// Created (the first request to create a bucket
	// unanswered, as one lost while the routes are made), then found.
	for _, js := range []jetstream.JetStream{&unansweredOnce{JetStream: js}, js} {
		if _, err := app.ensureBuckets(ctx, js); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"KV_shop", "KV_shop_subs", "KV_shop_locks", "KV_shop_nodes"} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		if cfg := s.CachedInfo().Config; cfg.Replicas != 3 || cfg.Storage != jetstream.FileStorage || cfg.MaxMsgsPerSubject != 1 {
			t.Errorf("%s: replicas %d, storage %v, history %d; want 3, file, 1", name, cfg.Replicas, cfg.Storage, cfg.MaxMsgsPerSubject)
		}
	}
	ledger, _ := js.Stream(ctx, "KV_shop")
	if cfg := ledger.CachedInfo().Config; !cfg.AllowAtomicPublish || !cfg.AllowMsgTTL || cfg.SubjectDeleteMarkerTTL == 0 {
		t.Errorf("ledger: atomic %v, msg TTL %v, delete markers %v; want all", cfg.AllowAtomicPublish, cfg.AllowMsgTTL, cfg.SubjectDeleteMarkerTTL)
	}
	if locks, _ := js.Stream(ctx, "KV_shop_locks"); locks.CachedInfo().Config.MaxAge != lockTTL {
		t.Errorf("locks bucket TTL %v, want %v", locks.CachedInfo().Config.MaxAge, lockTTL)
	}

	r, err := askSync(context.Background(), nc, time.Second)
	if err != nil || len(r.Always) != 0 || !slices.Equal(r.Not, []string{"n1", "n2", "n3"}) {
		t.Errorf("askSync = %+v, %v; want n1 n2 n3 not fsyncing", r, err)
	}
	core, logs := observer.New(zap.InfoLevel)
	logSync(zap.New(core), r, err)
	if w := logs.FilterMessageSnippet("do not fsync every write").All(); len(w) != 1 || w[0].Level != zap.WarnLevel {
		t.Errorf("logged %v, want one warning that the servers do not fsync", logs.All())
	}

	other := provisioned(t, Backend{URL: c.URL(), User: "other", Password: "other"}).cfg
	onc, err := other.connect(zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer onc.Close()
	r, err = askSync(context.Background(), onc, time.Second)
	if err != nil || len(r.Always)+len(r.Not) != 0 {
		t.Errorf("askSync without the import = %+v, %v; want no answer", r, err)
	}
	core, logs = observer.New(zap.InfoLevel)
	logSync(zap.New(core), r, err)
	if w := logs.FilterMessageSnippet("cannot check whether the NATS servers fsync").All(); len(w) != 1 || w[0].Level != zap.WarnLevel {
		t.Errorf("logged %v, want one warning that it cannot check", logs.All())
	}

	down := provisioned(t, Backend{URL: "nats://127.0.0.1:" + itoa(testbed.FreePort(t))}).cfg
	if _, err := down.connect(zap.NewNop()); !errors.Is(err, webhook.ErrUnavailable) || !strings.Contains(err.Error(), "connecting to NATS") {
		t.Errorf("connecting to no server: %v, want a webhook.ErrUnavailable", err)
	}
}

// unansweredOnce is a JetStream whose first CreateKeyValue gets no answer:
// it returns when its context ends, the bucket not created.
type unansweredOnce struct {
	jetstream.JetStream
	asked atomic.Bool
}

func (u *unansweredOnce) CreateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	if !u.asked.Swap(true) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return u.JetStream.CreateKeyValue(ctx, cfg)
}

// TestRetrySetup: a try that gets no answer is made again, one that fails
// otherwise is not, and none is made once the context ends.
func TestRetrySetup(t *testing.T) {
	t.Parallel()
	refused := errors.New("refused")
	for _, tc := range []struct {
		name  string
		errs  []error // what the tries return, in turn
		tries int
		want  error
	}{
		{"answered", []error{nil}, 1, nil},
		{"timed out, then answered", []error{context.DeadlineExceeded, nil}, 2, nil},
		{"no responders, then answered", []error{nats.ErrNoResponders, nil}, 2, nil},
		{"no responders to the account check, then answered", []error{jetstream.ErrJetStreamNotEnabled, nil}, 2, nil},
		{"refused", []error{refused}, 1, refused},
		{"timed out, then refused", []error{context.DeadlineExceeded, refused}, 2, refused},
		{"cluster not available, then answered", []error{&jetstream.APIError{Code: 503}, nil}, 2, nil},
		{"no responders each time (no JetStream)", []error{nats.ErrNoResponders, jetstream.ErrJetStreamNotEnabled, nats.ErrNoResponders, nil}, noResponderTries, nats.ErrNoResponders},
		{"timed out each time, then answered", []error{context.DeadlineExceeded, context.DeadlineExceeded, context.DeadlineExceeded, nil}, 4, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tries := 0
			err := retrySetup(context.Background(), func(ctx context.Context) error {
				if d, ok := ctx.Deadline(); !ok || time.Until(d) > setupTimeout {
					t.Errorf("try's deadline %v, %v; want within %v", d, ok, setupTimeout)
				}
				tries++
				return tc.errs[tries-1]
			})
			if tries != tc.tries || !errors.Is(err, tc.want) {
				t.Errorf("%d tries, %v; want %d, %v", tries, err, tc.tries, tc.want)
			}
		})
	}
	t.Run("context ended", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		tries := 0
		err := retrySetup(ctx, func(context.Context) error {
			tries++
			cancel()
			return context.DeadlineExceeded
		})
		if tries != 1 || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%d tries, %v; want 1, the try's error", tries, err)
		}
	})
}

// TestLogSyncAllAlways: servers that fsync every write are logged at info.
func TestLogSyncAllAlways(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	logSync(zap.New(core), syncReport{Always: []string{"n1", "n2"}}, nil)
	if all := logs.All(); len(all) != 1 || all[0].Level != zap.InfoLevel || all[0].Message != "NATS servers fsync every write" {
		t.Errorf("logged %v, want one info line", all)
	}
}

// TestOpenKeepsTheLedgerSettings: a node that starts while another
// commits does not turn the ledger's atomic batches off, not even for a
// moment (each start used to update the buckets through the KV API, to its
// defaults, then back: the other node's commits were refused, "atomic
// publish is disabled"); and a changed replica count still reaches the
// ledger and the subscriptions, their settings kept.
func TestOpenKeepsTheLedgerSettings(t *testing.T) {
	c := testbed.StartNATS(t, testbed.NATSOptions{})
	a := openStore(t, c.URL(), "reopen")
	var stop atomic.Bool
	var commits atomic.Int64
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for !stop.Load() {
			if err := a.Commit(context.Background(), []webhook.Event{testEvent("order.created")}, nil); err != nil {
				errs <- err
				return
			}
			commits.Add(1)
		}
	}()
	within(t, "A commits", func() bool { return commits.Load() > 0 })
	for range 3 {
		before := commits.Load()
		_ = openStore(t, c.URL(), "reopen").Close()
		within(t, "A commits after B's start", func() bool { return commits.Load() > before || len(errs) > 0 })
	}
	stop.Store(true)
	if err := <-errs; err != nil {
		t.Fatalf("a commit while another node started: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	one := a.cfg
	one.replicas = 1
	if _, err := one.ensureBuckets(ctx, a.js); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"KV_reopen", "KV_reopen_subs"} {
		s, err := a.js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.CachedInfo().Config
		if cfg.Replicas != 1 || cfg.AllowDirect || cfg.AllowAtomicPublish != (name == "KV_reopen") {
			t.Errorf("%s after a start with one replica: replicas %d, direct gets %v, atomic batches %v; want 1, false, %v",
				name, cfg.Replicas, cfg.AllowDirect, cfg.AllowAtomicPublish, name == "KV_reopen")
		}
	}
}
