#!/usr/bin/env bash
# bench/delivery.sh: how fast the webhooks module delivers the events it
# infers, and how long an event takes from inference to receipt.
#
# For each storage backend in BACKENDS (badger: embedded; nats: a local
# 3-server JetStream cluster), in turn: one Caddy with the module (durability
# sync) on that backend in front of bench/upstream, one subscription to a fast
# loopback receiver (bench/receiver), then:
#   1. light phase: POST /api/orders at a fixed light rate (bench/pace), so
#      the queue never backs up: inference-to-receipt latency, regime (a);
#   2. load phase: wrk drives POST /api/orders as fast as it can: deliveries
#      per second over a steady window, latency at full throughput, regime
#      (b), and the queue depth when the load stops;
#   3. drain: how long the queued deliveries take to reach the receiver.
# With more than one backend, a table puts their figures side by side.
#
# Usage: bench/delivery.sh            (from any directory)
# Env:   BACKENDS="badger" (or "badger nats", "nats")
#        LIGHT_RATE=200 LIGHT_DURATION=20s LIGHT_SKIP=2s
#        LOAD_DURATION=30s STEADY_SKIP=10s CONNECTIONS=32 THREADS=2 WRK_TIMEOUT=5s
#        DRAIN_TIMEOUT=60s WORKERS=64 RATE_LIMIT=100000/s SAMPLE_EVERY=5s
#        PROFILE=off|load|drain PROFILE_SECONDS=10
#        CADDY_BIN=<prebuilt caddy with the module> KEEP_TMP=1
#        TMPDIR=<where the temp dir, and so Badger's files, go>
# See bench/README.md.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"

LIGHT_RATE="${LIGHT_RATE:-200}"
LIGHT_DURATION="${LIGHT_DURATION:-20s}"
LIGHT_SKIP="${LIGHT_SKIP:-2s}"
LOAD_DURATION="${LOAD_DURATION:-30s}"
STEADY_SKIP="${STEADY_SKIP:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
WRK_TIMEOUT="${WRK_TIMEOUT:-5s}"
DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-60s}"
WORKERS="${WORKERS:-64}"
RATE_LIMIT="${RATE_LIMIT:-100000/s}"
PROFILE="${PROFILE:-off}"
PROFILE_SECONDS="${PROFILE_SECONDS:-10}"
SAMPLE_EVERY="${SAMPLE_EVERY:-5s}"
CADDY_BIN="${CADDY_BIN:-}"
KEEP_TMP="${KEEP_TMP:-0}"
BACKENDS="${BACKENDS:-badger}"

# Targets from the issue.
TARGET_RATE=5000     # deliveries/s while draining
TARGET_P50_MS=10     # (a), light load
TARGET_KEEPUP=0.95   # deliveries/s over inferred/s, steady window of the load
TARGET_B50_MS=50     # (b), full load
TARGET_B99_MS=500

INVOCATION="$0${*:+ $*}"
START_DIR="$PWD"

# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
HTTP_TIMEOUT=30 # the stats route counts the whole store

# secs DURATION: whole seconds of "20", "20s" or "2m".
secs() {
	case "$1" in
	*[!0-9sm]* | "" | s | m) return 1 ;;
	*m) [[ "${1%m}" =~ ^[0-9]+$ ]] && echo $((${1%m} * 60)) ;;
	*s) [[ "${1%s}" =~ ^[0-9]+$ ]] && echo "${1%s}" ;;
	*) [[ "$1" =~ ^[0-9]+$ ]] && echo "$1" ;;
	esac
}
for v in LIGHT_DURATION LIGHT_SKIP LOAD_DURATION STEADY_SKIP DRAIN_TIMEOUT SAMPLE_EVERY; do
	secs "${!v}" >/dev/null || die "$v must be whole seconds or minutes like 20s or 2m (got '${!v}')"
