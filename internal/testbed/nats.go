package testbed

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	natsOnce     sync.Once
	natsBin      string
	natsBuildErr error //nolint:errname // the build's outcome, kept for later callers; not a sentinel
)

// NATSBinary builds nats-server, pinned in tools/go.mod, once per test
// process and returns its path; like CaddyBinary, it removes the binaries
// of test processes that have ended.
func NATSBinary(t testing.TB) string {
	t.Helper()
	natsOnce.Do(func() {
		natsBin, natsBuildErr = buildBinary("nats-server", filepath.Join(Root(), "tools"), "github.com/nats-io/nats-server/v2")
	})
	if natsBuildErr != nil {
		t.Fatal(natsBuildErr)
	}
	return natsBin
}

// NATSCluster is a cluster of nats-server processes with JetStream, on
// free loopback ports, each fsyncing every write (sync_interval: always).
type NATSCluster struct {
	t     testing.TB
	Nodes []*NATSNode
}

// NATSNode is one server of a NATSCluster.
type NATSNode struct {
	t           testing.TB
	Name        string // server_name: n1, n2, …
	Dir         string // its config, JetStream store and log
	ClientURL   string // nats://127.0.0.1:port
	MonitorAddr string // host:port of its HTTP monitor (/healthz, /jsz, /varz)
	config      string
	cmd         *exec.Cmd
	out         *syncBuffer
	done        chan struct{}
}

// NATSAccounts is a NATSOptions.Config with accounts for the fsync check:
// APP (user app, password app) imports the system account's
// $SYS.REQ.SERVER.PING.JSZ service, which answers each server's JetStream
// settings; OTHER (other/other) does not.
const NATSAccounts = `
accounts {
	SYS: {
		users: [{user: sys, password: sys}]
		exports: [{service: "$SYS.REQ.SERVER.PING.JSZ", response: stream}]
	}
	APP: {
		jetstream: enabled
		users: [{user: app, password: app}]
		imports: [{service: {account: SYS, subject: "$SYS.REQ.SERVER.PING.JSZ"}}]
	}
	OTHER: {
		jetstream: enabled
		users: [{user: other, password: other}]
	}
}
system_account: SYS
`

// NATSOptions tunes StartNATS; the zero value is a three-node cluster.
type NATSOptions struct {
	Nodes int // default 3
	// NoSyncAlways leaves the servers' default fsync interval (2 minutes)
	// instead of sync_interval: always.
	NoSyncAlways bool
	// Config is added to each server's configuration (accounts, say).
	Config string
}

// StartNATS starts a cluster of nats-server processes with routes between
// all of them, waits until each is healthy and JetStream has a meta
// leader, and stops them when the test ends.
func StartNATS(t testing.TB, opts NATSOptions) *NATSCluster {
	t.Helper()
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	bin := NATSBinary(t)
	c := &NATSCluster{t: t}
	clusterPorts := make([]int, opts.Nodes)
	routes := make([]string, opts.Nodes)
	for i := range clusterPorts {
		clusterPorts[i] = FreePort(t)
		routes[i] = fmt.Sprintf("nats://127.0.0.1:%d", clusterPorts[i])
	}
	syncLine := "sync_interval: always"
	if opts.NoSyncAlways {
		syncLine = ""
	}
	for i := range opts.Nodes {
		n := &NATSNode{
			t: t, Name: fmt.Sprintf("n%d", i+1), Dir: t.TempDir(),
			ClientURL: fmt.Sprintf("nats://127.0.0.1:%d", FreePort(t)), MonitorAddr: fmt.Sprintf("127.0.0.1:%d", FreePort(t)),
		}
		n.config = fmt.Sprintf(`server_name: %s
listen: %s
http: %s
jetstream {
	store_dir: %q
	%s
}
cluster {
	name: testbed
	listen: 127.0.0.1:%d
	routes: [%s]
}
%s
`, n.Name, strings.TrimPrefix(n.ClientURL, "nats://"), n.MonitorAddr, filepath.Join(n.Dir, "jetstream"), syncLine,
			clusterPorts[i], strings.Join(routes, ", "), opts.Config)
		if err := os.WriteFile(filepath.Join(n.Dir, "nats.conf"), []byte(n.config), 0o600); err != nil {
			t.Fatal(err)
		}
		n.start(bin)
		c.Nodes = append(c.Nodes, n)
	}
	for _, n := range c.Nodes {
		n.waitReady(60 * time.Second)
	}
	t.Cleanup(func() { // the servers' logs tell elections and lost routes
		if t.Failed() {
			for _, n := range c.Nodes {
				t.Logf("nats-server %s log:\n%s", n.Name, n.Output())
			}
		}
	})
	return c
}

// URL is the comma-separated list of the servers' client URLs.
func (c *NATSCluster) URL() string {
	urls := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		urls[i] = n.ClientURL
	}
	return strings.Join(urls, ",")
}

// Node returns the node named name (a server_name such as a stream
// leader's), or fails the test.
func (c *NATSCluster) Node(name string) *NATSNode {
	c.t.Helper()
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	c.t.Fatalf("no NATS node named %q", name)
	return nil
}

// start runs the server on its config.
func (n *NATSNode) start(bin string) {
	n.out = new(syncBuffer)
	n.cmd = exec.Command(bin, "-c", filepath.Join(n.Dir, "nats.conf"))
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.done = make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(n.done) }()
	n.t.Cleanup(n.Kill)
}

// waitReady polls the monitor until /healthz answers 200 (JetStream
// enabled and current with the meta leader) and /jsz names a meta leader.
func (n *NATSNode) waitReady(timeout time.Duration) {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	for !n.ready() {
		select {
		case <-n.done:
			n.t.Fatalf("nats-server %s exited at start:\n%s", n.Name, n.Output())
		default:
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("nats-server %s not ready after %s:\n%s", n.Name, timeout, n.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (n *NATSNode) ready() bool {
	resp, err := http.Get("http://" + n.MonitorAddr + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	var jsz struct {
		Meta *struct {
			Leader string `json:"leader"`
		} `json:"meta_cluster"`
	}
	return n.Monitor("/jsz", &jsz) == nil && jsz.Meta != nil && jsz.Meta.Leader != ""
}

// Monitor GETs a monitoring endpoint (such as /varz) and decodes its JSON
// into v.
func (n *NATSNode) Monitor(path string, v any) error {
	resp, err := http.Get("http://" + n.MonitorAddr + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// Kill ends the server with SIGKILL (no flush, as in a crash).
func (n *NATSNode) Kill() {
	if n.cmd.Process != nil {
		_ = n.cmd.Process.Signal(syscall.SIGKILL)
		<-n.done
	}
}

// Restart starts a killed server again on the same config and store, and
// waits until it is ready.
func (n *NATSNode) Restart() {
	n.t.Helper()
	select {
	case <-n.done:
	default:
		n.t.Fatalf("nats-server %s is still running", n.Name)
	}
	n.start(NATSBinary(n.t))
	n.waitReady(60 * time.Second)
}

// Output returns what the server printed (its log).
func (n *NATSNode) Output() string { return n.out.String() }
