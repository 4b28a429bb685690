// Command receiver is the fast webhook subscriber of the delivery benchmark
// (bench/delivery.sh). It answers 200 at once to every POST and records, for
// each delivery, when it arrived, the event's id and timestamp from the body,
// and the X-Webhook-Attempt header. It does not verify signatures: the
// benchmark measures delivery, and examples/ has a receiver that verifies.
//
//	POST <any path>   a delivery: 200, empty body
//	GET  /count       "distinct D received R duplicates U bad B last_ns T":
//	                  cheap, for polling while deliveries arrive
//	GET  /stats       counts and latency as JSON; ?format=text gives
//	                  "key value" lines for shell scripts. ?from=&to= (unix
//	                  nanoseconds) select a window of receipt times for the
//	                  window_* figures; either may be left out.
//
// Each distinct event id is counted once; a second delivery of the same id
// counts as a duplicate (allowed by at-least-once delivery, but reported).
// A delivery whose body has no "id", no parsable "timestamp", or whose
// X-Webhook-Attempt is not a positive integer is counted as bad.
//
// Latency is receipt time minus the body's "timestamp" (when the event was
// inferred). The timestamp has millisecond resolution (truncated), so both
// ends are truncated to the millisecond and the latency is a whole number
// of milliseconds, exact to within ±1 ms.
//
// It prints "listening on <addr>" once the listener is open, so -addr
// 127.0.0.1:0 can be used. On SIGTERM or SIGINT it prints the final stats
// (text format) to stdout and, with -records FILE, writes one CSV line per
// delivery: recv_unix_ns,event_ts_unix_ms,attempt,event_id.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// record is one delivery as received.
type record struct {
	recvNs  int64 // receipt time, unix nanoseconds
	tsMs    int64 // the event's timestamp, unix milliseconds
	attempt int32
	id      string
}

type receiver struct {
	mu         sync.Mutex
	records    []record
	seen       map[string]int32 // event id -> deliveries received
	duplicates int64
	retried    int64 // deliveries with X-Webhook-Attempt > 1
	bad        int64
	badSamples []string
	events     map[string]int64 // by event name
}

func newReceiver() *receiver {
	return &receiver{
		records: make([]record, 0, 1<<16),
		seen:    make(map[string]int32, 1<<16),
		events:  map[string]int64{},
	}
}

// envelope is the part of a delivery's body that the benchmark reads.
type envelope struct {
	ID        string `json:"id"`
	Event     string `json:"event"`
	Timestamp string `json:"timestamp"`
}

func (rv *receiver) hook(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	recv := time.Now()
	w.WriteHeader(http.StatusOK) // sent when the handler returns, a few µs from now
	if err != nil {
		rv.markBad(fmt.Sprintf("reading body: %v", err))
		return
	}
	var env envelope
	var problems []string
	if err := json.Unmarshal(body, &env); err != nil {
		problems = append(problems, fmt.Sprintf("body is not JSON: %v", err))
	}
	if !strings.HasPrefix(env.ID, "evt_") {
		problems = append(problems, fmt.Sprintf("id %q is not an event id", env.ID))
	}
	if env.Event == "" {
		problems = append(problems, "no event name")
	}
	ts, err := time.Parse(time.RFC3339Nano, env.Timestamp)
	if err != nil {
		problems = append(problems, fmt.Sprintf("timestamp %q: %v", env.Timestamp, err))
	}
	attempt, err := strconv.ParseInt(r.Header.Get("X-Webhook-Attempt"), 10, 32)
	if err != nil || attempt < 1 {
		problems = append(problems, fmt.Sprintf("X-Webhook-Attempt %q is not a positive integer", r.Header.Get("X-Webhook-Attempt")))
	}
	if len(problems) > 0 {
		rv.markBad(strings.Join(problems, "; ") + fmt.Sprintf(" (body %.200q)", body))
		return
	}

	rv.mu.Lock()
	rv.records = append(rv.records, record{recvNs: recv.UnixNano(), tsMs: ts.UnixMilli(), attempt: int32(attempt), id: env.ID})
	if rv.seen[env.ID]++; rv.seen[env.ID] > 1 {
		rv.duplicates++
	}
	if attempt > 1 {
		rv.retried++
	}
	rv.events[env.Event]++
	rv.mu.Unlock()
}