done
LIGHT_S=$(secs "$LIGHT_DURATION") LIGHT_SKIP_S=$(secs "$LIGHT_SKIP")
LOAD_S=$(secs "$LOAD_DURATION") STEADY_SKIP_S=$(secs "$STEADY_SKIP") DRAIN_S=$(secs "$DRAIN_TIMEOUT") SAMPLE_S=$(secs "$SAMPLE_EVERY")
((SAMPLE_S > 0)) || die "SAMPLE_EVERY must be at least 1s"
((LIGHT_S > LIGHT_SKIP_S)) || die "LIGHT_DURATION ($LIGHT_DURATION) must be longer than LIGHT_SKIP ($LIGHT_SKIP)"
((LOAD_S > STEADY_SKIP_S)) || die "LOAD_DURATION ($LOAD_DURATION) must be longer than STEADY_SKIP ($STEADY_SKIP)"
[[ "$LIGHT_RATE" =~ ^[1-9][0-9]*$ ]] || die "LIGHT_RATE must be a positive integer (got '$LIGHT_RATE')"
[[ "$CONNECTIONS" =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive integer (got '$CONNECTIONS')"
[[ "$THREADS" =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive integer (got '$THREADS')"
[[ "$WORKERS" =~ ^[1-9][0-9]*$ ]] || die "WORKERS must be a positive integer (got '$WORKERS')"
[[ "$RATE_LIMIT" =~ ^[1-9][0-9]*/[smh]$ ]] || die "RATE_LIMIT must look like 100000/s (got '$RATE_LIMIT')"
[[ "$PROFILE_SECONDS" =~ ^[1-9][0-9]*$ ]] || die "PROFILE_SECONDS must be a positive integer (got '$PROFILE_SECONDS')"
case "$PROFILE" in off | load | drain) ;; *) die "PROFILE must be off, load or drain (got '$PROFILE')" ;; esac
(( THREADS <= CONNECTIONS )) || THREADS="$CONNECTIONS" # wrk needs connections >= threads
parse_backends

WORK_PREFIX=caddy-webhooks-delivery
KEPT_WHAT="per backend: Caddyfile, logs, wrk output, receiver records, profiles"
bench_setup
# bench/ is a Go module of its own (bench/go.mod): its programs build there.
for tool in upstream freeport receiver pace; do
	(cd "$BENCH_DIR" && go build -o "$WORK/bin/$tool" "./$tool") || die "building bench/$tool failed"
done

"$CADDY" list-modules 2>/dev/null | grep -x 'http.handlers.webhooks' >/dev/null ||
	die "$CADDY has no http.handlers.webhooks module (list-modules)"
if has_backend nats; then build_nats; fi

# ---------------------------------------------------------------------------
# Helpers.

now_ns() { date +%s%N; }
# cpu_ticks PID: the user + system CPU time of PID so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# http_status PORT METHOD PATH [BODY]: prints the status code only.
http_status() {
	{ http_request "$@" 2>/dev/null || true; } | head -n 1 | tr -d '\r' | awk '{print $2}' || true
}

# http_body PORT METHOD PATH [BODY]: prints the body only (text responses).
http_body() {
	{ http_request "$@" 2>/dev/null || true; } | tr -d '\r' | sed '1,/^$/d'
}

check_all_alive() {
	check_alive "$UP_PID" upstream "$WORK/upstream.log"
	check_alive "$RCV_PID" receiver "$BW/receiver.log"
	check_alive "$CADDY_PID" caddy "$BW/caddy.log"
	check_nats_alive
}

# metric NAME [LABEL_MATCH]: sum of a metric's samples on Caddy's admin
# /metrics (optionally only the lines containing LABEL_MATCH); "absent"
# when there is none.
metric() {
	local name=$1 match=${2:-} body
	body="$(http_request "$ADMIN_PORT" GET /metrics 2>/dev/null || true)"
	awk -v n="$name" -v m="$match" '
		index($0, n "{") == 1 || index($0, n " ") == 1 { if (m == "" || index($0, m)) { s += $NF; found = 1 } }
		END { if (found) printf "%.0f\n", s; else print "absent" }' <<<"$body"
}

# rcv_count: sets R_DISTINCT R_RECEIVED R_DUPLICATES R_BAD R_LAST_NS from the receiver's /count.
rcv_count() {
	local line
	line="$(http_body "$RCV_PORT" GET /count)"
	read -r _ R_DISTINCT _ R_RECEIVED _ R_DUPLICATES _ R_BAD _ R_LAST_NS <<<"$line" || true
	[[ "${R_DISTINCT:-}" =~ ^[0-9]+$ ]] || die "receiver /count answered '$line'"
}

# rcv_stats FROM_NS TO_NS FILE: the receiver's /stats (text) for a window of receipt times.
rcv_stats() {
	http_body "$RCV_PORT" GET "/stats?format=text&from=$1&to=$2" >"$3"
	grep -q '^distinct ' "$3" || die "receiver /stats gave no figures (see $3)"
}

# kv FILE KEY: one value from a "key value" file.
kv() { awk -v k="$2" '$1 == k { print $2; exit }' "$1"; }

# webhooks_stats FILE: GET /webhooks/stats on the admin endpoint into FILE
# (JSON); sets Q_DEPTH, Q_PENDING, Q_SUCCEEDED, Q_FAILED, Q_EVENTS.
webhooks_stats() {
	local json
	http_body "$ADMIN_PORT" GET /webhooks/stats >"$1"
	json="$(tr -d ' \n\t' <"$1")"
	Q_DEPTH="$(sed -n 's/.*"queue_depth":\([0-9]*\).*/\1/p' <<<"$json")"
	Q_EVENTS="$(sed -n 's/.*"events":\([0-9]*\).*/\1/p' <<<"$json")"
	Q_PENDING="$(sed -n 's/.*"pending":\([0-9]*\).*/\1/p' <<<"$json")"
	Q_SUCCEEDED="$(sed -n 's/.*"succeeded":\([0-9]*\).*/\1/p' <<<"$json")"
	Q_FAILED="$(sed -n 's/.*"failed":\([0-9]*\).*/\1/p' <<<"$json")"
	[[ -n "$Q_DEPTH" ]] || die "GET /webhooks/stats gave no queue_depth: $(head -c 300 "$1")"
}

# sample PHASE T0_NS: appends "phase seconds-since-T0 events_total
# delivered queue_depth" to the timeline: events inferred (metric), distinct
# events received, and the caddy_webhooks_queue_depth gauge (set by the
# dispatcher; "-" when absent). Cheap enough to run under load.
sample() {
	local phase=$1 t0=$2 t body ev depth
	t=$(now_ns)
	body="$(http_request "$ADMIN_PORT" GET /metrics 2>/dev/null || true)"
	ev="$(awk '/^caddy_webhooks_events_total(\{| )/ { s += $NF; f = 1 } END { if (f) printf "%.0f", s; else print "-" }' <<<"$body")"
	depth="$(awk '/^caddy_webhooks_queue_depth(\{| )/ { s += $NF; f = 1 } END { if (f) printf "%.0f", s; else print "-" }' <<<"$body")"
	rcv_count
	printf '%s %s %s %s %s\n' "$phase" "$(awk -v d=$((t - t0)) 'BEGIN { printf "%.1f", d / 1e9 }')" "$ev" "$R_DISTINCT" "$depth" >>"$BW/timeline.txt"
}

# wait_delivered WANT TIMEOUT_S: polls the receiver until it has WANT
# distinct events or the timeout passes; returns 1 on timeout.
wait_delivered() {
	local want=$1 deadline=$(($(date +%s) + $2))
	while :; do
		rcv_count
		((R_DISTINCT >= want)) && return 0
		(($(date +%s) >= deadline)) && return 1
		check_all_alive
		sleep 0.2
	done
}

# start_profile NAME: fetches a CPU profile of Caddy in the background.
start_profile() {
	PROF_FILE="$BW/cpu-$1.pb.gz"
	log "profiling caddy for ${PROFILE_SECONDS}s: go tool pprof -proto -output $PROF_FILE http://127.0.0.1:$ADMIN_PORT/debug/pprof/profile?seconds=$PROFILE_SECONDS"
	PPROF_TMPDIR="$BW/pprof" go tool pprof -proto -output "$PROF_FILE" \
		"http://127.0.0.1:$ADMIN_PORT/debug/pprof/profile?seconds=$PROFILE_SECONDS" >"$BW/pprof-$1.log" 2>&1 &
	PROF_PID=$!
	PIDS+=("$PROF_PID")
}

finish_profile() {
	wait "$PROF_PID" || warn "pprof failed (see $BW/pprof-$PROFILE.log)"
	forget_pid "$PROF_PID"
	[[ -s "$PROF_FILE" ]] || return 0
	log ""
	log "== CPU profile of caddy ($PROFILE phase, ${PROFILE_SECONDS}s): go tool pprof -top -nodecount=30 $CADDY $PROF_FILE"
	go tool pprof -top -nodecount=30 "$CADDY" "$PROF_FILE" 2>/dev/null || true
	log ""
	log "== cumulative: go tool pprof -top -cum -nodecount=40 $CADDY $PROF_FILE"
	go tool pprof -top -cum -nodecount=40 "$CADDY" "$PROF_FILE" 2>/dev/null || true
}

# ---------------------------------------------------------------------------
# Environment.

ORDER_BODY='{"site":"site-1","currency":"CHF","customer":{"email":"jane.doe@example.com","name":"Jane Doe"},"items":[{"sku":"SKU-001","quantity":2},{"sku":"SKU-002","quantity":1}]}'

log ""
log "== environment"
log "command:     $INVOCATION   (cwd $START_DIR)"
log "backends:    ${BACKEND_LIST[*]}, one after the other$(has_backend nats && echo "  (nats: $NATS_NODES local servers, replicas $NATS_NODES, sync_interval: always, started for its turn, on the same cores)")"
log "settings:    LIGHT_RATE=$LIGHT_RATE LIGHT_DURATION=$LIGHT_DURATION LIGHT_SKIP=$LIGHT_SKIP LOAD_DURATION=$LOAD_DURATION STEADY_SKIP=$STEADY_SKIP"
log "             CONNECTIONS=$CONNECTIONS THREADS=$THREADS WRK_TIMEOUT=$WRK_TIMEOUT DRAIN_TIMEOUT=$DRAIN_TIMEOUT"
log "             WORKERS=$WORKERS RATE_LIMIT=$RATE_LIMIT SAMPLE_EVERY=$SAMPLE_EVERY PROFILE=$PROFILE PROFILE_SECONDS=$PROFILE_SECONDS"
log "nproc:       $(nproc)  (caddy, wrk/pace, the upstream, the receiver and the NATS servers all share these cores)"
log "cpu:         $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)"
log "kernel:      $(uname -srm)"
log "go:          $(go version)"
log "wrk:         $(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }')"
log "caddy:       $("$CADDY" version 2>/dev/null | head -n 1)"
log "repo:        $REPO_DIR @ $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo '?')$( [[ -n "$(git -C "$REPO_DIR" status --porcelain 2>/dev/null | head -n 1)" ]] && echo ' (with uncommitted changes)')"
log "temp dir:    $WORK (filesystem: $(stat -f -c %T "$WORK"); Badger in $WORK/badger/webhooks, NATS in $WORK/nats/nats/n*/jetstream)"
log "load avg:    $(cut -d' ' -f1-3 /proc/loadavg)"

log ""
log "== starting upstream"
BW="$WORK"
start_bin "$WORK" upstream -addr 127.0.0.1:0
UP_PID=$LAST_PID UP_PORT=$LAST_PORT
log "upstream:    $WORK/bin/upstream -addr 127.0.0.1:0 -> 127.0.0.1:$UP_PORT (pid $UP_PID)"

declare -A RES=() # "backend:measure" -> value, for the side-by-side table

# bench_backend BACKEND: the three phases on a Caddy with that storage
# backend, its own receiver (and, for nats, its own NATS cluster), all in
# $WORK/BACKEND and all ended before the next backend's turn.
bench_backend() {
	BACKEND=$1
	BW="$WORK/$BACKEND"
	mkdir -p "$BW/pprof"
	log ""
	log "################ backend: $BACKEND ################"

	mapfile -t PORTS < <("$WORK/bin/freeport" -n 2)
	[[ ${#PORTS[@]} -eq 2 ]] || die "could not get 2 free ports"
	HTTP_PORT=${PORTS[0]} ADMIN_PORT=${PORTS[1]}

	if [[ $BACKEND == nats ]]; then
		log "== starting nats"
		start_nats "$BW/nats"
	fi

	log "== starting receiver"
	start_bin "$BW" receiver -addr 127.0.0.1:0 -records "$BW/receiver-records.csv"
	RCV_PID=$LAST_PID RCV_PORT=$LAST_PORT
	log "receiver: 127.0.0.1:$RCV_PORT (pid $RCV_PID)"

	mkdir -p "$BW/caddy-data" "$BW/xdg-data" "$BW/xdg-config"
	cat >"$BW/Caddyfile" <<EOF
{
	admin 127.0.0.1:$ADMIN_PORT
	storage file_system $BW/caddy-data
	persist_config off
	default_bind 127.0.0.1
	log {
		level ERROR
	}
	webhooks {
$(storage_block "$BACKEND" "$BW" | sed 's/^/\t/')
		durability sync
		allow_private_targets
		workers $WORKERS
		rate_limit $RATE_LIMIT
	}
}

http://127.0.0.1:$HTTP_PORT {
	webhooks {
		rules $BENCH_DIR/rules.yaml
	}
	reverse_proxy 127.0.0.1:$UP_PORT
}
EOF

	log "== starting caddy"
	XDG_DATA_HOME="$BW/xdg-data" XDG_CONFIG_HOME="$BW/xdg-config" \
		"$CADDY" run --config "$BW/Caddyfile" --adapter caddyfile >"$BW/caddy.log" 2>&1 &
	CADDY_PID=$!
	PIDS+=("$CADDY_PID")
	wait_port "$HTTP_PORT" "$CADDY_PID" caddy "$BW/caddy.log"
	wait_port "$ADMIN_PORT" "$CADDY_PID" "caddy admin" "$BW/caddy.log"
	log "caddy: http://127.0.0.1:$HTTP_PORT, admin 127.0.0.1:$ADMIN_PORT (pid $CADDY_PID), config $BW/Caddyfile"
	# Before any subscription, so these events have no deliveries.
	wait_module_stores "$BACKEND" "$HTTP_PORT" "$ADMIN_PORT" "$CADDY_PID" "$BW/caddy.log" "$ORDER_BODY"

	SUB_BODY="{\"url\": \"http://127.0.0.1:$RCV_PORT/hook\", \"events\": [\"order.created\"], \"signature\": \"standard\"}"
	SUB_RESP="$(http_request "$ADMIN_PORT" POST /webhooks/subscriptions "$SUB_BODY" | tr -d '\r')"
	[[ "$(head -n 1 <<<"$SUB_RESP" | awk '{print $2}')" == 201 ]] ||
		die "creating the subscription failed: POST /webhooks/subscriptions $SUB_BODY answered: $(head -c 600 <<<"$SUB_RESP")"
	SUB_ID="$(sed -n 's/.*"id": *"\(sub_[^"]*\)".*/\1/p' <<<"$SUB_RESP" | head -n 1)"
	log "subscription: ${SUB_ID:-?} -> http://127.0.0.1:$RCV_PORT/hook (order.created, standard signature)"

	# Smoke test: one POST gives a 201 and its delivery reaches the receiver.
	s="$(http_status "$HTTP_PORT" POST /api/orders "$ORDER_BODY")"
	[[ "$s" == 201 ]] || die "smoke test: POST /api/orders gave '$s', want 201"
	wait_delivered 1 15 || die "smoke test: the delivery of one event did not reach the receiver within 15s (see $BW/caddy.log)"
	((R_BAD == 0)) || die "smoke test: the receiver counted a badly shaped delivery: $(http_body "$RCV_PORT" GET '/stats?format=text' | grep bad_sample)"
	log "smoke test: POST /api/orders gave 201 and its delivery reached the receiver"

	PACE_CMD=("$WORK/bin/pace" -url "http://127.0.0.1:$HTTP_PORT/api/orders" -rate "$LIGHT_RATE" -duration "${LIGHT_S}s" -body "$ORDER_BODY")
	WRK_CMD=(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${LOAD_S}s" --timeout "$WRK_TIMEOUT" -s "$BENCH_DIR/post.lua" "http://127.0.0.1:$HTTP_PORT/api/orders")

	log ""
	log "== commands ($BACKEND)"
	log "caddy:       XDG_DATA_HOME=$BW/xdg-data XDG_CONFIG_HOME=$BW/xdg-config $CADDY run --config $BW/Caddyfile --adapter caddyfile"
	sed 's/^/             | /' "$BW/Caddyfile"
	log "receiver:    $WORK/bin/receiver -addr 127.0.0.1:0 -records $BW/receiver-records.csv"
	log "subscribe:   POST http://127.0.0.1:$ADMIN_PORT/webhooks/subscriptions $SUB_BODY"
	log "light load:  ${PACE_CMD[*]}"
	log "full load:   ${WRK_CMD[*]}"
	log "load avg:    $(cut -d' ' -f1-3 /proc/loadavg)"

	# ---------------------------------------------------------------------------
	# Phase 1: light load, latency while the queue is not backed up.

	log ""
	log "== phase 1: light load, $LIGHT_RATE req/s for ${LIGHT_S}s (latency window skips the first ${LIGHT_SKIP_S}s)"
	rcv_count
	light_before=$R_DISTINCT
	L0=$(now_ns)
	"${PACE_CMD[@]}" >"$BW/pace.txt" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	rc=0
	wait "$pid" || rc=$?
	forget_pid "$pid"
	L1=$(now_ns)
	cat "$BW/pace.txt"
	if ((rc != 0)); then
		FAILED=1
		warn "the light load generator failed (exit $rc): see above"
	fi
	check_all_alive
	LIGHT_SENT="$(awk '$1 == "sent" { print $4 }' "$BW/pace.txt")" # ok count
	LIGHT_SENT=${LIGHT_SENT:-0}
	light_want=$((light_before + LIGHT_SENT))
	if ! wait_delivered "$light_want" 30; then
		FAILED=1
		warn "after the light phase the receiver has $R_DISTINCT distinct events, want $light_want"
	fi
	L2=$(now_ns)
	rcv_stats $((L0 + LIGHT_SKIP_S * 1000000000)) "$L2" "$BW/stats-light.txt"
	log "light phase: $LIGHT_SENT events inferred, all delivered $(((L2 - L1) / 1000000)) ms after the load stopped"

	# ---------------------------------------------------------------------------
	# Phase 2: full load.

	log ""
	log "== phase 2: full load, wrk for ${LOAD_S}s (steady window: the last $((LOAD_S - STEADY_SKIP_S))s; a sample every ${SAMPLE_S}s)"
	ev_before="$(metric caddy_webhooks_events_total)"
	[[ "$ev_before" != absent ]] || die "caddy_webhooks_events_total not found on the admin /metrics"
	rcv_count
	load_before=$R_DISTINCT
	W0=$(now_ns)
	: >"$BW/timeline.txt"
	sample load "$W0"
	"${WRK_CMD[@]}" >"$BW/wrk.txt" 2>&1 &
	WRK_PID=$!
	PIDS+=("$WRK_PID")
	next_sample=$((W0 + SAMPLE_S * 1000000000))
	prof_started=0
	EV_STEADY="" T_STEADY=0 # events inferred when the steady window starts
	while kill -0 "$WRK_PID" 2>/dev/null; do
		t=$(now_ns)
		if ((t >= next_sample)); then
			sample load "$W0"
			next_sample=$((next_sample + SAMPLE_S * 1000000000))
		fi
		if [[ -z $EV_STEADY ]] && ((t >= W0 + STEADY_SKIP_S * 1000000000)); then
			EV_STEADY="$(metric caddy_webhooks_events_total)" T_STEADY=$(now_ns)
		fi
		if [[ $PROFILE == load ]] && ((prof_started == 0 && t >= W0 + STEADY_SKIP_S * 1000000000)); then
			start_profile load
			prof_started=1
		fi
		sleep 0.2
	done
	rc=0
	wait "$WRK_PID" || rc=$?
	forget_pid "$WRK_PID"
	W1=$(now_ns)
	# What is left when the load stops: read at once, before the drain moves it.
	rcv_count
	END_RCV=$R_DISTINCT
	ev_after="$(metric caddy_webhooks_events_total)"
	sample load "$W0"
	webhooks_stats "$BW/webhooks-stats-end-of-load.json"
	END_DEPTH=$Q_DEPTH
	cat "$BW/wrk.txt"

	WRK_RPS="$(awk '/^Requests\/sec:/ { print $2 }' "$BW/wrk.txt")"
	WRK_REQS="$(awk '/ requests in / { print $1; exit }' "$BW/wrk.txt")"
	non2xx="$(awk -F': *' '/Non-2xx or 3xx responses/ { print $2 }' "$BW/wrk.txt")"
	sockerr="$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$BW/wrk.txt")"
	if [[ $rc -ne 0 || -z "$WRK_RPS" || "${non2xx:-0}" != 0 || "${sockerr:-0}" != 0 ]]; then
		FAILED=1
		warn "wrk run failed (exit $rc, non-2xx ${non2xx:-0}, socket errors ${sockerr:-0}): ${WRK_CMD[*]}"
	fi
	WRK_RPS=${WRK_RPS:-0} WRK_REQS=${WRK_REQS:-0}
	check_all_alive
	LOAD_EVENTS=$((ev_after - ev_before))
	EXPECTED=$((load_before + LOAD_EVENTS)) # distinct events the receiver must end up with
	if ((LOAD_EVENTS < WRK_REQS)); then
		warn "fewer events ($LOAD_EVENTS) than POSTs wrk completed ($WRK_REQS): with durability sync each 201 should have one"
	fi
	rcv_stats $((W0 + STEADY_SKIP_S * 1000000000)) "$W1" "$BW/stats-load.txt"
	rcv_stats "$W0" "$W1" "$BW/stats-load-all.txt"

	# ---------------------------------------------------------------------------
	# Phase 3: drain.

	log ""
	log "== phase 3: drain (at most ${DRAIN_S}s): $((EXPECTED - END_RCV)) deliveries still to come, queue_depth $END_DEPTH"
	[[ $PROFILE == drain ]] && start_profile drain
	CPU_DRAIN0=$(cpu_ticks "$CADDY_PID")
	DRAINED=0
	next_sample=$((W1 + SAMPLE_S * 1000000000))
	deadline=$((W1 + DRAIN_S * 1000000000))
	while :; do
		rcv_count
		if ((R_DISTINCT >= EXPECTED)); then
			DRAINED=1
			break
		fi
		t=$(now_ns)
		((t >= deadline)) && break
		if ((t >= next_sample)); then
			sample drain "$W0"
			next_sample=$((next_sample + SAMPLE_S * 1000000000))
		fi
		check_all_alive
		sleep 0.2
	done
	D1=$(now_ns)
	CPU_DRAIN1=$(cpu_ticks "$CADDY_PID")
	sample drain "$W0"
	LAST_NS=$R_LAST_NS
	[[ $PROFILE != off ]] && finish_profile
	webhooks_stats "$BW/webhooks-stats-final.json"
	rcv_stats "$W1" "$D1" "$BW/stats-drain.txt"
	rcv_stats 0 0 "$BW/stats-all.txt"
	FINAL_DEPTH=$Q_DEPTH
	DRAIN_RECV=$(kv "$BW/stats-drain.txt" window_received)
	if ((DRAINED)); then
		DRAIN_MS=$(((LAST_NS - W1) / 1000000))
		((DRAIN_MS < 0)) && DRAIN_MS=0
		DRAIN_TXT="${DRAIN_MS} ms"
		if ((DRAIN_RECV > 0 && LAST_NS > W1)); then
			DRAIN_RATE="$(awk -v n="$DRAIN_RECV" -v ns=$((LAST_NS - W1)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }')"
		else
			DRAIN_RATE="n/a"
		fi
	else
		LEFT=$((EXPECTED - R_DISTINCT))
		DRAIN_RATE="$(awk -v n="$DRAIN_RECV" -v ns=$((D1 - W1)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }')"
		DRAIN_TXT="> ${DRAIN_S} s ($LEFT left; ~$(awk -v l="$LEFT" -v r="$DRAIN_RATE" 'BEGIN { if (r > 0) printf "%.0f", l / r; else print "?" }') s more at that rate)"
		warn "the queue did not drain within DRAIN_TIMEOUT=$DRAIN_TIMEOUT: $R_DISTINCT of $EXPECTED events delivered, queue_depth $FINAL_DEPTH"
	fi

	# ---------------------------------------------------------------------------
	# Checks.

	ALL="$BW/stats-all.txt"
	if (($(kv "$ALL" bad) > 0)); then
		FAILED=1
		warn "$(kv "$ALL" bad) deliveries failed the shape check (event id, event, timestamp, X-Webhook-Attempt):"
		grep '^bad_sample' "$ALL" | sed 's/^/    | /' >&2
	fi
	if ((Q_FAILED > 0)); then
		FAILED=1
		warn "$Q_FAILED deliveries are stored as failed (GET /webhooks/stats): the receiver always answers 200"
	fi
	if ((DRAINED)) && ((FINAL_DEPTH > 0)); then
		warn "every event reached the receiver but queue_depth is still $FINAL_DEPTH"
	fi
	if ((DRAINED == 0)) && ((FINAL_DEPTH == 0)); then
		FAILED=1
		warn "queue_depth is 0 but $((EXPECTED - R_DISTINCT)) events never reached the receiver: deliveries were lost"
	fi
	DUPS=$(kv "$ALL" duplicates)
	RETRIED=$(kv "$ALL" retried)
	((DUPS == 0)) || warn "$DUPS duplicate deliveries (same event id twice); at-least-once allows them, but with a receiver that always answers 200 there should be none"
	((RETRIED == 0)) || warn "$RETRIED deliveries came with X-Webhook-Attempt > 1"
	check_all_alive

	# ---------------------------------------------------------------------------
	# Results.

	LIGHT="$BW/stats-light.txt" LOAD="$BW/stats-load.txt" LOADALL="$BW/stats-load-all.txt" DRAIN="$BW/stats-drain.txt"
	STEADY_RATE="$(kv "$LOAD" window_per_sec)"
	STEADY_RATE=${STEADY_RATE%.*}
	LIGHT_P50=$(kv "$LIGHT" window_latency_ms_p50)
	B50=$(kv "$LOAD" window_latency_ms_p50) B99=$(kv "$LOAD" window_latency_ms_p99)
	# Inferred over the same window as STEADY_RATE (the receiver's window
	# is STEADY_SKIP into the load until it stops).
	STEADY_INFER="n/a" KEEPUP="n/a"
	if [[ -n $EV_STEADY && $EV_STEADY != absent && $ev_after != absent ]] && ((W1 > T_STEADY)); then
		STEADY_INFER="$(awk -v n=$((ev_after - EV_STEADY)) -v ns=$((W1 - T_STEADY)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }')"
		KEEPUP="$(awk -v d="$STEADY_RATE" -v i="$STEADY_INFER" 'BEGIN { if (i > 0) printf "%.3f", d / i; else print "n/a" }')"
	fi
	# Caddy's CPU (user + system) per delivery while draining.
	CPU_PER_DLV="n/a"
	if ((DRAIN_RECV > 0)); then
		CPU_PER_DLV="$(awk -v t=$((CPU_DRAIN1 - CPU_DRAIN0)) -v hz="$(getconf CLK_TCK)" -v n="$DRAIN_RECV" 'BEGIN { printf "%.0f", t / hz * 1e6 / n }')"
	fi

	verdict() { # value target higher|lower
		awk -v v="$1" -v t="$2" -v dir="$3" 'BEGIN { if (v == "n/a" || v == "") { print "n/a"; exit }; ok = (dir == "higher") ? v >= t : v <= t; print ok ? "meets" : "MISSES" }'
	}

	log ""
	log "== results, $BACKEND (1 subscription, durability sync, workers $WORKERS, rate_limit $RATE_LIMIT; $(nproc) cores shared by caddy, the load generator, the upstream and the receiver$([[ $BACKEND == nats ]] && echo ", and the $NATS_NODES NATS servers"))"
	log "latencies are receipt time minus the event's \"timestamp\" (inference time), which has millisecond resolution: whole ms, ±1 ms"
	log ""
	printf '%-52s %14s   %s\n' "measure" "value" "target"
	printf '%-52s %14s   %s\n' "inference rate under load (wrk 201/s)" "$WRK_RPS" ""
	printf '%-52s %14s   %s\n' "events inferred/s, steady window of the load phase" "$STEADY_INFER" ""
	printf '%-52s %14s   %s\n' "deliveries/s, steady window of the load phase" "$STEADY_RATE" ""
	printf '%-52s %14s   %s\n' "  delivered / inferred, steady window" "$KEEPUP" ">= $TARGET_KEEPUP: $(verdict "$KEEPUP" $TARGET_KEEPUP higher)"
	printf '%-52s %14s   %s\n' "deliveries/s, whole load phase" "$(kv "$LOADALL" window_per_sec)" ""
	printf '%-52s %14s   %s\n' "deliveries/s while draining (no inbound load)" "$DRAIN_RATE" ">= $TARGET_RATE: $(verdict "$DRAIN_RATE" $TARGET_RATE higher) (the delivery path alone)"
	printf '%-52s %14s   %s\n' "queue_depth when the load stopped" "$END_DEPTH" ""
	printf '%-52s %14s   %s\n' "events not yet received when the load stopped" "$((EXPECTED - END_RCV))" ""
	printf '%-52s %14s   %s\n' "time to drain after the load stopped" "$DRAIN_TXT" ""
	printf '%-52s %14s   %s\n' "(a) latency p50, light load ($LIGHT_RATE req/s)" "$LIGHT_P50 ms" "<= $TARGET_P50_MS ms: $(verdict "$LIGHT_P50" $TARGET_P50_MS lower)"
	printf '%-52s %14s   %s\n' "(a) latency p99, light load" "$(kv "$LIGHT" window_latency_ms_p99) ms" ""
	printf '%-52s %14s   %s\n' "(b) latency p50, full load (steady window)" "$B50 ms" "<= $TARGET_B50_MS ms: $(verdict "$B50" $TARGET_B50_MS lower)"
	printf '%-52s %14s   %s\n' "(b) latency p99, full load (steady window)" "$B99 ms" "<= $TARGET_B99_MS ms: $(verdict "$B99" $TARGET_B99_MS lower)"
	printf '%-52s %14s   %s\n' "caddy CPU per delivery while draining" "$CPU_PER_DLV us" "(user + system, /proc)"
	log ""
	log "details:"
	for f in light:"$LIGHT" load-steady:"$LOAD" load-all:"$LOADALL" drain:"$DRAIN" whole-run:"$ALL"; do
		name=${f%%:*} file=${f#*:}
		if [[ $name == whole-run ]]; then p=latency_ms; n=$(kv "$file" received); else p=window_latency_ms; n=$(kv "$file" window_received); fi
		log "$(printf '  %-12s deliveries %7s   latency ms: min %s p50 %s p90 %s p99 %s max %s mean %s' "$name" "$n" \
			"$(kv "$file" ${p}_min)" "$(kv "$file" ${p}_p50)" "$(kv "$file" ${p}_p90)" "$(kv "$file" ${p}_p99)" \
			"$(kv "$file" ${p}_max)" "$(kv "$file" ${p}_mean)")"
	done
	log "  receiver: $(kv "$ALL" received) deliveries, $(kv "$ALL" distinct) distinct event ids, $DUPS duplicates, $RETRIED retried, $(kv "$ALL" bad) bad"
	log "  store: events $Q_EVENTS, deliveries succeeded $Q_SUCCEEDED, pending $Q_PENDING, failed $Q_FAILED, queue_depth $FINAL_DEPTH"
	m_of() { local v; v="$(metric caddy_webhooks_deliveries_total "result=\"$1\"")"; [[ $v == absent ]] && v=0; echo "$v"; }
	log "  metrics: caddy_webhooks_deliveries_total delivered $(m_of delivered), retried $(m_of retried), failed $(m_of failed)"
	log ""
	log "timeline (t from the start of the load; rates over the preceding sample):"
	printf '  %-6s %7s %10s %10s %14s %12s %12s\n' phase "t (s)" events delivered "queue_depth*" "inferred/s" "delivered/s"
	awk '{
		r1 = r2 = "";
		if (NR > 1 && $2 > pt) { r1 = sprintf("%.0f", ($3 - pe) / ($2 - pt)); r2 = sprintf("%.0f", ($4 - pd) / ($2 - pt)) }
		printf "  %-6s %7s %10s %10s %14s %12s %12s\n", $1, $2, $3, $4, $5, r1, r2
		pt = $2; pe = $3; pd = $4
	}' "$BW/timeline.txt"
	log "  * the caddy_webhooks_queue_depth gauge, as the dispatcher last set it"

	# For the side-by-side table.
	if ((DRAINED)); then drain_short="$DRAIN_MS ms"; else drain_short="> ${DRAIN_S} s, $LEFT left"; fi
	RES[$BACKEND:infer]=$WRK_RPS
	RES[$BACKEND:steady]=$STEADY_RATE
	RES[$BACKEND:steadyinfer]=$STEADY_INFER
	RES[$BACKEND:keepup]="$KEEPUP $(verdict "$KEEPUP" $TARGET_KEEPUP higher)"
	RES[$BACKEND:cpu]="$CPU_PER_DLV us"
	RES[$BACKEND:loadall]=$(kv "$LOADALL" window_per_sec)
	RES[$BACKEND:drain]=$DRAIN_RATE
	RES[$BACKEND:depth]=$END_DEPTH
	RES[$BACKEND:left]=$((EXPECTED - END_RCV))
	RES[$BACKEND:draintime]=$drain_short
	RES[$BACKEND:a50]="$LIGHT_P50 ms"
	RES[$BACKEND:a99]="$(kv "$LIGHT" window_latency_ms_p99) ms"
	RES[$BACKEND:b50]="$B50 ms $(verdict "$B50" $TARGET_B50_MS lower)"
	RES[$BACKEND:b99]="$B99 ms $(verdict "$B99" $TARGET_B99_MS lower)"
	RES[$BACKEND:delivered]="$(kv "$ALL" distinct)"
	RES[$BACKEND:dups]="$DUPS/$RETRIED/$(kv "$ALL" bad)/$Q_FAILED"

	# This backend's servers end here, so that the next one has the cores.
	stop_pid "$CADDY_PID"
	stop_pid "$RCV_PID"
	if [[ $BACKEND == nats ]]; then stop_nats; fi
}

for backend in "${BACKEND_LIST[@]}"; do
	bench_backend "$backend"
done

# ---------------------------------------------------------------------------
# Side by side.

if ((${#BACKEND_LIST[@]} > 1)); then
	log ""
	log "== side by side (each backend ran the same phases in turn, on the same machine; see each one's results above)"
	line="$(printf '%-52s' measure)"
	for b in "${BACKEND_LIST[@]}"; do line+="$(printf ' %18s' "$b")"; done
	log "$line"
	for row in \
		"infer:inference rate under load (wrk 201/s)" \
		"steadyinfer:events inferred/s, steady window of the load" \
		"steady:deliveries/s, steady window of the load" \
		"keepup:delivered / inferred, steady window" \
		"loadall:deliveries/s, whole load phase" \
		"drain:deliveries/s while draining" \
		"depth:queue_depth when the load stopped" \
		"left:events not yet received when the load stopped" \
		"draintime:time to drain after the load stopped" \
		"a50:(a) latency p50, light load ($LIGHT_RATE req/s)" \
		"a99:(a) latency p99, light load" \
		"b50:(b) latency p50, full load (steady window)" \
		"b99:(b) latency p99, full load (steady window)" \
		"delivered:distinct events delivered" \
		"cpu:caddy CPU per delivery while draining" \
		"dups:duplicates/retried/bad/failed"; do
		key=${row%%:*}
		line="$(printf '%-52s' "${row#*:}")"
		for b in "${BACKEND_LIST[@]}"; do line+="$(printf ' %18s' "${RES[$b:$key]}")"; done
		log "$line"
	done
	log "targets: delivered/inferred >= $TARGET_KEEPUP under load, (b) p50 <= $TARGET_B50_MS ms and p99 <= $TARGET_B99_MS ms, draining >= $TARGET_RATE/s, (a) p50 <= $TARGET_P50_MS ms"
fi

if ((FAILED)); then
	die "at least one check failed (load errors, badly shaped or failed deliveries, lost events): see the warnings above"
fi
