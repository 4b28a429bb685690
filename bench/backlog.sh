#!/usr/bin/env bash
# bench/backlog.sh: how much memory Caddy with the webhooks module takes
# with a large backlog of pending deliveries, and while it drains it.
#
# One Caddy with the module (Badger, or NATS with BACKENDS, durability sync, the rule of
# bench/rules.yaml) in front of bench/upstream, and one subscription to a
# fast loopback receiver (bench/receiver) whose rate_limit (HOLD_RATE, 1/h)
# holds its deliveries back. Then:
#   a. idle: Caddy's RSS right after start;
#   b. fill: wrk POSTs orders until BACKLOG events (so BACKLOG pending
#      deliveries) are stored, then the backlog is left at rest for SETTLE;
#      Caddy's RSS and its peak are sampled every second;
#   c. release: the subscription's rate_limit is PATCHed to RELEASE_RATE and
#      the drain is timed until the receiver has every event, sampling RSS;
#   d. check: the receiver's distinct events == the events inferred.
# Missing a target is a result (the table says MISSES), not an error.
#
# Usage: bench/backlog.sh            (from any directory)
#        BACKENDS="badger nats" bench/backlog.sh: each backend in turn (a
#        run of this script each, the NATS cluster started for its turn),
#        then the results side by side
# Env:   BACKLOG=100000 (1000000 works: it takes a while to fill)
#        CONNECTIONS=32 THREADS=2 WRK_TIMEOUT=5s WORKERS=64
#        HOLD_RATE=1/h RELEASE_RATE=100000/s SETTLE=5s
#        FILL_TIMEOUT=30m DRAIN_TIMEOUT=10m SHOW_EVERY=5s PROFILE=0|1
#        GOGC, GOMEMLIMIT (passed on to Caddy as usual)
#        MEMORY_LIMIT=150MiB: Caddy runs in a memory cgroup with that limit,
#        as in a container (root only; Caddy sets its Go soft limit to 90%,
#        the module lowers it to half)
#        CADDY_BIN=<prebuilt caddy with the module> KEEP_TMP=1
#        TMPDIR=<where the temp dir, and so Badger's files, go>
# See bench/README.md.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"

BACKLOG="${BACKLOG:-100000}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
WRK_TIMEOUT="${WRK_TIMEOUT:-5s}"
WORKERS="${WORKERS:-64}"
HOLD_RATE="${HOLD_RATE:-1/h}"
RELEASE_RATE="${RELEASE_RATE:-100000/s}"
SETTLE="${SETTLE:-5s}"
FILL_TIMEOUT="${FILL_TIMEOUT:-30m}"
DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-10m}"
SHOW_EVERY="${SHOW_EVERY:-5s}"
PROFILE="${PROFILE:-0}"
BACKENDS="${BACKENDS:-badger}"
MEMORY_LIMIT="${MEMORY_LIMIT:-}"
CADDY_BIN="${CADDY_BIN:-}"
KEEP_TMP="${KEEP_TMP:-0}"

# Targets from the issue: idle, then a 100k backlog (filled, held, drained
# at >= 5,000/s) in 150 MiB, a 1M one in 250 MiB.
TARGET_IDLE_MIB=60
TARGET_DRAIN_RATE=5000
if ((${BACKLOG:-0} > 100000)); then TARGET_MIB=250; else TARGET_MIB=150; fi

INVOCATION="$0${*:+ $*}"
START_DIR="$PWD"

# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

# secs DURATION: whole seconds of "20", "20s" or "2m".
secs() {
	case "$1" in
	*[!0-9sm]* | "" | s | m) return 1 ;;
	*m) [[ "${1%m}" =~ ^[0-9]+$ ]] && echo $((${1%m} * 60)) ;;
	*s) [[ "${1%s}" =~ ^[0-9]+$ ]] && echo "${1%s}" ;;
	*) [[ "$1" =~ ^[0-9]+$ ]] && echo "$1" ;;
	esac
}
for v in SETTLE FILL_TIMEOUT DRAIN_TIMEOUT SHOW_EVERY; do
	secs "${!v}" >/dev/null || die "$v must be whole seconds or minutes like 20s or 2m (got '${!v}')"
