#!/usr/bin/env bash
# bench/run.sh: throughput of Caddy's plain reverse_proxy against the same
# proxy with the webhooks module in front of it, two servers per storage
# backend in BACKENDS (badger: embedded; nats: a local 3-server JetStream
# cluster), one with durability sync and one with async, measured in one
# run with the servers driven alternately (plain, badger, nats, plain,
# badger, nats, ...), and the ratios judged against the targets.
#
# Usage: bench/run.sh            (from any directory)
# Env:   BACKENDS="badger" (or "badger nats", "nats")
#        ROUNDS=3 DURATION=10s CONNECTIONS=64 THREADS=2 WARMUP=2s
#        WRK_TIMEOUT=5s CADDY_BIN=<prebuilt caddy with the module> KEEP_TMP=1
#        TMPDIR=<where the temp dir, and so Badger's files, go>
#        SCENARIOS="nomatch sync async" PROFILE=0|1 PROFILE_SECONDS=8
#        RESTART=1|0 (restart a scenario's Caddys before it; default 1)
#        IDLE_CONNS=<n> (every proxy keeps n idle upstream connections; default Caddy's 32)
# See bench/README.md.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"

ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
WARMUP="${WARMUP:-2s}"
WRK_TIMEOUT="${WRK_TIMEOUT:-5s}"
CADDY_BIN="${CADDY_BIN:-}"
KEEP_TMP="${KEEP_TMP:-0}"
BACKENDS="${BACKENDS:-badger}"
SCENARIOS_ENV="${SCENARIOS:-nomatch sync async}"
PROFILE="${PROFILE:-0}"
PROFILE_SECONDS="${PROFILE_SECONDS:-8}"
RESTART="${RESTART:-1}"
IDLE_CONNS="${IDLE_CONNS:-}"

INVOCATION="$0${*:+ $*}"
START_DIR="$PWD"

# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer (got '$ROUNDS')"
[[ "$CONNECTIONS" =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive integer (got '$CONNECTIONS')"
[[ "$THREADS" =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive integer (got '$THREADS')"
(( THREADS <= CONNECTIONS )) || THREADS="$CONNECTIONS" # wrk needs connections >= threads
[[ "$PROFILE" == 0 || "$PROFILE" == 1 ]] || die "PROFILE must be 0 or 1 (got '$PROFILE')"
[[ "$PROFILE_SECONDS" =~ ^[1-9][0-9]*$ ]] || die "PROFILE_SECONDS must be a positive integer (got '$PROFILE_SECONDS')"
[[ "$RESTART" == 0 || "$RESTART" == 1 ]] || die "RESTART must be 0 or 1 (got '$RESTART')"
[[ -z "$IDLE_CONNS" || "$IDLE_CONNS" =~ ^[1-9][0-9]*$ ]] || die "IDLE_CONNS must be a positive integer (got '$IDLE_CONNS')"
read -r -a SCENARIOS <<<"$SCENARIOS_ENV"
for sc in "${SCENARIOS[@]}"; do
	case "$sc" in nomatch | sync | async) ;; *) die "SCENARIOS: unknown scenario '$sc' (nomatch, sync, async)" ;; esac
done
((${#SCENARIOS[@]} > 0)) || die "SCENARIOS is empty"
parse_backends
# Each backend has a server with durability sync (named after it, used by
# the no-match and sync scenarios) and, if the async scenario runs, one
# with durability async (<backend>-async).
MODULE_TARGETS=()
for b in "${BACKEND_LIST[@]}"; do
	[[ " ${SCENARIOS[*]} " == *" nomatch "* || " ${SCENARIOS[*]} " == *" sync "* ]] && MODULE_TARGETS+=("$b")
	[[ " ${SCENARIOS[*]} " == *" async "* ]] && MODULE_TARGETS+=("$b-async")
done
TARGETS=(plain "${MODULE_TARGETS[@]}")

WORK_PREFIX=caddy-webhooks-bench
KEPT_WHAT="configs, logs, wrk outputs"
bench_setup
mkdir -p "$WORK/wrk"
# bench/ is a Go module of its own (bench/go.mod): its programs build there.
(cd "$BENCH_DIR" && go build -o "$WORK/bin/upstream" ./upstream && go build -o "$WORK/bin/freeport" ./freeport) ||
	die "building bench/upstream or bench/freeport failed"
if has_backend nats; then build_nats; fi

"$CADDY" list-modules 2>/dev/null | grep -x 'http.handlers.webhooks' >/dev/null ||
	die "$CADDY has no http.handlers.webhooks module (list-modules)"

# ---------------------------------------------------------------------------
# Helpers.

# http_status PORT METHOD PATH [BODY]: prints the status code only.
http_status() {
	{ http_request "$@" 2>/dev/null || true; } | head -n 1 | tr -d '\r' | awk '{print $2}' || true
}

# events_total TARGET: sum of caddy_webhooks_events_total over its labels,
# from that module instance's admin /metrics; prints "absent" when the metric
# is not there.
events_total() { metric_sum "${T_ADMIN[$1]}" caddy_webhooks_events_total; }

median() {
	printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) printf "%.2f\n", a[(NR + 1) / 2]
		else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# ---------------------------------------------------------------------------
# Servers.

declare -A T_PORT=() T_ADMIN=() T_PID=() # target -> HTTP port, admin port, pid
mapfile -t PORTS < <("$WORK/bin/freeport" -n $((2 * ${#TARGETS[@]})))
[[ ${#PORTS[@]} -eq $((2 * ${#TARGETS[@]})) ]] || die "could not get $((2 * ${#TARGETS[@]})) free ports"
for ((i = 0; i < ${#TARGETS[@]}; i++)); do
	T_PORT[${TARGETS[i]}]=${PORTS[2 * i]} T_ADMIN[${TARGETS[i]}]=${PORTS[2 * i + 1]}
done

if has_backend nats; then
	log "== starting nats"
	start_nats "$WORK/nats"
fi

log "== starting upstream"
"$WORK/bin/upstream" -addr 127.0.0.1:0 >"$WORK/upstream.log" 2>&1 &
UP_PID=$!
PIDS+=("$UP_PID")
UP_PORT=""
for ((i = 0; i < 100; i++)); do
	UP_PORT="$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$WORK/upstream.log" | head -n 1)"
	[[ -n "$UP_PORT" ]] && break
	check_alive "$UP_PID" upstream "$WORK/upstream.log"
	sleep 0.1
done
[[ -n "$UP_PORT" ]] || die "upstream did not report its address"
wait_port "$UP_PORT" "$UP_PID" upstream "$WORK/upstream.log"
log "upstream: 127.0.0.1:$UP_PORT (pid $UP_PID)"

# write_caddyfile TARGET: plain, or the module on the storage backend of that name.
write_caddyfile() {
	local name=$1 port=${T_PORT[$1]} admin=${T_ADMIN[$1]} with_module=1 dir="$WORK/$1"
	local backend=${1%-async} durability=sync
	[[ $name != *-async ]] || durability=async
	[[ $name != plain ]] || with_module=0
	mkdir -p "$dir/caddy-data" "$dir/xdg-data" "$dir/xdg-config"
	{
		printf '{\n'
		printf '\tadmin 127.0.0.1:%s\n' "$admin"
		printf '\tstorage file_system %s\n' "$dir/caddy-data"
		printf '\tpersist_config off\n'
		printf '\tdefault_bind 127.0.0.1\n'
		printf '\tlog {\n\t\tlevel ERROR\n\t}\n'
		if [[ $with_module == 1 ]]; then
			printf '\twebhooks {\n'
			# Two servers on one NATS cluster keep apart with their own prefix.
			storage_block "$backend" "$dir" | sed 's/^/\t/' |
				if [[ $backend == nats ]]; then sed "s/^\(\t*\)\(replicas .*\)$/\1\2\n\1prefix bench_${durability}/"; else cat; fi
			printf '\t\tdurability %s\n' "$durability"
			printf '\t}\n'
		fi
		printf '}\n\n'
		printf 'http://127.0.0.1:%s {\n' "$port"
		if [[ $with_module == 1 ]]; then
			printf '\twebhooks {\n'
			printf '\t\trules %s\n' "$BENCH_DIR/rules.yaml"
			printf '\t}\n'
		fi
		if [[ -n $IDLE_CONNS ]]; then
			printf '\treverse_proxy 127.0.0.1:%s {\n' "$UP_PORT"
			printf '\t\ttransport http {\n\t\t\tkeepalive_idle_conns_per_host %s\n\t\t}\n\t}\n' "$IDLE_CONNS"
		else
			printf '\treverse_proxy 127.0.0.1:%s\n' "$UP_PORT"
		fi
		printf '}\n'
	} >"$dir/Caddyfile"
}

# start_caddy TARGET: sets T_PID[TARGET].
start_caddy() {
	local name=$1 port=${T_PORT[$1]} admin=${T_ADMIN[$1]} dir="$WORK/$1"
	XDG_DATA_HOME="$dir/xdg-data" XDG_CONFIG_HOME="$dir/xdg-config" \
		"$CADDY" run --config "$dir/Caddyfile" --adapter caddyfile >"$dir/caddy.log" 2>&1 &
	T_PID[$name]=$!
	PIDS+=("${T_PID[$name]}")
	wait_port "$port" "${T_PID[$name]}" "caddy ($name)" "$dir/caddy.log"
	log "caddy ($name): http://127.0.0.1:$port, admin 127.0.0.1:$admin (pid ${T_PID[$name]}), config $dir/Caddyfile"
}

log "== starting caddy"
for target in "${TARGETS[@]}"; do
	write_caddyfile "$target"
	start_caddy "$target"
done

# Smoke test: every proxy answers both routes as the upstream does.
ORDER_BODY='{"site":"site-1","items":[{"sku":"SKU-001","quantity":2}]}'
for target in "${MODULE_TARGETS[@]}"; do
	wait_module_stores "$target" "${T_PORT[$target]}" "${T_ADMIN[$target]}" "${T_PID[$target]}" "$WORK/$target/caddy.log" "$ORDER_BODY"
done
for target in "${TARGETS[@]}"; do
	port=${T_PORT[$target]}
	s="$(http_status "$port" GET /api/products/123)"
	[[ "$s" == 200 ]] || die "smoke test: GET /api/products/123 via $target gave '$s', want 200"
	s="$(http_status "$port" POST /api/orders "$ORDER_BODY")"
	[[ "$s" == 201 ]] || die "smoke test: POST /api/orders via $target gave '$s', want 201"
done
log "smoke test: every proxy (${TARGETS[*]}) answers 200 / 201"

# ---------------------------------------------------------------------------
# Environment.

log ""
log "== environment"
log "command:     $INVOCATION   (cwd $START_DIR)"
log "backends:    ${BACKEND_LIST[*]}$(has_backend nats && echo "  (nats: $NATS_NODES local servers, replicas $NATS_NODES, sync_interval: always, on the same cores)")"
log "settings:    ROUNDS=$ROUNDS DURATION=$DURATION CONNECTIONS=$CONNECTIONS THREADS=$THREADS WARMUP=$WARMUP WRK_TIMEOUT=$WRK_TIMEOUT SCENARIOS=\"${SCENARIOS[*]}\" PROFILE=$PROFILE RESTART=$RESTART IDLE_CONNS=${IDLE_CONNS:-32}"
log "nproc:       $(nproc)"
log "cpu:         $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)"
log "kernel:      $(uname -srm)"
log "go:          $(go version)"
log "wrk:         $(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }')"
log "caddy:       $("$CADDY" version 2>/dev/null | head -n 1)"
log "repo:        $REPO_DIR @ $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo '?')$( [[ -n "$(git -C "$REPO_DIR" status --porcelain 2>/dev/null | head -n 1)" ]] && echo ' (with uncommitted changes)')"
log "temp dir:    $WORK (filesystem: $(stat -f -c %T "$WORK"))"
log "load avg:    $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------------------
# Benchmark.

declare -A S_LABEL=([nomatch]="no-match GET /api/products/123" [sync]="match POST /api/orders (sync)" [async]="match POST /api/orders (async)")
declare -A S_PATH=([nomatch]="/api/products/123" [sync]="/api/orders" [async]="/api/orders")
declare -A S_SCRIPT=([nomatch]="" [sync]="$BENCH_DIR/post.lua" [async]="$BENCH_DIR/post.lua")
declare -A S_TARGET_OF=([nomatch]="" [sync]="" [async]="-async") # suffix of each backend's server
declare -A S_MIN=([nomatch]=0.98 [sync]=0.80 [async]=0.95)        # the targets: ratio to plain at least
# scenario_targets SCENARIO: plain, then the server of each backend it measures.
scenario_targets() {
	local b
	echo plain
	for b in "${BACKEND_LIST[@]}"; do echo "$b${S_TARGET_OF[$1]}"; done
}
declare -A RPS=()      # "scenario:target" -> space-separated req/s per round
declare -A EV_START=() SK_START=() # target -> its counters when the scenario starts
declare -A MOD_REQS=() # "scenario:target" -> requests completed by wrk against that module (warm-up included)
declare -A CPU_SRV=() CPU_UP=() CPU_ALL=() IDLE=() # "scenario:target" -> per round: CPU µs per request of the server, the upstream, the machine; idle %
declare -A DIALS=() # "scenario:target" -> per round: TCP connections opened per 1000 requests, wrk's own left out

wrk_cmd() { # scenario target duration -> WRK_CMD array
	local scenario=$1 target=$2 dur=$3 port=${T_PORT[$2]}
	WRK_CMD=(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$dur" --timeout "$WRK_TIMEOUT")
	[[ -n "${S_SCRIPT[$scenario]}" ]] && WRK_CMD+=(-s "${S_SCRIPT[$scenario]}")
	WRK_CMD+=("http://127.0.0.1:$port${S_PATH[$scenario]}")
}

# cpu_ticks PID: the process's user and system CPU time, in clock ticks.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
# machine_ticks: the machine's busy and idle (with I/O wait) ticks, all cores.
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6; exit }' /proc/stat; }
CLK_TCK="$(getconf CLK_TCK)"
# tcp_opens: the machine's TCP connections opened so far (ActiveOpens): in a
# round, wrk's own and the proxy's to the upstream.
tcp_opens() { awk '/^Tcp:/ { if (!n) { for (i = 1; i <= NF; i++) if ($i == "ActiveOpens") n = i } else { print $n; exit } }' /proc/net/snmp; }

# cpu_per_request BEFORE AFTER REQS: µs of CPU per request, from ticks.
cpu_per_request() { awk -v a="$1" -v b="$2" -v n="$3" -v hz="$CLK_TCK" 'BEGIN { if (n > 0) printf "%.0f", (b - a) / hz * 1e6 / n; else print 0 }'; }

# run_wrk SCENARIO TARGET DURATION OUTFILE: runs wrk, checks its output,
# sets LAST_RPS and LAST_REQS, and LAST_CPU (the CPU µs per request of
# the server, of the upstream and of the whole machine, and the machine's
# idle %: where a lower req/s comes from, more work or more waiting).
run_wrk() {
	local scenario=$1 target=$2 dur=$3 out=$4 pid rc=0 non2xx sockerr srv0 up0 m0 o0 srv1 up1 m1 o1
	wrk_cmd "$scenario" "$target" "$dur"
	srv0="$(cpu_ticks "${T_PID[$target]}")" up0="$(cpu_ticks "$UP_PID")" m0="$(machine_ticks)" o0="$(tcp_opens)"
	"${WRK_CMD[@]}" >"$out" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	wait "$pid" || rc=$?
	forget_pid "$pid"
	srv1="$(cpu_ticks "${T_PID[$target]}")" up1="$(cpu_ticks "$UP_PID")" m1="$(machine_ticks)" o1="$(tcp_opens)"

	LAST_RPS="$(awk '/^Requests\/sec:/ { print $2 }' "$out")"
	LAST_REQS="$(awk '/ requests in / { print $1; exit }' "$out")"
	non2xx="$(awk -F': *' '/Non-2xx or 3xx responses/ { print $2 }' "$out")"
	sockerr="$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out")"
	non2xx=${non2xx:-0}
	sockerr=${sockerr:-0}
	LAST_REQS=${LAST_REQS:-0}
	LAST_CPU=("$(cpu_per_request "$srv0" "$srv1" "$LAST_REQS")" "$(cpu_per_request "$up0" "$up1" "$LAST_REQS")"
		"$(cpu_per_request "${m0% *}" "${m1% *}" "$LAST_REQS")"
		"$(awk -v b0="${m0% *}" -v i0="${m0#* }" -v b1="${m1% *}" -v i1="${m1#* }" 'BEGIN { t = b1 - b0 + i1 - i0; printf "%.1f", (t > 0 ? 100 * (i1 - i0) / t : 0) }')"
		"$(awk -v a="$o0" -v b="$o1" -v c="$CONNECTIONS" -v n="$LAST_REQS" 'BEGIN { if (n > 0) printf "%.1f", (b - a - c) * 1000 / n; else print 0 }')")

	if [[ $rc -ne 0 || -z "$LAST_RPS" || "$non2xx" != 0 || "$sockerr" != 0 ]]; then
		FAILED=1
		warn "wrk run failed: ${scenario} via ${target} (exit $rc, non-2xx $non2xx, socket errors $sockerr): ${WRK_CMD[*]}"
		sed 's/^/    | /' "$out" >&2
		LAST_RPS=${LAST_RPS:-0}
	fi
	check_alive "$UP_PID" upstream "$WORK/upstream.log"
	for t in "${TARGETS[@]}"; do check_alive "${T_PID[$t]}" "caddy ($t)" "$WORK/$t/caddy.log"; done
	check_nats_alive
}

# skipped_total TARGET: caddy_webhooks_events_skipped_total of that module (0 when absent).
skipped_total() {
	local v
	v="$(metric_sum "${T_ADMIN[$1]}" caddy_webhooks_events_skipped_total)"
	[[ $v != absent ]] || v=0
	echo "$v"
}

# check_events SCENARIO TARGET EVENTS_BEFORE SKIPPED_BEFORE: compares the
# events TARGET's module recorded during the scenario with the requests wrk
# completed on it, and counts the events it skipped (a store error: the
# client still got its 201, so that request measured no store write).
check_events() {
	local scenario=$1 target=$2 ev_start=$3 sk_start=$4 ev_end delta reqs=${MOD_REQS[$1:$2]} skipped
	skipped=$(($(skipped_total "$target") - sk_start))
	((skipped == 0)) || warn "$target skipped $skipped events in the $scenario scenario (caddy_webhooks_events_skipped_total; see $WORK/$target/caddy.log): those requests measured no store write"
	ev_end="$(events_total "$target")"
	if [[ "$ev_end" == absent || "$ev_start" == absent ]]; then
		warn "caddy_webhooks_events_total not found on the admin /metrics of $target: cannot check that events were recorded"
		return
	fi
	delta=$((ev_end - ev_start))
	if [[ $scenario != nomatch ]]; then
		log "events recorded by $target: $delta (wrk completed $reqs POSTs against it)"
		if ((delta == 0)); then
			FAILED=1
			warn "$target recorded no events in the match scenario: its numbers measure nothing"
		elif ((delta < reqs)) && [[ $scenario == sync ]]; then
			warn "$target: fewer events ($delta) than completed 201 responses ($reqs): with durability sync every one should have an event"
		fi
	elif ((delta != 0)); then
		warn "$target recorded $delta events in the no-match scenario, expected 0"
	fi
}

# profile_target SCENARIO TARGET: one more wrk run on TARGET (not counted)
# with a CPU profile of its Caddy, and its top entries.
profile_target() {
	local scenario=$1 target=$2 f="$WORK/profiles/$1-$2.pb" pid
	mkdir -p "$WORK/profiles"
	KEEP_TMP=1
	wrk_cmd "$scenario" "$target" "$((PROFILE_SECONDS + 2))s"
	"${WRK_CMD[@]}" >"$WORK/wrk/$scenario-$target-profile.txt" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	sleep 1
	curl -fsS -o "$f" "http://127.0.0.1:${T_ADMIN[$target]}/debug/pprof/profile?seconds=$PROFILE_SECONDS" ||
		warn "profiling $target failed"
	wait "$pid" || true
	forget_pid "$pid"
	[[ -s $f ]] || return 0
	log "== CPU profile of $target, $scenario scenario (${PROFILE_SECONDS}s): go tool pprof -top -nodecount=25 $CADDY $f"
	go tool pprof -top -nodecount=25 "$CADDY" "$f" 2>/dev/null | sed 's/^/    /' | while IFS= read -r l; do log "$l"; done
}

log ""
log "== wrk command lines"
for scenario in "${SCENARIOS[@]}"; do
	mapfile -t ST < <(scenario_targets "$scenario")
	for target in "${ST[@]}"; do
		wrk_cmd "$scenario" "$target" "$DURATION"
		log "$(printf '%-9s %-13s %s' "$scenario" "$target" "${WRK_CMD[*]}")"
	done
done

# restart_targets TARGET...: stops those Caddys and starts them again on
# the same ports and stores, so that plain and the module's servers come to
# a scenario with the same history: plain serves every scenario, and a
# Caddy's cost per request may depend on the load it served before
# (bench/README.md, "Does the order of the scenarios move the async ratio?").
restart_targets() {
	local target pid
	for target in "$@"; do
		pid=${T_PID[$target]}
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		forget_pid "$pid"
		start_caddy "$target"
		[[ $target == plain ]] ||
			wait_module_stores "$target" "${T_PORT[$target]}" "${T_ADMIN[$target]}" "${T_PID[$target]}" "$WORK/$target/caddy.log" "$ORDER_BODY"
	done
}

for scenario in "${SCENARIOS[@]}"; do
	log ""
	log "== scenario: ${S_LABEL[$scenario]}"
	mapfile -t ST < <(scenario_targets "$scenario")
	if [[ $RESTART == 1 && $scenario != "${SCENARIOS[0]}" ]]; then restart_targets "${ST[@]}"; fi
	for target in "${ST[@]:1}"; do
		MOD_REQS[$scenario:$target]=0
		EV_START[$target]="$(events_total "$target")"
		SK_START[$target]="$(skipped_total "$target")"
	done
	if [[ "$WARMUP" != 0 && "$WARMUP" != 0s ]]; then
		for target in "${ST[@]}"; do
			run_wrk "$scenario" "$target" "$WARMUP" "$WORK/wrk/$scenario-$target-warmup.txt"
			[[ $target == plain ]] || MOD_REQS[$scenario:$target]=$((MOD_REQS[$scenario:$target] + LAST_REQS))
			log "$(printf 'warm-up      %-13s %10.2f req/s' "$target" "$LAST_RPS")"
		done
	fi
	for ((r = 1; r <= ROUNDS; r++)); do
		for target in "${ST[@]}"; do
			run_wrk "$scenario" "$target" "$DURATION" "$WORK/wrk/$scenario-$target-$r.txt"
			[[ $target == plain ]] || MOD_REQS[$scenario:$target]=$((MOD_REQS[$scenario:$target] + LAST_REQS))
			RPS[$scenario:$target]="${RPS[$scenario:$target]:-} $LAST_RPS"
			CPU_SRV[$scenario:$target]+=" ${LAST_CPU[0]}" CPU_UP[$scenario:$target]+=" ${LAST_CPU[1]}"
			CPU_ALL[$scenario:$target]+=" ${LAST_CPU[2]}" IDLE[$scenario:$target]+=" ${LAST_CPU[3]}"
			DIALS[$scenario:$target]+=" ${LAST_CPU[4]}"
			log "$(printf 'round %d/%d    %-13s %10.2f req/s' "$r" "$ROUNDS" "$target" "$LAST_RPS")"
		done
	done

	# Check that each module did what it is being measured for.
	for target in "${ST[@]:1}"; do
		check_events "$scenario" "$target" "${EV_START[$target]}" "${SK_START[$target]}"
	done
	[[ $PROFILE == 0 ]] || for target in "${ST[@]:1}"; do profile_target "$scenario" "$target"; done
done

# ---------------------------------------------------------------------------
# Results.

ratio() { awk -v p="$1" -v m="$2" 'BEGIN { if (p > 0) printf "%.3f", m / p; else print "n/a" }'; }
# round_ratios PLAIN MODULE: each round's module/plain ratio from the two
# space-separated per-round lists, then their range.
round_ratios() {
	awk -v p="$1" -v m="$2" 'BEGIN {
		n = split(p, a, " "); split(m, b, " ")
		for (i = 1; i <= n; i++) {
			r = a[i] > 0 ? b[i] / a[i] : 0
			out = out sprintf("%.3f ", r)
			if (i == 1 || r < lo) lo = r
			if (i == 1 || r > hi) hi = r
		}
		sub(/ $/, "", out)
		printf "%s (range %.3f-%.3f)", out, lo, hi
	}'
}
# verdict RATIO MIN: "met" or "MISSED".
verdict() { awk -v r="$1" -v min="$2" 'BEGIN { if (r != "n/a" && r + 0 >= min + 0) print "met"; else print "MISSED" }'; }

log ""
log "== results (median of $ROUNDS rounds of $DURATION, wrk -t$THREADS -c$CONNECTIONS, alternating plain and the module's servers)"
line="$(printf '%-34s %8s %12s' "scenario" "target" "plain req/s")"
for b in "${BACKEND_LIST[@]}"; do line+="$(printf ' %12s %9s %7s' "$b req/s" "$b/plain" "")"; done
log "$line"
for scenario in "${SCENARIOS[@]}"; do
	# shellcheck disable=SC2086 # word splitting of the per-round lists is intended
	p="$(median ${RPS[$scenario:plain]})"
	line="$(printf '%-34s %8s %12s' "${S_LABEL[$scenario]}" ">= ${S_MIN[$scenario]}" "$p")"
	for b in "${BACKEND_LIST[@]}"; do
		t="$b${S_TARGET_OF[$scenario]}"
		# shellcheck disable=SC2086
		m="$(median ${RPS[$scenario:$t]})"
		rt="$(ratio "$p" "$m")"
		line+="$(printf ' %12s %9s %7s' "$m" "$rt" "$(verdict "$rt" "${S_MIN[$scenario]}")")"
	done
	log "$line"
done
log ""
log "per round (req/s):"
for scenario in "${SCENARIOS[@]}"; do
	mapfile -t ST < <(scenario_targets "$scenario")
	for target in "${ST[@]}"; do
		log "$(printf '  %-9s %-14s %s' "$scenario" "$target:" "${RPS[$scenario:$target]# }")"
	done
done
# The ratio of each round to the plain round before it: their spread says
# how far one run's verdict can be trusted on a shared machine.
log ""
log "ratio per round (the module's round over the plain round before it):"
for scenario in "${SCENARIOS[@]}"; do
	mapfile -t ST < <(scenario_targets "$scenario")
	for target in "${ST[@]:1}"; do
		log "$(printf '  %-9s %-14s %s' "$scenario" "$target:" "$(round_ratios "${RPS[$scenario:plain]}" "${RPS[$scenario:$target]}")")"
	done
done
log ""
log "CPU per request (µs, medians of the rounds; from /proc: the server's process, the upstream's, the whole machine's), the machine's idle share, and the TCP connections the proxy opened to the upstream per 1000 requests (dials):"
log "$(printf '  %-9s %-14s %8s %9s %8s %6s %6s' scenario target server upstream machine idle dials)"
for scenario in "${SCENARIOS[@]}"; do
	mapfile -t ST < <(scenario_targets "$scenario")
	for target in "${ST[@]}"; do
		k="$scenario:$target"
		# shellcheck disable=SC2086
		log "$(printf '  %-9s %-14s %8s %9s %8s %5s%% %6s' "$scenario" "$target" "$(median ${CPU_SRV[$k]})" "$(median ${CPU_UP[$k]})" "$(median ${CPU_ALL[$k]})" "$(median ${IDLE[$k]})" "$(median ${DIALS[$k]})")"
	done
done
[[ $PROFILE == 0 ]] || log "CPU profiles: $WORK/profiles/ (kept: go tool pprof -top $CADDY <file>)"

if ((FAILED)); then
	die "at least one check failed (non-2xx responses, socket errors, or no events recorded): see the warnings above"
fi
