package dryrun

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/caddy-webhooks/caddy-webhooks/internal/testbed"
)

const (
	shopRules = "../examples/shop/rules.yaml"
	demoHAR   = "testdata/demo.har"
)

// wantEvent is an event expected of the demo session: at the exchange
// index, with these gjson paths of its data.
type wantEvent struct {
	index  int
	event  string
	fields map[string]string // gjson path → raw JSON
}

// demoEvents are the events the shop's rules infer from the demo session
// (examples/shop/har_test.go), its ids read from the recording.
func demoEvents(t *testing.T) []wantEvent {
	t.Helper()
	har, err := os.ReadFile(demoHAR)
	if err != nil {
		t.Fatal(err)
	}
	entry := func(i int, path string) gjson.Result {
		return gjson.Get(gjson.GetBytes(har, "log.entries."+strconv.Itoa(i)+".response.content.text").String(), path)
	}
	cust, order := entry(1, "_id").Raw, entry(4, "_id").Raw
	number := entry(4, "orderNumber").Raw
	olderURL := gjson.GetBytes(har, "log.entries.14.request.url").String()
	older := `"` + strings.TrimSuffix(olderURL[strings.Index(olderURL, "/api/orders/")+len("/api/orders/"):], "/status") + `"`
	return []wantEvent{
		{1, "customer.created", map[string]string{"customerId": cust, "email": `"jean@example.ch"`, "lastName": `"Muller"`, "siteId": `"site-2"`}},
		{3, "customer.updated", map[string]string{"customerId": cust, "changedFields": `["lastName","phone"]`}},
		{4, "order.created", map[string]string{"orderId": order, "orderNumber": number, "total": "31", "status": `"pending"`}},
		// The order's fields come from the state that order.created and
		// the GET left: Stripe's callback does not show them.
		{7, "order.paid", map[string]string{"orderId": order, "orderNumber": number, "total": "31", "payment.transactionId": `"pi_1"`}},
		// The redelivery (9) fires nothing: the GET (8) remembered the
		// order paid. Then the callback forgot it, so the status change
		// (10) prefetches it: from that GET.
		{10, "order.status_changed", map[string]string{"orderId": order, "oldStatus": `"paid"`, "newStatus": `"processing"`}},
		{12, "order.status_changed", map[string]string{"orderId": order, "oldStatus": `"processing"`, "newStatus": `"shipped"`, "trackingNumber": `"99.00.1234"`}},
		{12, "order.shipped", map[string]string{"orderId": order, "shipping.trackingNumber": `"99.00.1234"`}},
		// An order placed before the recording: no state, no GET of it
		// to answer the prefetch, so no old status (live, the handler
		// would have asked the shop).
		{14, "order.status_changed", map[string]string{"orderId": older, "oldStatus": "null", "newStatus": `"cancelled"`}},
	}
}

// checkDemoEvents checks the events printed for the demo session.
func checkDemoEvents(t *testing.T, stdout string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	want := demoEvents(t)
	if len(lines) != len(want) {
		t.Fatalf("%d events, want %d:\n%s", len(lines), len(want), stdout)
	}
	for i, w := range want {
		var ev Event
		if err := json.Unmarshal([]byte(lines[i]), &ev); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, lines[i])
		}
		if ev.Index != w.index || ev.Event != w.event || ev.Status == 0 || ev.Request == "" || ev.Site == "" {
			t.Errorf("event %d: %s", i, lines[i])
		}
		for path, v := range w.fields {
			if got := gjson.GetBytes(ev.Data, path).Raw; got != v {
				t.Errorf("event %d (%s at %d): data.%s = %s, want %s", i, ev.Event, ev.Index, path, got, v)
			}
		}
	}
	if strings.Contains(strings.ToLower(stdout), "password") {
		t.Errorf("an event has a password:\n%s", stdout)
	}
}

func TestDemoHAR(t *testing.T) {
	var out, errOut bytes.Buffer
	cfg := Config{RuleFiles: []string{shopRules}, HAR: demoHAR, MaxBody: DefaultMaxBody}
	if err := cfg.Run(&out, &errOut); err != nil {
		t.Fatal(err)
	}
	checkDemoEvents(t, out.String())
	for _, want := range []string{
		"dry run: 16 exchanges, 8 events (nothing was stored or sent)\n",
		"../examples/shop/rules.yaml:146 order.paid: matched 2, fired 1, skipped 0\n  when false: 1\n  forgotten: 2\n",
		"../examples/shop/rules.yaml:174 order.status_changed: matched 4, fired 3, skipped 0\n  when false: 1\n  remembered: 4\n" +
			"  prefetch: from the recording: 1\n  prefetch: not in the recording: 1\n",
		"../examples/shop/rules.yaml:217 (state only): matched 2\n  remembered: 2\n",
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("the summary lacks %q:\n%s", want, errOut.String())
		}
	}
	if strings.Contains(errOut.String(), "note:") {
		t.Errorf("a HAR with every body has no note on bodies:\n%s", errOut.String())
	}
}

func TestJSONSummary(t *testing.T) {
	var out, errOut bytes.Buffer
	cfg := Config{RuleFiles: []string{shopRules}, HAR: demoHAR, MaxBody: DefaultMaxBody, JSONSummary: true}
	if err := cfg.Run(&out, &errOut); err != nil {
		t.Fatal(err)
	}
	var s Summary
	if err := json.Unmarshal(errOut.Bytes(), &s); err != nil {
		t.Fatalf("%v:\n%s", err, errOut.String())
	}
	if s.Exchanges != 16 || s.Events != 8 || len(s.Rules) != 7 {
		t.Fatalf("summary: %+v", s)
	}
	r := s.Rules[2]
	if r.Rule != shopRules+":174 order.status_changed" || r.File != shopRules || r.Line != 174 || r.Matched != 4 || r.Fired != 3 ||
		r.WhenFalse != 1 || r.Notes[notePrefetchNotRecorded] != 1 {
		t.Errorf("order.status_changed: %+v", r)
	}
}

