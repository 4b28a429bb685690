package e2e_test

// The store's state on the management page when it is a NATS cluster
// (storage/natsstore): what this node sees of the cluster.

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

// shownCluster is what the page shows of a clustered store.
type shownCluster struct {
	Server   string   `json:"server"`
	Servers  []string `json:"servers"`
	Name     string   `json:"name"`
	Replicas string   `json:"replicas"`
	Sync     string   `json:"sync"`
	SyncNote bool     `json:"syncNote"` // the sync value is the muted "unknown"
	RTT      string   `json:"rtt"`
	Warning  string   `json:"warning"` // the not-fsynced warning, "" when none
}

func (p *page) cluster() shownCluster {
	p.t.Helper()
	return evalJS[shownCluster](p, `(() => {
		const s = document.querySelector('#store > section.store');
		if (!s) return {};
		const text = sel => { const e = s.querySelector(sel); return e ? e.textContent.trim() : ''; };
		return {
			server: text('[data-fact="server"] dd'), name: text('[data-fact="name"] dd'),
			servers: [...s.querySelectorAll('[data-fact="servers"] li')].map(li => li.textContent.trim()),
			replicas: text('[data-fact="replicas"] dd'), sync: text('[data-fact="sync"] dd'),
			syncNote: !!s.querySelector('[data-fact="sync"] dd .muted'),
			rtt: text('[data-fact="rtt"] dd'), warning: text('.store-warning'),
		};
	})()`)
}

// roundTrip is how the page says the round trip to the server.
var roundTrip = regexp.MustCompile(`^\d+(\.\d+)? ms$`)

// TestManagementPageNATSStore shows a Caddy on a real 3-node NATS
// cluster as an admin sees it: backend nats, OK, the server it is
// connected to (one of the cluster's), the servers it knows, the
// cluster's name, 3 replicas, fsync unknown (the servers' account cannot
// ask them: the store reports sync_always absent, so no warning either)
// and a round trip. Then the whole cluster goes down: after a Refresh the
// page shows the store degraded with the reason and not connected; once
// the servers are back, OK again.
func TestManagementPageNATSStore(t *testing.T) {
	t.Parallel()
	chrome := chromium(t)
	nats := testbed.StartNATS(t, testbed.NATSOptions{})
	urls := strings.Split(nats.URL(), ",")
	storage := "nats {\n\t\t\turl " + nats.URL() + "\n\t\t\tprefix e2e_ui\n\t\t\treplicas 3\n\t\t}"
	rcv := newHookReceiver(t)
	up := testbed.OrdersApp(t)
	c := testbed.StartCaddy(t, "", uiCaddyfileOn(storage, testbed.FreePort(t), up.Listener.Addr().String(), testbed.WriteOrderRules(t), rcv.srv.URL))
	a := testbed.API{T: t, Base: "http://" + c.AdminAddr}
	origin := "http://" + c.AdminAddr
	p := openBrowser(t, chrome, origin)
	live := `document.getElementById('store-live').textContent`

	// The cluster as this node sees it.
	p.do(chromedp.EmulateViewport(1280, 960), chromedp.Navigate(origin+"/webhooks/ui/"))
	p.waitFor("the store's state", `document.querySelector('#store > section.store')?.dataset.status === 'ok'`)
	s, cl := p.store(), p.cluster()
	if s.Backend != "nats" || s.Badge != "OK" || s.Degraded != "" || s.Free != "" || s.Reserve != "" {
		t.Errorf("the store shown as %+v, want nats, OK, no degraded note, no disk figures", s)
	}
	h := storeHealth(a)["cluster"].(map[string]any)
	if !slices.Contains(urls, cl.Server) || cl.Server != h["server"] {
		t.Errorf("connected to %q shown, want the store's server %v, one of %q", cl.Server, h["server"], urls)
	}
	if shown := slices.Sorted(slices.Values(cl.Servers)); !slices.Equal(shown, slices.Sorted(slices.Values(urls))) {
		t.Errorf("known servers shown as %q, want the cluster's %q", cl.Servers, urls)
	}
	if cl.Name != "testbed" || cl.Replicas != "3" {
		t.Errorf("cluster %q with %q replicas shown, want testbed and 3", cl.Name, cl.Replicas)
	}
	if _, known := h["sync_always"]; known || cl.Sync != "unknown" || !cl.SyncNote || cl.Warning != "" {
		t.Errorf("fsync shown as %q (muted %v, warning %q) for sync_always %v, want a muted unknown and no warning", cl.Sync, cl.SyncNote, cl.Warning, h["sync_always"])
	}
	if !roundTrip.MatchString(cl.RTT) {
		t.Errorf("round trip shown as %q, want like 0.12 ms (the store says %v)", cl.RTT, h["rtt_ms"])
	}
	p.checkLabels("the list, on NATS")
	p.shot("ui-store-nats")

	// The whole cluster down: the store cannot reach it, and the page
	// says so after a Refresh. GET /webhooks/stats answers with the
	// store's health (degraded, its reason, since when) and no counts.
	for _, n := range nats.Nodes {
		n.Kill()
	}
	testbed.Eventually(t, 30*time.Second, "GET /webhooks/stats saying the store is degraded", func() bool {
		r := a.Do(http.MethodGet, "/webhooks/stats", nil)
		return r.Status == http.StatusOK && strings.Contains(string(r.Body), `"degraded"`) && strings.Contains(string(r.Body), "not connected to NATS")
	})
	p.click(`#refresh`)
	p.waitFor("the degraded store", `document.querySelector('#store > section.store')?.dataset.status === 'degraded'`)
	s, cl = p.store(), p.cluster()
	if s.Backend != "nats" || s.Badge != "Degraded" || !strings.Contains(s.Degraded, "takes no writes") || !strings.Contains(s.Reason, "not connected to NATS") {
		t.Errorf("the store with its cluster down shown as %+v", s)
	}
	if slices.Contains(urls, cl.Server) || cl.RTT != "" {
		t.Errorf("with the cluster down: connected to %q, round trip %q shown; want no server connected to, no round trip", cl.Server, cl.RTT)
	}
	if got := evalJS[string](p, live); !strings.Contains(got, "takes no writes") || !strings.Contains(got, "not connected to NATS") {
		t.Errorf("store-live says %q, want the store degraded announced with its reason", got)
	}
	p.shot("ui-store-nats-down")

	// The servers back (together: one alone has no quorum): OK again.
	var wg sync.WaitGroup
	for _, n := range nats.Nodes {
		wg.Go(n.Restart)
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	testbed.Eventually(t, 30*time.Second, "the store taking writes again", func() bool {
		r := a.Do(http.MethodGet, "/webhooks/stats", nil)
		return r.Status == http.StatusOK && r.Object(t)["store"].(map[string]any)["status"] == "ok"
	})
	p.click(`#refresh`)
	p.waitFor("the store OK again", `document.querySelector('#store > section.store')?.dataset.status === 'ok'`)
	if cl = p.cluster(); !slices.Contains(urls, cl.Server) || !roundTrip.MatchString(cl.RTT) {
		t.Errorf("back: connected to %q, round trip %q shown", cl.Server, cl.RTT)
	}
	if got := evalJS[string](p, live); got != "The store takes writes again." {
		t.Errorf("store-live says %q, want the store taking writes again announced", got)
	}
	p.checkProblems()
}
