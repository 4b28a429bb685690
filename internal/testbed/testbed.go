// Package testbed starts the real processes that integration tests need:
// the Caddy binary built from ./cmd/caddy, on free loopback ports, stopped
// when the test ends.
package testbed

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	caddyBin  string
	buildErr  error //nolint:errname // the build's outcome, kept for later callers; not a sentinel
)

// Root returns the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// CaddyBinary builds ./cmd/caddy once per test process and returns its path.
// The binaries go to one directory, one per test process (go build's cache
// makes all but the first build of a run quick), and each build removes
// those of processes that have ended, so runs do not pile binaries up.
func CaddyBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		caddyBin, buildErr = buildBinary("caddy", Root(), "./cmd/caddy")
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return caddyBin
}

// buildBinary builds pkg in the module at dir as name-run-<pid> in the
// tests' temp folder, one per test process, and removes those of test
// processes that have ended, so that runs do not pile binaries up.
func buildBinary(name, dir, pkg string) (string, error) {
	out := filepath.Join(os.TempDir(), "caddy-webhooks-test")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	tmp := filepath.Join(out, fmt.Sprintf("%s-%d", name, os.Getpid()))
	cmd := exec.Command("go", "build", "-o", tmp, pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s (in %s): %w\n%s", pkg, dir, err, b)
	}
	bin := filepath.Join(out, fmt.Sprintf("%s-run-%d", name, os.Getpid()))
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	cleanupOldRuns(out, name+"-run-%d")
	return bin, nil
}

// cleanupOldRuns removes the binaries named like pattern (with the pid of
// the test process that built them) of processes that no longer run.
func cleanupOldRuns(dir, pattern string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), pattern, &pid); err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// FreePort returns a loopback TCP port that was free a moment ago and that
// this process has not handed out before: a port freed by FreePort can come
// back from the kernel at once, and Caddy binds with SO_REUSEPORT, so two
// of its listeners given the same port would silently share it. Ports are
// drawn below the kernel's ephemeral range, which the kernel hands to
// listeners on port 0 (httptest servers of other test processes running in
// parallel) and would otherwise give away between FreePort and its use.
func FreePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	lo, hi := 10000, ephemeralLow()-1
	for try := 0; ; try++ {
		addr := "127.0.0.1:0"
		if hi-lo > 1000 && try < 100 {
			addr = fmt.Sprintf("127.0.0.1:%d", lo+rand.IntN(hi-lo))
		}
		l, err := net.Listen("tcp", addr)
		if err != nil && addr == "127.0.0.1:0" {
			t.Fatal(err)
		}
		if err != nil {
			continue // taken: draw again
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !portsGiven[port] {
			portsGiven[port] = true
			return port
		}
	}
}