done
SETTLE_S=$(secs "$SETTLE") FILL_S=$(secs "$FILL_TIMEOUT") DRAIN_S=$(secs "$DRAIN_TIMEOUT") SHOW_S=$(secs "$SHOW_EVERY")
((SHOW_S > 0)) || die "SHOW_EVERY must be at least 1s"
((FILL_S > 0 && DRAIN_S > 0)) || die "FILL_TIMEOUT and DRAIN_TIMEOUT must be at least 1s"
[[ "$BACKLOG" =~ ^[1-9][0-9]*$ ]] || die "BACKLOG must be a positive integer (got '$BACKLOG')"
[[ "$CONNECTIONS" =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive integer (got '$CONNECTIONS')"
[[ "$THREADS" =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive integer (got '$THREADS')"
[[ "$WORKERS" =~ ^[1-9][0-9]*$ ]] || die "WORKERS must be a positive integer (got '$WORKERS')"
for v in HOLD_RATE RELEASE_RATE; do
	[[ "${!v}" =~ ^[1-9][0-9]*/[smh]$ ]] || die "$v must look like 1/h or 100000/s (got '${!v}')"
done
[[ "$PROFILE" == 0 || "$PROFILE" == 1 ]] || die "PROFILE must be 0 or 1 (got '$PROFILE')"
[[ -z "$MEMORY_LIMIT" || "$MEMORY_LIMIT" =~ ^[1-9][0-9]*MiB$ ]] || die "MEMORY_LIMIT must look like 150MiB (got '$MEMORY_LIMIT')"
((THREADS <= CONNECTIONS)) || THREADS="$CONNECTIONS" # wrk needs connections >= threads
[[ -r /proc/self/status ]] || die "this benchmark reads /proc/<pid>/status (Linux only)"

WORK_PREFIX=caddy-webhooks-backlog
KEPT_WHAT="Caddyfile, logs, wrk output, the per-second timeline, receiver records, heap profiles"
bench_setup
# bench/ is a Go module of its own (bench/go.mod): its programs build there.
for tool in upstream freeport receiver; do
	(cd "$BENCH_DIR" && go build -o "$WORK/bin/$tool" "./$tool") || die "building bench/$tool failed"
done
# grep without -q: under pipefail, grep quitting early kills list-modules
# with SIGPIPE and fails the check.
"$CADDY" list-modules 2>/dev/null | grep -x 'http.handlers.webhooks' >/dev/null ||
	die "$CADDY has no http.handlers.webhooks module (list-modules)"

# ---------------------------------------------------------------------------
# Helpers.

now_ns() { date +%s%N; }

# store_du: the size on disk of the store (Badger's directory, or the NATS
# servers' JetStream directories together).
store_du() {
	# du fails when a compaction deletes a file it is reading: no reason to
	# stop a run (set -e and pipefail would).
	if [[ $BACKEND == badger ]]; then
		{ du -sh "$WORK/webhooks" 2>/dev/null || true; } | cut -f1
	else
		{ du -shc "$WORK"/nats/n*/jetstream 2>/dev/null || true; } | tail -n 1 | cut -f1
	fi
}

# nats_rss: the NATS servers' RSS together, in MiB.
nats_rss() {
	local pid sum=0 k
	for pid in "${NATS_PIDS[@]}"; do
		k="$(proc_kib "$pid" VmRSS)"
		sum=$((sum + ${k:-0}))
	done
	mib "$sum"
}

# side_by_side: runs this script once per backend of BACKENDS with the
# binary built here, its output in $WORK/<backend>.log and on stdout, then
# prints the measures of each run's results in columns; exits with the
# first failure's status.
side_by_side() {
	local b rc=0 r
	for b in "${BACKEND_LIST[@]}"; do
		log ""
		log "################ backend: $b ($0 with BACKLOG_BACKEND=$b) ################"
		r=0
		BACKLOG_BACKEND=$b CADDY_BIN="$CADDY" "$BENCH_DIR/backlog.sh" 2>&1 | tee "$WORK/$b.log" || r=$?
		((rc != 0)) || rc=$r
	done
	log ""
	log "== side by side (each backend's run above; RSS is Caddy's, the NATS servers' own is in the nats run's details)"
	log ""
	local files=()
	for b in "${BACKEND_LIST[@]}"; do files+=("$WORK/$b.log"); done
	awk -v backends="${BACKEND_LIST[*]}" '
		BEGIN { n = split(backends, bs, " ") }
		FNR == 1 { b = FILENAME; sub(/.*\//, "", b); sub(/\.log$/, "", b); inres = 0 }
		/^== results/ { inres = 1; next }
		inres && /^details:/ { inres = 0 }
		inres && /^\(/ {
			m = substr($0, 1, 54); sub(/ +$/, "", m)
			v = substr($0, 56, 16); gsub(/^ +| +$/, "", v)
			t = substr($0, 75); verdict = ""
			if (index(t, ": ") > 0) { verdict = substr(t, index(t, ": ") + 2); t = substr(t, 1, index(t, ": ") - 1) }
			if (!(m in seen)) { seen[m] = 1; order[++k] = m }
			val[m, b] = v (verdict == "" ? "" : " " verdict); tgt[m] = t
		}
		END {
			printf "%-54s", "measure"; for (i = 1; i <= n; i++) printf " %24s", bs[i]; printf "   %s\n", "target"
			for (j = 1; j <= k; j++) {
				m = order[j]; printf "%-54s", m
				for (i = 1; i <= n; i++) printf " %24s", val[m, bs[i]]
				printf "   %s\n", tgt[m]
			}
		}' "${files[@]}"
	exit "$rc"
}

# http_status PORT METHOD PATH [BODY]: prints the status code only.
http_status() {
	{ http_request "$@" 2>/dev/null || true; } | head -n 1 | tr -d '\r' | awk '{print $2}' || true
}

# http_body PORT METHOD PATH [BODY]: prints the body only (text responses).
http_body() {
	{ http_request "$@" 2>/dev/null || true; } | tr -d '\r' | sed '1,/^$/d'
}

check_all_alive() {
	[[ $BACKEND != nats ]] || check_nats_alive
	check_alive "$UP_PID" upstream "$WORK/upstream.log"
	check_alive "$RCV_PID" receiver "$WORK/receiver.log"
	check_alive "$CADDY_PID" caddy "$WORK/caddy.log"
}

# metrics: sets M_EVENTS (caddy_webhooks_events_total) and M_DEPTH (the
# caddy_webhooks_queue_depth gauge, "-" when absent) from the admin /metrics.
metrics() {
	local body e d
	body="$(http_request "$ADMIN_PORT" GET /metrics 2>/dev/null || true)"
	read -r e d < <(awk '
		/^caddy_webhooks_events_total(\{| )/ { e += $NF; fe = 1 }
		/^caddy_webhooks_queue_depth(\{| )/ { d += $NF; fd = 1 }
		END { printf "%s %s\n", fe ? sprintf("%.0f", e) : "-", fd ? sprintf("%.0f", d) : "-" }' <<<"$body")
	# A scrape that failed (an admin endpoint too slow to answer) keeps the
	# last values.
	[[ "$e" == - && -n "${M_EVENTS:-}" ]] || M_EVENTS=$e
	[[ "$d" == - && -n "${M_DEPTH:-}" ]] || M_DEPTH=$d
}

# rcv_count: sets R_DISTINCT R_RECEIVED R_DUPLICATES R_BAD R_LAST_NS from the receiver's /count.
rcv_count() {
	local line
	line="$(http_body "$RCV_PORT" GET /count)"
	read -r _ R_DISTINCT _ R_RECEIVED _ R_DUPLICATES _ R_BAD _ R_LAST_NS <<<"$line" || true
	[[ "${R_DISTINCT:-}" =~ ^[0-9]+$ ]] || die "receiver /count answered '$line'"
}

# kv FILE KEY: one value from a "key value" file.
kv() { awk -v k="$2" '$1 == k { print $2; exit }' "$1"; }

# sample PHASE: appends "phase t_s rss_kib hwm_kib anon_kib file_kib
# events received queue_depth" to the timeline (t from the start of the
# fill); sets S_RSS, S_HWM, S_ANON (RssAnon: the Go heap, stacks, Badger's
# memtables) and S_FILE (RssFile: the binary and the pages of Badger's
# memory-mapped files), and raises MAX_ANON and MAX_FILE. Cheap: /proc,
# /metrics and the receiver's /count.
sample() {
	local t
	t=$(now_ns)
	S_RSS="$(proc_kib "$CADDY_PID" VmRSS)" S_HWM="$(proc_kib "$CADDY_PID" VmHWM)"
	S_ANON="$(proc_kib "$CADDY_PID" RssAnon)" S_FILE="$(proc_kib "$CADDY_PID" RssFile)"
	S_RSS=${S_RSS:-0} S_HWM=${S_HWM:-0} S_ANON=${S_ANON:-0} S_FILE=${S_FILE:-0}
	((S_ANON > MAX_ANON)) && MAX_ANON=$S_ANON
	((S_FILE > MAX_FILE)) && MAX_FILE=$S_FILE
	metrics
	rcv_count
	printf '%s %s %s %s %s %s %s %s %s\n' "$1" "$(awk -v d=$((t - T0)) 'BEGIN { printf "%.1f", d / 1e9 }')" \
		"$S_RSS" "$S_HWM" "$S_ANON" "$S_FILE" "$M_EVENTS" "$R_DISTINCT" "$M_DEPTH" >>"$WORK/timeline.txt"
}
MAX_ANON=0 MAX_FILE=0

# memstats NAME: the Go runtime's view of Caddy's memory (the
# runtime.MemStats lines of /debug/pprof/heap?debug=1) into
# $WORK/memstats-NAME.txt; prints "heap in use H MiB, heap idle not
# returned I MiB, runtime total (Sys) S MiB".
memstats() {
	local f="$WORK/memstats-$1.txt"
	HTTP_TIMEOUT=30 http_body "$ADMIN_PORT" GET '/debug/pprof/heap?debug=1' | sed -n '/^# runtime.MemStats/,$p' >"$f"
	awk '$1 == "#" && $3 == "=" { v[$2] = $4 }
		END { if (!("Sys" in v)) { print "?"; exit }
			printf "Go heap in use %.1f MiB, heap idle not returned %.1f MiB, runtime total (Sys) %.1f MiB, GC cycles %d",
				v["HeapInuse"] / 1048576, (v["HeapIdle"] - v["HeapReleased"]) / 1048576, v["Sys"] / 1048576, v["NumGC"] }' "$f"
}

# heap_profile NAME: with PROFILE=1, saves a heap profile of Caddy and
# prints its top in-use entries.
heap_profile() {
	((PROFILE)) || return 0
	local f="$WORK/heap-$1.pb.gz"
	PPROF_TMPDIR="$WORK/pprof" go tool pprof -proto -output "$f" "http://127.0.0.1:$ADMIN_PORT/debug/pprof/heap" >"$WORK/pprof-$1.log" 2>&1 ||
		{ warn "heap profile $1 failed (see $WORK/pprof-$1.log)"; return 0; }
	log ""
	log "== heap profile ($1): go tool pprof -top -sample_index=inuse_space -nodecount=20 $CADDY $f"
	go tool pprof -top -sample_index=inuse_space -nodecount=20 "$CADDY" "$f" 2>/dev/null | sed 's/^/  /' || true
	log ""
}

# ---------------------------------------------------------------------------
# Environment.

ORDER_BODY='{"site":"site-1","currency":"CHF","customer":{"email":"jane.doe@example.com","name":"Jane Doe"},"items":[{"sku":"SKU-001","quantity":2},{"sku":"SKU-002","quantity":1}]}'

# One backend per run of the script (BACKLOG_BACKEND, set for the runs this
# one starts): memory is measured in one Caddy with nothing else of this
# benchmark running, so several backends are several runs in turn.
parse_backends
if [[ -z "${BACKLOG_BACKEND:-}" && ${#BACKEND_LIST[@]} -gt 1 ]]; then
	side_by_side # and exits
fi
BACKEND="${BACKLOG_BACKEND:-${BACKEND_LIST[0]}}"
[[ $BACKEND == badger || $BACKEND == nats ]] || die "BACKLOG_BACKEND must be badger or nats (got '$BACKEND')"
if [[ $BACKEND == nats ]]; then
	build_nats
	start_nats "$WORK/nats"
fi

log ""
log "== environment"
log "command:     $INVOCATION   (cwd $START_DIR)"
log "settings:    BACKLOG=$BACKLOG CONNECTIONS=$CONNECTIONS THREADS=$THREADS WRK_TIMEOUT=$WRK_TIMEOUT WORKERS=$WORKERS"
log "             HOLD_RATE=$HOLD_RATE RELEASE_RATE=$RELEASE_RATE SETTLE=$SETTLE FILL_TIMEOUT=$FILL_TIMEOUT DRAIN_TIMEOUT=$DRAIN_TIMEOUT"
log "             SHOW_EVERY=$SHOW_EVERY PROFILE=$PROFILE MEMORY_LIMIT=${MEMORY_LIMIT:-(none)} GOGC=${GOGC:-(unset)} GOMEMLIMIT=${GOMEMLIMIT:-(unset)} GODEBUG=${GODEBUG:-(unset)}"
log "nproc:       $(nproc)  (caddy, wrk, the upstream and the receiver all share these cores)"
log "memory:      $(awk '/^MemTotal:/ { printf "%.1f GiB total", $2 / 1048576 } /^MemAvailable:/ { printf ", %.1f GiB available", $2 / 1048576 }' /proc/meminfo)"
log "cpu:         $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)"
log "kernel:      $(uname -srm)"
log "go:          $(go version)"
log "wrk:         $(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }')"
log "caddy:       $("$CADDY" version 2>/dev/null | head -n 1)"
log "repo:        $REPO_DIR @ $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo '?')$([[ -n "$(git -C "$REPO_DIR" status --porcelain 2>/dev/null | head -n 1)" ]] && echo ' (with uncommitted changes)')"
log "temp dir:    $WORK (filesystem: $(stat -f -c %T "$WORK"), $(df -h --output=avail "$WORK" | tail -n 1 | tr -d ' ') free; $([[ $BACKEND == badger ]] && echo "Badger in $WORK/webhooks" || echo "the NATS servers' files in $WORK/nats"))"
log "backend:     $BACKEND$([[ $BACKEND == nats ]] && echo " ($NATS_NODES local servers, replicas $NATS_NODES, sync_interval: always, on the same cores)")"
log "load avg:    $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------------------
# Start.

log ""
log "== starting upstream, receiver, caddy"
start_bin "$WORK" upstream -addr 127.0.0.1:0
UP_PID=$LAST_PID UP_PORT=$LAST_PORT
start_bin "$WORK" receiver -addr 127.0.0.1:0 -records "$WORK/receiver-records.csv"
RCV_PID=$LAST_PID RCV_PORT=$LAST_PORT
log "upstream:    $WORK/bin/upstream -addr 127.0.0.1:0 -> 127.0.0.1:$UP_PORT (pid $UP_PID)"
log "receiver:    $WORK/bin/receiver -addr 127.0.0.1:0 -records $WORK/receiver-records.csv -> 127.0.0.1:$RCV_PORT (pid $RCV_PID)"

mapfile -t PORTS < <("$WORK/bin/freeport" -n 2)
[[ ${#PORTS[@]} -eq 2 ]] || die "could not get 2 free ports"
HTTP_PORT=${PORTS[0]} ADMIN_PORT=${PORTS[1]}
mkdir -p "$WORK/caddy-data" "$WORK/xdg-data" "$WORK/xdg-config" "$WORK/pprof"
cat >"$WORK/Caddyfile" <<EOF
{
	admin 127.0.0.1:$ADMIN_PORT
	storage file_system $WORK/caddy-data
	persist_config off
	default_bind 127.0.0.1
	log {
		level ERROR
	}
	webhooks {
$(storage_block "$BACKEND" "$WORK" | sed 's/^/\t/')
		durability sync
		allow_private_targets
		workers $WORKERS
		rate_limit $RELEASE_RATE
	}
}

http://127.0.0.1:$HTTP_PORT {
	webhooks {
		rules $BENCH_DIR/rules.yaml
	}
	reverse_proxy 127.0.0.1:$UP_PORT
}
EOF

# soft_limit_source: Caddy's Go soft limit (go_gc_gomemlimit_bytes, read
# once the store is open) and who set it: the user (GOMEMLIMIT,
# AUTOMEMLIMIT), or Caddy's main (90% of the cgroup's limit), which the
# module lowers to half when that leaves too little room.
soft_limit_source() {
	local mib="?" half=$((${MEMORY_LIMIT%MiB} / 2)) who
	[[ "$SOFT_LIMIT" =~ ^[0-9]+$ ]] && mib=$((SOFT_LIMIT / 1048576))
	if [[ -n "${GOMEMLIMIT:-}" || -n "${AUTOMEMLIMIT:-}" ]]; then
		who="GOMEMLIMIT=${GOMEMLIMIT:-(unset)} AUTOMEMLIMIT=${AUTOMEMLIMIT:-(unset)}"
	elif [[ $mib == "$half" ]]; then
		who="half of the limit, set by the module over the 90% of Caddy's main"
	else
		who="Caddy's main sets 90% of the limit"
	fi
	echo "$mib MiB: $who"
}

RUN_IN=()
if [[ -n "$MEMORY_LIMIT" ]]; then
	memory_cgroup "$WORK_PREFIX-$$" $((${MEMORY_LIMIT%MiB} * 1048576))
	RUN_IN=(in_cgroup "$CGROUP")
	# A copy made in the cgroup, so that the binary's pages are charged to
	# it as in a container (the kernel charges a page cache page to the
	# cgroup that first read it: here, an earlier run's).
	(in_cgroup "$CGROUP" cp "$CADDY" "$WORK/bin/caddy-capped") || die "copying $CADDY in the cgroup failed"
	CADDY="$WORK/bin/caddy-capped"
	log "memory cap:  Caddy ($CADDY, a copy made in the cgroup) runs in the cgroup $CGROUP, limited to $MEMORY_LIMIT"
fi
XDG_DATA_HOME="$WORK/xdg-data" XDG_CONFIG_HOME="$WORK/xdg-config" \
	"${RUN_IN[@]}" "$CADDY" run --config "$WORK/Caddyfile" --adapter caddyfile >"$WORK/caddy.log" 2>&1 &
CADDY_PID=$!
PIDS+=("$CADDY_PID")
wait_port "$HTTP_PORT" "$CADDY_PID" caddy "$WORK/caddy.log"
wait_port "$ADMIN_PORT" "$CADDY_PID" "caddy admin" "$WORK/caddy.log"
log "caddy:       http://127.0.0.1:$HTTP_PORT, admin 127.0.0.1:$ADMIN_PORT (pid $CADDY_PID), config $WORK/Caddyfile"
# Before the subscription, so these events have no deliveries.
wait_module_stores "$BACKEND" "$HTTP_PORT" "$ADMIN_PORT" "$CADDY_PID" "$WORK/caddy.log" "$ORDER_BODY"

# ---------------------------------------------------------------------------
# Phase a: idle.

IDLE_RSS="$(proc_kib "$CADDY_PID" VmRSS)" IDLE_HWM="$(proc_kib "$CADDY_PID" VmHWM)"
IDLE_SPLIT="anon $(mib "$(proc_kib "$CADDY_PID" RssAnon)") MiB, file $(mib "$(proc_kib "$CADDY_PID" RssFile)") MiB"
IDLE_GO="$(memstats idle)"
log "idle:        RSS $(mib "$IDLE_RSS") MiB ($IDLE_SPLIT; peak so far $(mib "$IDLE_HWM") MiB); $IDLE_GO"
heap_profile idle

SUB_BODY="{\"url\": \"http://127.0.0.1:$RCV_PORT/hook\", \"events\": [\"order.created\"], \"signature\": \"standard\", \"rate_limit\": \"$HOLD_RATE\"}"
SUB_RESP="$(http_request "$ADMIN_PORT" POST /webhooks/subscriptions "$SUB_BODY" | tr -d '\r')"
[[ "$(head -n 1 <<<"$SUB_RESP" | awk '{print $2}')" == 201 ]] ||
	die "creating the subscription failed: POST /webhooks/subscriptions $SUB_BODY answered: $(head -c 600 <<<"$SUB_RESP")"
SUB_ID="$(sed -n 's/.*"id": *"\(sub_[^"]*\)".*/\1/p' <<<"$SUB_RESP" | head -n 1)"
[[ -n "$SUB_ID" ]] || die "no subscription id in: $(head -c 600 <<<"$SUB_RESP")"
metrics
SOFT_LIMIT="$(metric_sum "$ADMIN_PORT" go_gc_gomemlimit_bytes)"
EV_BEFORE=$M_EVENTS # every event after this one has a delivery
[[ "$EV_BEFORE" != - ]] || die "caddy_webhooks_events_total not found on the admin /metrics"
log "subscription: $SUB_ID -> http://127.0.0.1:$RCV_PORT/hook (order.created, rate_limit $HOLD_RATE)"

# Smoke test: the first delivery goes out (the window is empty), the next one is held.
[[ "$(http_status "$HTTP_PORT" POST /api/orders "$ORDER_BODY")" == 201 ]] || die "smoke test: POST /api/orders did not give 201"
for ((i = 0; i < 150; i++)); do
	rcv_count
	((R_DISTINCT >= 1)) && break
	check_all_alive
	sleep 0.1
done
((R_DISTINCT >= 1)) || die "smoke test: the first delivery did not reach the receiver within 15 s (see $WORK/caddy.log)"
log "smoke test:  POST /api/orders gave 201 and its delivery reached the receiver; the next ones wait for the rate limit"

WRK_CMD=(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${FILL_S}s" --timeout "$WRK_TIMEOUT" -s "$BENCH_DIR/post.lua" "http://127.0.0.1:$HTTP_PORT/api/orders")
RELEASE_BODY="{\"rate_limit\": \"$RELEASE_RATE\"}"
log ""
log "== commands"
log "caddy:       XDG_DATA_HOME=$WORK/xdg-data XDG_CONFIG_HOME=$WORK/xdg-config $CADDY run --config $WORK/Caddyfile --adapter caddyfile"
sed 's/^/             | /' "$WORK/Caddyfile"
log "subscribe:   POST http://127.0.0.1:$ADMIN_PORT/webhooks/subscriptions $SUB_BODY"
log "fill:        ${WRK_CMD[*]}   (stopped with SIGINT once $BACKLOG events are stored)"
log "release:     PATCH http://127.0.0.1:$ADMIN_PORT/webhooks/subscriptions/$SUB_ID $RELEASE_BODY"
log "memory:      VmRSS and VmHWM of /proc/$CADDY_PID/status every second; VmHWM reset (clear_refs 5) at the release"
log "load avg:    $(cut -d' ' -f1-3 /proc/loadavg)"

# show_line PHASE: prints the last sample, every SHOW_EVERY.
NEXT_SHOW=0
show_line() {
	local t
	t=$(now_ns)
	((t >= NEXT_SHOW)) || return 0
	NEXT_SHOW=$((t + SHOW_S * 1000000000))
	printf '  %-5s t %6.1f s  rss %6s MiB (anon %6s, file %6s)  peak %6s MiB  events %8s  received %8s  queue_depth %8s\n' "$1" \
		"$(awk -v d=$((t - T0)) 'BEGIN { print d / 1e9 }')" "$(mib "$S_RSS")" "$(mib "$S_ANON")" "$(mib "$S_FILE")" "$(mib "$S_HWM")" \
		"$((M_EVENTS - EV_BEFORE))" "$R_DISTINCT" "$M_DEPTH"
}

# ---------------------------------------------------------------------------
# Phase b: fill, then hold.

log ""
log "== phase b: fill until $BACKLOG events are stored (at most $FILL_TIMEOUT), then hold ${SETTLE_S}s"
: >"$WORK/timeline.txt"
T0=$(now_ns)
"${WRK_CMD[@]}" >"$WORK/wrk.txt" 2>&1 &
WRK_PID=$!
PIDS+=("$WRK_PID")
FILLED=0
while kill -0 "$WRK_PID" 2>/dev/null; do
	sample fill
	show_line fill
	if ((M_EVENTS - EV_BEFORE >= BACKLOG)); then
		FILLED=1
		break
	fi
	check_all_alive
	sleep 1
done
T_FILLED=$(now_ns)
kill -INT "$WRK_PID" 2>/dev/null || true # wrk prints its summary on SIGINT
rc=0
wait "$WRK_PID" || rc=$?
forget_pid "$WRK_PID"
sample fill
cat "$WORK/wrk.txt"
((FILLED)) || die "wrk ended before $BACKLOG events were stored ($((M_EVENTS - EV_BEFORE)) after ${FILL_S}s, exit $rc): see above"
non2xx="$(awk -F': *' '/Non-2xx or 3xx responses/ { print $2 }' "$WORK/wrk.txt")"
sockerr="$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$WORK/wrk.txt")"
if [[ "${non2xx:-0}" != 0 || "${sockerr:-0}" != 0 ]]; then
	FAILED=1
	warn "wrk saw errors while filling (non-2xx ${non2xx:-0}, socket errors ${sockerr:-0}): ${WRK_CMD[*]}"
fi
FILL_MS=$(((T_FILLED - T0) / 1000000))
FILL_PEAK=$S_HWM
# At rest: the RSS with the backlog stored and nothing coming in.
HOLD_END=$(($(now_ns) + SETTLE_S * 1000000000))
while (($(now_ns) < HOLD_END)); do
	sleep 1
	sample hold
	show_line hold
	check_all_alive
done
sample hold
HOLD_RSS=$S_RSS HOLD_PEAK=$S_HWM
HOLD_NATS_RSS=$([[ $BACKEND == nats ]] && nats_rss || echo n/a)
HOLD_SPLIT="anon $(mib "$S_ANON") MiB, file $(mib "$S_FILE") MiB; sampled maxima since the fill began: anon $(mib "$MAX_ANON") MiB, file $(mib "$MAX_FILE") MiB"
EVENTS=$((M_EVENTS - EV_BEFORE)) # each has one delivery
HOLD_DEPTH=$M_DEPTH HOLD_RCV=$R_DISTINCT
HOLD_GO="$(memstats hold)"
STORE_DU="$(store_du)"
log "filled:      $EVENTS events in $((FILL_MS / 1000)).$(((FILL_MS % 1000) / 100)) s ($((EVENTS * 1000 / (FILL_MS > 0 ? FILL_MS : 1)))/s), $HOLD_RCV delivered, queue_depth $HOLD_DEPTH, store $STORE_DU"
log "held:        RSS $(mib "$HOLD_RSS") MiB ($HOLD_SPLIT), peak since start $(mib "$HOLD_PEAK") MiB"
log "             $HOLD_GO"
heap_profile hold

# ---------------------------------------------------------------------------
# Phase c: release and drain.

log ""
log "== phase c: release (rate_limit $RELEASE_RATE) and drain (at most $DRAIN_TIMEOUT)"
HWM_RESET=1
reset_hwm "$CADDY_PID" || { HWM_RESET=0; warn "could not reset VmHWM (clear_refs): the drain's peak is the sampled RSS maximum"; }
T_REL=$(now_ns)
s="$(http_status "$ADMIN_PORT" PATCH "/webhooks/subscriptions/$SUB_ID" "$RELEASE_BODY")"
[[ "$s" == 200 ]] || die "PATCH /webhooks/subscriptions/$SUB_ID $RELEASE_BODY answered '$s', want 200"
DRAINED=0 DRAIN_MAX_RSS=0 MAX_ANON=0 MAX_FILE=0
deadline=$((T_REL + DRAIN_S * 1000000000))
while :; do
	sample drain
	show_line drain
	((S_RSS > DRAIN_MAX_RSS)) && DRAIN_MAX_RSS=$S_RSS
	if ((R_DISTINCT >= EVENTS)); then
		DRAINED=1
		break
	fi
	(($(now_ns) >= deadline)) && break
	check_all_alive
	sleep 1
done
T_DRAINED=$(now_ns)
DRAIN_SPLIT="sampled maxima: anon $(mib "$MAX_ANON") MiB, file $(mib "$MAX_FILE") MiB"
LAST_NS=$R_LAST_NS
DRAIN_PEAK=$S_HWM
((HWM_RESET)) || DRAIN_PEAK=$DRAIN_MAX_RSS
DRAIN_RCV=$((R_DISTINCT - HOLD_RCV))
if ((DRAINED)); then
	DRAIN_MS=$(((LAST_NS - T_REL) / 1000000))
else
	DRAIN_MS=$(((T_DRAINED - T_REL) / 1000000))
fi
((DRAIN_MS > 0)) || DRAIN_MS=1
DRAIN_RATE=$((DRAIN_RCV * 1000 / DRAIN_MS))
sample after
AFTER_RSS=$S_RSS
AFTER_GO="$(memstats drained)"
heap_profile drained

# ---------------------------------------------------------------------------
# Phase d: checks.

rcv_count
LOST=$((EVENTS - R_DISTINCT))
if ((DRAINED == 0)); then
	FAILED=1
	warn "the backlog did not drain within DRAIN_TIMEOUT=$DRAIN_TIMEOUT: $R_DISTINCT of $EVENTS events delivered ($LOST missing; ~$((DRAIN_RATE > 0 ? LOST / DRAIN_RATE : 0)) s more at $DRAIN_RATE/s)"
fi
if ((R_BAD > 0)); then
	FAILED=1
	warn "$R_BAD deliveries failed the receiver's shape check (see GET /stats on the receiver, kept in $WORK with KEEP_TMP=1)"
fi
((R_DUPLICATES == 0)) || warn "$R_DUPLICATES duplicate deliveries (at-least-once allows them, but the receiver always answers 200)"
# The whole-store count decodes every delivery: read after the measurements.
HTTP_TIMEOUT=300 http_body "$ADMIN_PORT" GET /webhooks/stats >"$WORK/webhooks-stats.json"
Q_FAILED="$(tr -d ' \n\t' <"$WORK/webhooks-stats.json" | sed -n 's/.*"failed":\([0-9]*\).*/\1/p')"
if [[ -z "$Q_FAILED" ]]; then
	warn "GET /webhooks/stats gave no failed count: $(head -c 300 "$WORK/webhooks-stats.json")"
elif ((Q_FAILED > 0)); then
	FAILED=1
	warn "$Q_FAILED deliveries are stored as failed (the receiver always answers 200)"
fi
check_all_alive

# ---------------------------------------------------------------------------
# Results.

verdict() { # value target higher|lower
	awk -v v="$1" -v t="$2" -v dir="$3" 'BEGIN { ok = (dir == "higher") ? v >= t : v <= t; print ok ? "meets" : "MISSES" }'
}
FILL_PEAK_MIB=$(mib "$HOLD_PEAK") DRAIN_PEAK_MIB=$(mib "$DRAIN_PEAK")

log ""
log "== results (backlog $EVENTS held by rate_limit $HOLD_RATE, released to $RELEASE_RATE; $BACKEND, durability sync, workers $WORKERS; $(nproc) cores shared by caddy, wrk, the upstream and the receiver)"
log ""
printf '%-54s %16s   %s\n' "measure" "value" "target"
printf '%-54s %16s   %s\n' "(a) idle RSS after start" "$(mib "$IDLE_RSS") MiB" "<= $TARGET_IDLE_MIB MiB: $(verdict "$(mib "$IDLE_RSS")" $TARGET_IDLE_MIB lower)"
printf '%-54s %16s   %s\n' "(b) fill: events stored (wrk, sync)" "$EVENTS" ">= $BACKLOG"
printf '%-54s %16s   %s\n' "(b) fill time (rate)" "$((FILL_MS / 1000)) s ($((EVENTS * 1000 / (FILL_MS > 0 ? FILL_MS : 1)))/s)" ""
printf '%-54s %16s   %s\n' "(b) queue_depth held back (gauge, every 2 s)" "$HOLD_DEPTH" ""
printf '%-54s %16s   %s\n' "(b) peak RSS, start to end of fill and hold (VmHWM)" "$FILL_PEAK_MIB MiB" "<= $TARGET_MIB MiB: $(verdict "$FILL_PEAK_MIB" $TARGET_MIB lower)"
printf '%-54s %16s   %s\n' "(b) RSS holding the backlog at rest" "$(mib "$HOLD_RSS") MiB" ""
printf '%-54s %16s   %s\n' "(c) drain time (release to last receipt)" "$((DRAIN_MS / 1000)).$(((DRAIN_MS % 1000) / 100)) s" ""
printf '%-54s %16s   %s\n' "(c) drain rate" "$DRAIN_RATE/s" ">= $TARGET_DRAIN_RATE/s: $(verdict "$DRAIN_RATE" $TARGET_DRAIN_RATE higher)"
printf '%-54s %16s   %s\n' "(c) peak RSS while draining ($([[ $HWM_RESET == 1 ]] && echo VmHWM || echo 'sampled max'))" "$DRAIN_PEAK_MIB MiB" "<= $TARGET_MIB MiB: $(verdict "$DRAIN_PEAK_MIB" $TARGET_MIB lower)"
printf '%-54s %16s   %s\n' "(c) RSS once drained" "$(mib "$AFTER_RSS") MiB" ""
printf '%-54s %16s   %s\n' "(d) lost (events - distinct received)" "$LOST" "0: $( ((LOST == 0)) && echo meets || echo MISSES)"
if [[ -z "$MEMORY_LIMIT" && "$(verdict "$FILL_PEAK_MIB" $TARGET_MIB lower) $(verdict "$DRAIN_PEAK_MIB" $TARGET_MIB lower)" == *MISSES* ]]; then
	log ""
	log "note: the RSS targets are for a sidecar given a memory limit (a container's, or a systemd unit's MemoryMax=), which"
	log "      MEMORY_LIMIT=${TARGET_MIB}MiB measures; with none, RSS also counts the store's mapped pages, which nothing asks"
	log "      the kernel to take back, and the Go heap's growth between collections (bench/README.md, \"Without a memory limit\")"
fi
log ""
log "details:"
log "  RSS split, idle: $IDLE_SPLIT; holding: $HOLD_SPLIT; draining: $DRAIN_SPLIT"
log "  Go runtime, idle:    $IDLE_GO"
log "  Go runtime, held:    $HOLD_GO"
log "  Go runtime, drained: $AFTER_GO"
log "  receiver: $R_RECEIVED deliveries, $R_DISTINCT distinct, $R_DUPLICATES duplicates, $R_BAD bad; stored as failed: ${Q_FAILED:-?}"
log "  store on disk ($([[ $BACKEND == badger ]] && echo "Badger's directory" || echo "the NATS servers' JetStream directories")) after the fill: $STORE_DU; after the drain: $(store_du)"
if [[ $BACKEND == nats ]]; then
	log "  NATS servers' RSS (sum of $NATS_NODES) holding: $HOLD_NATS_RSS MiB; drained: $(nats_rss) MiB (not in Caddy's figures above)"
fi
if [[ -n "$MEMORY_LIMIT" ]]; then
	log "  memory cap: $MEMORY_LIMIT (Go soft limit: $(soft_limit_source)); times the cgroup hit its limit: $(cat "$CGROUP/memory.failcnt" 2>/dev/null || tr '\n' ' ' <"$CGROUP/memory.events" 2>/dev/null)"
fi
log "  load avg now: $(cut -d' ' -f1-3 /proc/loadavg)"
log "  per-second samples (phase, t s, rss, peak, anon, file KiB, events, received, queue_depth): $WORK/timeline.txt (kept with KEEP_TMP=1)"

if ((FAILED)); then
	die "at least one check failed (load errors, lost, bad or failed deliveries, no drain): see the warnings above"
fi