// TestCommandErrors runs `webhooks test` in this process through its cobra
// command, with bad flags and bad files.
func TestCommandErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badRules := write("bad.yaml", "events:\n  - name: order.created\n    match: { method: POST, path: /api/orders, status: 2xz }\n")
	empty := write("empty.yaml", "events: []\n")
	badHAR := write("bad.har", harOf(`{"request":{"method":"GET","url":"http://h/"},"response":{"status":200}}`,
		`{"request":{"method":"GET","url":"http://h/"},"response":{"status":"x"}}`))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--har", demoHAR}, "--rules is required: the rule file(s) to test"},
		{[]string{"--rules", shopRules}, "a recording is required: --har <file> or --log <file>"},
		{[]string{"--rules", shopRules, "--har", demoHAR, "--log", "x.log"}, "give one recording: --har or --log, not both"},
		{[]string{"--rules", shopRules, "--har", demoHAR, "--max-body", "0"}, "--max-body must be positive, got 0"},
		{[]string{"--rules", shopRules, "--har", demoHAR, "--bogus"}, "unknown flag: --bogus"},
		{[]string{"--rules", shopRules, "--har", demoHAR, "extra"}, `unknown command "extra" for "test"`},
		{[]string{"--rules", badRules, "--har", demoHAR}, badRules + `:3: event order.created: bad status "2xz": want a code 100-599 or a class 1xx-5xx`},
		{[]string{"--rules", empty, "--har", demoHAR}, empty + `:1: no events: "events" is empty`},
		{[]string{"--rules", filepath.Join(dir, "none.yaml"), "--har", demoHAR}, "rules: open " + filepath.Join(dir, "none.yaml") + ": no such file or directory"},
		{[]string{"--rules", shopRules, "--har", filepath.Join(dir, "none.har")}, "reading the recording: open " + filepath.Join(dir, "none.har") + ": no such file or directory"},
		{[]string{"--rules", shopRules, "--har", badHAR}, badHAR + ": entry 1: json: cannot unmarshal string into Go struct field .response.status of type float64"},
		{[]string{"--rules", shopRules, "--log", demoHAR}, demoHAR + ": line 1: not a JSON log line: unexpected end of JSON input (at byte 1)"},
	} {
		cmd := testCommand()
		var out, errOut bytes.Buffer
		cmd.SetArgs(tc.args)
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err := cmd.Execute()
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v:\n got %v\nwant %s", tc.args, err, tc.want)
		}
		if out.Len() > 0 {
			t.Errorf("%v: printed events:\n%s", tc.args, out.String())
		}
	}
}

// TestStdin reads the recording from stdin (-).
func TestStdin(t *testing.T) {
	har, err := os.ReadFile(demoHAR)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	cfg := Config{RuleFiles: []string{shopRules}, HAR: "-", MaxBody: DefaultMaxBody, Stdin: bytes.NewReader(har)}
	if err := cfg.Run(&out, &errOut); err != nil {
		t.Fatal(err)
	}
	checkDemoEvents(t, out.String())
	cfg.Stdin = strings.NewReader("{")
	if err := cfg.Run(&out, &errOut); err == nil || err.Error() != "stdin: not a HAR file: unexpected EOF" {
		t.Errorf("bad stdin: %v", err)
	}
}

// TestCaddyWebhooksTest runs the real `caddy webhooks test` of the Caddy
// binary built from ./cmd/caddy.
func TestCaddyWebhooksTest(t *testing.T) {
	caddy := testbed.CaddyBinary(t)
	run := func(args ...string) (stdout, stderr string, code int) {
		t.Helper()
		cmd := exec.Command(caddy, append([]string{"webhooks", "test"}, args...)...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
	}

	out, errOut, code := run("--rules", shopRules, "--har", demoHAR)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	checkDemoEvents(t, out)
	if !strings.HasPrefix(errOut, "dry run: 16 exchanges, 8 events") {
		t.Errorf("stderr:\n%s", errOut)
	}

	_, errOut, code = run("--rules", shopRules, "--log", "testdata/access.log", "--json-summary")
	if code != 0 || !json.Valid([]byte(errOut)) || gjson.Get(errOut, "response_bodies_not_recorded").Int() != 4 {
		t.Errorf("--log --json-summary: exit %d:\n%s", code, errOut)
	}

	bad := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(bad, []byte("events:\n  - name: order.created\n    match: { method: POSTT, path: /api/orders }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = run("--rules", bad, "--har", demoHAR)
	if code == 0 || out != "" || !strings.Contains(errOut, bad+`:3: event order.created: bad method "POSTT"`) {
		t.Errorf("bad rules: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	_, errOut, code = run("--rules", shopRules)
	if code == 0 || !strings.Contains(errOut, "a recording is required") {
		t.Errorf("no recording: exit %d, stderr:\n%s", code, errOut)
	}
	// `caddy webhooks` alone shows its help, which names test.
	cmd := exec.Command(caddy, "webhooks")
	help, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(help), "test") {
		t.Errorf("caddy webhooks: %v\n%s", err, help)
	}
}