func (rv *receiver) markBad(why string) {
	rv.mu.Lock()
	rv.bad++
	if len(rv.badSamples) < 5 {
		rv.badSamples = append(rv.badSamples, why)
	}
	rv.mu.Unlock()
}

// latency summarises whole-millisecond latencies.
type latency struct {
	N    int     `json:"n"`
	Min  int64   `json:"min"`
	P50  int64   `json:"p50"`
	P90  int64   `json:"p90"`
	P99  int64   `json:"p99"`
	Max  int64   `json:"max"`
	Mean float64 `json:"mean"`
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.999999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func summarise(ms []int64) latency {
	if len(ms) == 0 {
		return latency{}
	}
	slices.Sort(ms)
	var sum int64
	for _, v := range ms {
		sum += v
	}
	return latency{
		N: len(ms), Min: ms[0], P50: percentile(ms, 50), P90: percentile(ms, 90), P99: percentile(ms, 99),
		Max: ms[len(ms)-1], Mean: float64(sum) / float64(len(ms)),
	}
}

// stats is what GET /stats answers.
type stats struct {
	Received   int64            `json:"received"`
	Distinct   int64            `json:"distinct"`
	Duplicates int64            `json:"duplicates"`
	Retried    int64            `json:"retried"`
	Bad        int64            `json:"bad"`
	BadSamples []string         `json:"bad_samples"`
	Events     map[string]int64 `json:"events"`
	FirstNs    int64            `json:"first_ns"`
	LastNs     int64            `json:"last_ns"`
	LatencyMs  latency          `json:"latency_ms"` // every delivery so far

	WindowFromNs   int64   `json:"window_from_ns"`
	WindowToNs     int64   `json:"window_to_ns"`
	WindowReceived int64   `json:"window_received"`
	WindowPerSec   float64 `json:"window_per_sec"`
	// WindowLatencyMs is over the deliveries received in the window.
	WindowLatencyMs latency `json:"window_latency_ms"`
}

// stats computes the figures; from and to (unix ns, 0 = open) select the
// window of receipt times.
func (rv *receiver) stats(from, to int64) stats {
	rv.mu.Lock()
	st := stats{
		Received: int64(len(rv.records)) + rv.bad, Distinct: int64(len(rv.seen)), Duplicates: rv.duplicates,
		Retried: rv.retried, Bad: rv.bad, BadSamples: slices.Clone(rv.badSamples), Events: map[string]int64{},
	}
	for k, v := range rv.events {
		st.Events[k] = v
	}
	all := make([]int64, len(rv.records))
	var win []int64
	for i, rec := range rv.records {
		l := rec.recvNs/int64(time.Millisecond) - rec.tsMs
		all[i] = l
		if (from == 0 || rec.recvNs >= from) && (to == 0 || rec.recvNs < to) {
			win = append(win, l)
		}
	}
	if n := len(rv.records); n > 0 {
		st.FirstNs, st.LastNs = rv.records[0].recvNs, rv.records[n-1].recvNs
	}
	rv.mu.Unlock()
	if st.BadSamples == nil {
		st.BadSamples = []string{}
	}

	st.LatencyMs = summarise(all)
	st.WindowFromNs, st.WindowToNs = from, to
	if st.WindowFromNs == 0 {
		st.WindowFromNs = st.FirstNs
	}
	if st.WindowToNs == 0 {
		st.WindowToNs = st.LastNs
	}
	st.WindowReceived = int64(len(win))
	if d := st.WindowToNs - st.WindowFromNs; d > 0 {
		st.WindowPerSec = float64(len(win)) / (float64(d) / 1e9)
	}
	st.WindowLatencyMs = summarise(win)
	return st
}

// text renders st as "key value" lines, sorted, for shell scripts.
func (st stats) text() string {
	lines := []string{ //nolint:prealloc // printed once, at the end of a run
		fmt.Sprintf("received %d", st.Received),
		fmt.Sprintf("distinct %d", st.Distinct),
		fmt.Sprintf("duplicates %d", st.Duplicates),
		fmt.Sprintf("retried %d", st.Retried),
		fmt.Sprintf("bad %d", st.Bad),
		fmt.Sprintf("first_ns %d", st.FirstNs),
		fmt.Sprintf("last_ns %d", st.LastNs),
		fmt.Sprintf("window_from_ns %d", st.WindowFromNs),
		fmt.Sprintf("window_to_ns %d", st.WindowToNs),
		fmt.Sprintf("window_received %d", st.WindowReceived),
		fmt.Sprintf("window_per_sec %.1f", st.WindowPerSec),
	}
	for _, l := range []struct {
		prefix string
		v      latency
	}{{"latency_ms", st.LatencyMs}, {"window_latency_ms", st.WindowLatencyMs}} {
		lines = append(lines,
			fmt.Sprintf("%s_n %d", l.prefix, l.v.N),
			fmt.Sprintf("%s_min %d", l.prefix, l.v.Min),
			fmt.Sprintf("%s_p50 %d", l.prefix, l.v.P50),
			fmt.Sprintf("%s_p90 %d", l.prefix, l.v.P90),
			fmt.Sprintf("%s_p99 %d", l.prefix, l.v.P99),
			fmt.Sprintf("%s_max %d", l.prefix, l.v.Max),
			fmt.Sprintf("%s_mean %.2f", l.prefix, l.v.Mean),
		)
	}
	for k, v := range st.Events {
		lines = append(lines, fmt.Sprintf("event_%s %d", k, v))
	}
	for i, s := range st.BadSamples {
		lines = append(lines, fmt.Sprintf("bad_sample_%d %s", i+1, strings.ReplaceAll(s, "\n", " ")))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func (rv *receiver) serveStats(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var bounds [2]int64
	for i, name := range []string{"from", "to"} {
		if s := q.Get(name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				http.Error(w, name+" must be unix nanoseconds", http.StatusBadRequest)
				return
			}
			bounds[i] = n
		}
	}
	st := rv.stats(bounds[0], bounds[1])
	if q.Get("format") == "text" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, st.text())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(st)
}

func (rv *receiver) serveCount(w http.ResponseWriter, _ *http.Request) {
	rv.mu.Lock()
	var last int64
	if n := len(rv.records); n > 0 {
		last = rv.records[n-1].recvNs
	}
	line := fmt.Sprintf("distinct %d received %d duplicates %d bad %d last_ns %d\n",
		len(rv.seen), int64(len(rv.records))+rv.bad, rv.duplicates, rv.bad, last)
	rv.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, line)
}

func (rv *receiver) writeRecords(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	fmt.Fprintln(bw, "recv_unix_ns,event_ts_unix_ms,attempt,event_id")
	rv.mu.Lock()
	for _, rec := range rv.records {
		fmt.Fprintf(bw, "%d,%d,%d,%s\n", rec.recvNs, rec.tsMs, rec.attempt, rec.id)
	}
	rv.mu.Unlock()
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9100", "listen address (host:port; port 0 picks a free one)")
	recordsPath := flag.String("records", "", "on exit, write one CSV line per delivery to this file")
	flag.Parse()

	rv := newReceiver()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", rv.serveStats)
	mux.HandleFunc("GET /count", rv.serveCount)
	mux.HandleFunc("/", rv.hook)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("receiver: %v", err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	_ = os.Stdout.Sync()

	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Fatalf("receiver: %v", err)
		}
	}()
	<-sigs
	_ = srv.Close()
	fmt.Print("== final stats\n" + rv.stats(0, 0).text())
	if *recordsPath != "" {
		if err := rv.writeRecords(*recordsPath); err != nil {
			log.Fatalf("receiver: writing records: %v", err)
		}
		fmt.Printf("records written to %s\n", *recordsPath)
	}
}
