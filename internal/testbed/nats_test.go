package testbed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestNATSCluster starts a three-node cluster, writes to a stream with
// three replicas, kills the stream's leader with SIGKILL, writes again
// through the two left (after the election), restarts the killed node on
// its store, and finds every acknowledged message on it once it has caught
// up.
func TestNATSCluster(t *testing.T) {
	c := StartNATS(t, NATSOptions{})
	for _, n := range c.Nodes {
		var varz struct {
			JetStream struct {
				Config struct {
					SyncAlways bool `json:"sync_always"`
				} `json:"config"`
			} `json:"jetstream"`
		}
		if err := n.Monitor("/varz", &varz); err != nil || !varz.JetStream.Config.SyncAlways {
			t.Fatalf("%s: /varz sync_always = %v (%v), want true", n.Name, varz.JetStream.Config.SyncAlways, err)
		}
	}
	nc, err := nats.Connect(c.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context() // each request has the client's timeout, each wait its own
	// Asked again until it answers: on a loaded machine the cluster's
	// meta leader can still be settling when the servers report ready,
	// and a request then times out (a CI run of every package at once).
	// Creating a stream with the same config again returns it.
	var stream jetstream.Stream
	Eventually(t, 60*time.Second, "stream T created", func() bool {
		try, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		stream, err = js.CreateStream(try, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3, Storage: jetstream.FileStorage})
		if err != nil {
			t.Logf("creating stream T: %v; trying again", err)
		}
		return err == nil
	})
	publish := func(i int) {
		t.Helper()
		// Retried with the same id until acknowledged: an election
		// after the leader's death takes seconds. Each try has its own
		// timeout: a request in flight when the client's server dies
		// is never answered (the client reconnects but does not send it
		// again), and the id makes a try stored unanswered count once.
		Eventually(t, 60*time.Second, fmt.Sprintf("m%d acknowledged", i), func() bool {
			try, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			_, err := js.Publish(try, "t.x", fmt.Appendf(nil, "m%d", i), jetstream.WithMsgID(fmt.Sprintf("m%d", i)))
			if err != nil {
				t.Logf("publishing m%d: %v; trying again", i, err)
			}
			return err == nil
		})
	}
	publish(1)
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leader := c.Node(info.Cluster.Leader)
	leader.Kill()
	publish(2)
	publish(3)
	leader.Restart()
	Eventually(t, 60*time.Second, "the restarted node to catch up with the stream", func() bool {
		info, err := stream.Info(ctx)
		if err != nil || info.State.Msgs != 3 || len(info.Cluster.Replicas) != 2 {
			return false
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current || r.Offline {
				return false
			}
		}
		return true
	})
	// Read it from the restarted node alone.
	one, err := nats.Connect(leader.ClientURL)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	js1, _ := jetstream.New(one)
	s1, err := js1.Stream(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for seq := uint64(1); seq <= 3; seq++ {
		m, err := s1.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("message %d through %s: %v", seq, leader.Name, err)
		}
		got = append(got, string(m.Data))
	}
	if strings.Join(got, ",") != "m1,m2,m3" {
		t.Errorf("stream holds %v, want m1,m2,m3", got)
	}
}

// TestNATSSyncAlwaysThroughSystemAccount checks what the backend relies on
// to read the servers' fsync setting: an account that imports
// $SYS.REQ.SERVER.PING.JSZ from the system account gets every server's
// JetStream config, sync_always included, and an account without the
// import gets no answer.
func TestNATSSyncAlwaysThroughSystemAccount(t *testing.T) {
	c := StartNATS(t, NATSOptions{NoSyncAlways: true, Config: NATSAccounts})
	answers := func(user string) []bool {
		nc, err := nats.Connect(c.URL(), nats.UserInfo(user, user))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		inbox := nats.NewInbox()
		sub, err := nc.SubscribeSync(inbox)
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.PublishRequest("$SYS.REQ.SERVER.PING.JSZ", inbox, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		var syncAlways []bool
		for {
			m, err := sub.NextMsg(2 * time.Second)
			if errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) {
				return syncAlways
			}
			if err != nil {
				t.Fatal(err)
			}
			var resp struct {
				Data struct {
					Config struct {
						SyncAlways bool `json:"sync_always"`
					} `json:"config"`
				} `json:"data"`
			}
			if err := json.Unmarshal(m.Data, &resp); err != nil {
				t.Fatalf("%s: %v", m.Data, err)
			}
			syncAlways = append(syncAlways, resp.Data.Config.SyncAlways)
		}
	}
	// A server whose routes to the others are still forming misses a
	// ping sent meanwhile: ask again until all three answer.
	var got []bool
	Eventually(t, 15*time.Second, "all three servers answering the ping", func() bool {
		got = answers("app")
		return len(got) == 3
	})
	if got[0] || got[1] || got[2] {
		t.Errorf("with the import: sync_always %v; want all false", got)
	}
	if n := len(answers("other")); n != 0 {
		t.Errorf("without the import: %d answers, want none", n)
	}
}
