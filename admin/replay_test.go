package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/caddymodule"
	"github.com/caddy-webhooks/caddy-webhooks/delivery"
	"github.com/caddy-webhooks/caddy-webhooks/rules"
	"github.com/caddy-webhooks/caddy-webhooks/storage"
	"github.com/caddy-webhooks/caddy-webhooks/storage/badgerstore"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// storeApp is a webhooks app that is only its store.
type storeApp struct{ store storage.Store }

func (a storeApp) Store() storage.Store          { return a.store }
func (a storeApp) Health() webhook.Health        { return a.store.Health() }
func (a storeApp) Events() []rules.EventInfo     { return nil }
func (a storeApp) DefaultRateLimit() string      { return "" }
func (a storeApp) Learner() *caddymodule.Learner { return nil }
func (a storeApp) SendTest(context.Context, *webhook.Subscription) delivery.TestResult {
	return delivery.TestResult{}
}

// batchSizes records the size of each AddDeliveries call.
type batchSizes struct {
	storage.Store
	sizes []int
}

func (b *batchSizes) AddDeliveries(ctx context.Context, sub *webhook.Subscription, events []webhook.Event) (int, error) {
	b.sizes = append(b.sizes, len(events))
	return b.Store.AddDeliveries(ctx, sub, events)
}

// TestReplayLargeBacklog: a replay of more events than one Badger
// transaction holds queues them all, in batches of replayBatch written as
// the events are read, and answers how many it queued; events the
// subscription would not receive are left out.
func TestReplayLargeBacklog(t *testing.T) {
	store, err := badgerstore.Open(badgerstore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	ctx := context.Background()
	since := time.Now().UTC()
	sub := &webhook.Subscription{ID: "sub_r", URL: "http://x", Events: []string{"order.*"}, Signature: "standard", CreatedAt: since}
	if err := store.PutSubscription(ctx, sub); err != nil { // inactive: the commits queue nothing
		t.Fatal(err)
	}
	const wanted = 10_000
	for done := 0; done < wanted; done += 500 {
		var evs []webhook.Event
		for range 500 {
			evs = append(evs, webhook.Event{ID: webhook.NewID("evt_", since), Name: "order.created", Time: since, Data: json.RawMessage(`{}`)})
		}
		evs = append(evs, webhook.Event{ID: webhook.NewID("evt_", since), Name: "customer.created", Time: since, Data: json.RawMessage(`{}`)})
		if err := store.Commit(ctx, evs, nil); err != nil {
			t.Fatal(err)
		}
	}
	if q := store.QueueDepth(); q != 0 {
		t.Fatalf("queue depth %d before the replay", q)
	}
	counted := &batchSizes{Store: store}
	body := `{"since": "` + since.Add(-time.Second).Format(time.RFC3339) + `"}`
	r := httptest.NewRequest(http.MethodPost, "/webhooks/subscriptions/"+sub.ID+"/replay", strings.NewReader(body))
	r.SetPathValue("id", sub.ID)
	w := httptest.NewRecorder()
	replay(w, r, storeApp{counted})
	var got struct{ Replayed int }
	if err := json.Unmarshal(w.Body.Bytes(), &got); w.Code != http.StatusAccepted || err != nil || got.Replayed != wanted {
		t.Fatalf("replay: %d %s, want 202 with replayed %d", w.Code, w.Body, wanted)
	}
	if q := store.QueueDepth(); q != wanted {
		t.Errorf("queue depth %d after the replay, want %d", q, wanted)
	}
	if list, err := store.Deliveries(ctx, sub.ID, webhook.Pending, 2*wanted); err != nil || len(list) != wanted {
		t.Errorf("%d pending deliveries (%v), want %d", len(list), err, wanted)
	}
	total := 0
	for _, n := range counted.sizes {
		if n > replayBatch {
			t.Errorf("a batch of %d deliveries, more than %d", n, replayBatch)
		}
		total += n
	}
	if total != wanted || len(counted.sizes) != wanted/replayBatch {
		t.Errorf("batches %v: %d deliveries in %d calls, want %d in %d", counted.sizes, total, len(counted.sizes), wanted, wanted/replayBatch)
	}
}