// ephemeralLow is the first port of the kernel's ephemeral range.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	var low, high int
	if err != nil {
		return 32768
	}
	if _, err := fmt.Sscan(string(b), &low, &high); err != nil || low < 1024 {
		return 32768
	}
	return low
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// Eventually polls cond every few milliseconds until it holds or timeout
// passes, then fails the test with msg.
func Eventually(t testing.TB, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", timeout, msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Caddy is a running Caddy process.
type Caddy struct {
	t         testing.TB
	Dir       string // the process's home: data dir, logs, config
	AdminAddr string // host:port of its admin endpoint
	LogFile   string // JSON log lines (configured by the test's Caddyfile via {LOG})
	config    string
	cmd       *exec.Cmd
	out       *syncBuffer
	done      chan struct{}
}

// Config placeholders that StartCaddy fills in: {ADMIN} the admin address,
// {LOG} the log file path, {DIR} the process's own directory.
const (
	AdminPlaceholder = "{ADMIN}"
	LogPlaceholder   = "{LOG}"
	DirPlaceholder   = "{DIR}"
)

// StartCaddy writes caddyfile (after filling the placeholders) into a new
// directory, runs Caddy on it and waits until its admin endpoint answers.
// dir may be "" for a new temporary directory, or an earlier process's Dir
// to restart on the same data. env (KEY=value) is added to the process's
// environment.
func StartCaddy(t testing.TB, dir, caddyfile string, env ...string) *Caddy {
	t.Helper()
	c := launch(t, dir, caddyfile, env)
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-c.done:
			t.Fatalf("caddy exited at start:\n%s%s", c.Output(), c.Logs()) // the config's log, if it has one
		default:
		}
		if c.answers() {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("caddy admin %s never answered:\n%s", c.AdminAddr, c.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// StartCaddyFails runs Caddy like StartCaddy, expects it to exit (a config
// it refuses at start) and returns what it printed and logged (a config's
// `log` sends the error to the log file). Caddy's admin endpoint answers
// before its apps start, so only the exit tells.
func StartCaddyFails(t testing.TB, dir, caddyfile string, env ...string) string {
	t.Helper()
	var logged int64 // what an earlier process on dir logged
	if fi, err := os.Stat(filepath.Join(dir, "caddy.log")); dir != "" && err == nil {
		logged = fi.Size()
	}
	c := launch(t, dir, caddyfile, env)
	select {
	case <-c.done:
		return c.Output() + c.Logs()[logged:]
	case <-time.After(30 * time.Second):
		t.Fatalf("caddy still runs after 30s, want it to fail at start:\n%s", c.Output())
		return ""
	}
}

// launch writes the config and starts the process.
func launch(t testing.TB, dir, caddyfile string, env []string) *Caddy {
	t.Helper()
	bin := CaddyBinary(t)
	if dir == "" {
		dir = t.TempDir()
	}
	c := &Caddy{t: t, Dir: dir, AdminAddr: fmt.Sprintf("127.0.0.1:%d", FreePort(t)), LogFile: filepath.Join(dir, "caddy.log")}
	c.config = strings.NewReplacer(AdminPlaceholder, c.AdminAddr, LogPlaceholder, c.LogFile, DirPlaceholder, dir).Replace(caddyfile)
	cfgPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(c.config), 0o600); err != nil {
		t.Fatal(err)
	}
	c.out = new(syncBuffer)
	c.cmd = exec.Command(bin, "run", "--config", cfgPath, "--adapter", "caddyfile")
	c.cmd.Dir = Root()
	c.cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	c.cmd.Env = append(c.cmd.Env, env...)
	c.cmd.Stdout = c.out
	c.cmd.Stderr = c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.done = make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(c.Kill)
	return c
}

// answers says whether the admin endpoint answers.
func (c *Caddy) answers() bool {
	resp, err := apiClient.Get("http://" + c.AdminAddr + "/config/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// Exited returns how the process ended, or nil while it runs.
func (c *Caddy) Exited() *os.ProcessState {
	select {
	case <-c.done:
		return c.cmd.ProcessState
	default:
		return nil
	}
}

// Output returns what the process printed.
func (c *Caddy) Output() string { return c.out.String() }

// Logs returns the process's log file.
func (c *Caddy) Logs() string {
	b, _ := os.ReadFile(c.LogFile)
	return string(b)
}

// LogLines returns the decoded JSON lines of the process's log file.
func (c *Caddy) LogLines() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(c.Logs()))
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// Kill ends the process with SIGKILL (no cleanup, as in a crash).
func (c *Caddy) Kill() {
	if c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
		<-c.done
	}
}

// Stop ends the process gracefully (SIGTERM) and waits for it.
func (c *Caddy) Stop() {
	c.t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		c.t.Errorf("caddy did not stop within 30s; killing it")
		c.Kill()
	}
}

// Load posts a new Caddyfile config to the admin endpoint (a reload), with
// the same placeholders as StartCaddy. It returns the status and body.
func (c *Caddy) Load(caddyfile string) (int, string) {
	c.t.Helper()
	cfg := strings.NewReplacer(AdminPlaceholder, c.AdminAddr, LogPlaceholder, c.LogFile, DirPlaceholder, c.Dir).Replace(caddyfile)
	req, _ := http.NewRequest(http.MethodPost, "http://"+c.AdminAddr+"/load", strings.NewReader(cfg))
	req.Header.Set("Content-Type", "text/caddyfile")
	// Loading the same config again changes nothing more, so a load that
	// met a reset (sendAdmin) is sent again.
	resp, err := sendAdmin(req, func(err error) bool { return errors.Is(err, syscall.ECONNRESET) })
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// Validate runs `caddy validate` on a Caddyfile and returns its combined
// output and whether it succeeded.
func Validate(t testing.TB, caddyfile string) (string, bool) {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(caddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(CaddyBinary(t), "validate", "--config", cfgPath, "--adapter", "caddyfile")
	cmd.Dir = Root()
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"))
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// syncBuffer is a bytes.Buffer safe for the process's writers and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Global returns the global options block that integration tests share:
// the admin endpoint on {ADMIN}, no automatic HTTPS, no autosaved config, a
// JSON debug log in {LOG}, and the webhooks app storing in {DIR}/webhooks
// with webhooks (more lines of its block, such as `retry 1s`) added.
func Global(webhooks string) string {
	return GlobalStorage("{DIR}/webhooks", webhooks)
}

// GlobalStorage is Global with the webhooks app's storage given: the
// arguments of its storage option, a block included (nats { … }).
func GlobalStorage(storage, webhooks string) string {
	return `{
	admin {ADMIN}
	auto_https off
	persist_config off
	log {
		output file {LOG}
		format json
		level DEBUG
	}
	webhooks {
		storage ` + storage + `
		` + webhooks + `
	}
}
`
}

// Site is a Caddyfile site on 127.0.0.1:port with the webhooks handler
// (rules: a path, absolute or relative to the repository root) in front of
// reverse_proxy to upstream.
func Site(port int, rules string, upstream fmt.Stringer) string {
	if !filepath.IsAbs(rules) {
		rules = filepath.Join(Root(), rules)
	}
	return fmt.Sprintf(`http://127.0.0.1:%d {
	webhooks {
		rules %s
	}
	reverse_proxy %s
}
`, port, rules, upstream)
}

// DirContains reports whether a file under dir holds s (a secret that must
// not be stored in clear, say).
func DirContains(t testing.TB, dir, s string) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		found = found || bytes.Contains(b, []byte(s))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}
