#!/usr/bin/env bash
# Shared by bench/run.sh and bench/delivery.sh (sourced, not run): logging,
# process bookkeeping and cleanup, wrk, the work directory and the Caddy
# build, the storage backends to compare (BACKENDS) and the local NATS
# cluster. Callers set REPO_DIR, START_DIR, KEEP_TMP, CADDY_BIN, WORK_PREFIX
# and KEPT_WHAT, then call bench_setup, which sets WORK and CADDY.

log() { printf '%s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Process bookkeeping: every process started here is recorded and ended on exit.

PIDS=()
CGROUPS=()
WORK=""
FAILED=0

forget_pid() {
	local keep=() p
	for p in "${PIDS[@]}"; do [[ "$p" == "$1" ]] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

cleanup() {
	local rc=$? pid i
	trap - EXIT INT TERM
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	for i in "${CGROUPS[@]}"; do rmdir "$i" 2>/dev/null || warn "could not remove the cgroup $i"; done
	if [[ -n "$WORK" && -d "$WORK" ]]; then
		if [[ "$KEEP_TMP" == 1 || $rc -ne 0 ]]; then
			log "temp dir kept: $WORK ($KEPT_WHAT)" >&2
		else
			rm -rf "$WORK"
		fi
	fi
	exit "$rc"
}

# check_alive PID NAME LOGFILE: dies, with the end of LOGFILE, if PID has
# ended.
check_alive() {
	if ! kill -0 "$1" 2>/dev/null; then
		tail -n 40 "$3" >&2 || true
		die "$2 is no longer running (log above: $3)"
	fi
}

# start_bin LOGDIR NAME ARGS...: starts $WORK/bin/NAME, a bench program that
# prints "listening on <addr>", with its output in LOGDIR/NAME.log, and
# waits for its port; sets LAST_PID and LAST_PORT.
start_bin() {
	local dir=$1 name=$2 i port=""
	shift 2
	"$WORK/bin/$name" "$@" >"$dir/$name.log" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
	for ((i = 0; i < 100; i++)); do
		port="$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$dir/$name.log" | head -n 1)"
		[[ -n "$port" ]] && break
		check_alive "$LAST_PID" "$name" "$dir/$name.log"
		sleep 0.1
	done
	[[ -n "$port" ]] || die "$name did not report its address"
	wait_port "$port" "$LAST_PID" "$name" "$dir/$name.log"
	LAST_PORT=$port
}

# wait_port PORT PID NAME LOGFILE: poll until PORT accepts TCP connections.
wait_port() {
	local port=$1 pid=$2 name=$3 logf=$4 i
	for ((i = 0; i < 600; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 40 "$logf" >&2 || true
			die "$name exited before listening on 127.0.0.1:$port (log above: $logf)"
		fi
		sleep 0.1
	done
	tail -n 40 "$logf" >&2 || true
	die "$name did not listen on 127.0.0.1:$port within 60s"
}

# http_request PORT METHOD PATH [BODY]: prints the full HTTP/1.0 response
# (waiting at most HTTP_TIMEOUT seconds, default 10).
http_request() {
	local port=$1 method=$2 path=$3 body=${4:-}
	(
		exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
		printf '%s %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
			"$method" "$path" "$port" "${#body}" "$body" >&3
		timeout "${HTTP_TIMEOUT:-10}" cat <&3
	)
}

# bench_setup installs the traps, checks the tools, makes the work
# directory and builds (or takes) the Caddy binary.
bench_setup() {
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	# ---------------------------------------------------------------------------
	# Tools.

	if ! command -v wrk >/dev/null 2>&1; then
		log "wrk not found: installing the Debian package"
		SUDO=""
		[[ $(id -u) -eq 0 ]] || SUDO="sudo"
		$SUDO apt-get update
		$SUDO apt-get install -y wrk
	fi
	command -v wrk >/dev/null 2>&1 || die "wrk is still missing"
	command -v go >/dev/null 2>&1 || die "go is required to build the binaries"

	WORK="$(mktemp -d "${TMPDIR:-/tmp}/$WORK_PREFIX.XXXXXX")"
	mkdir -p "$WORK/bin"

	log "== building"
	if [[ -n "$CADDY_BIN" ]]; then
		CADDY="$(cd "$START_DIR" && cd "$(dirname "$CADDY_BIN")" && pwd)/$(basename "$CADDY_BIN")"
		[[ -x "$CADDY" ]] || die "CADDY_BIN=$CADDY_BIN is not an executable"
		log "caddy: using CADDY_BIN=$CADDY"
	else
		CADDY="$WORK/bin/caddy"
		log "caddy: go build -o $CADDY ./cmd/caddy (in $REPO_DIR)"
		(cd "$REPO_DIR" && go build -o "$CADDY" ./cmd/caddy) || die "building ./cmd/caddy failed"
	fi
}

# stop_pid PID: ends one process started here (TERM, then KILL after 5 s).
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	forget_pid "$pid"
}

# ---------------------------------------------------------------------------
# Storage backends: BACKENDS="badger nats" (any of the two, in that order of
# running) -> BACKEND_LIST.

parse_backends() {
	local b seen=" "
	BACKEND_LIST=()
	for b in $BACKENDS; do
		case "$b" in
		badger | nats) ;;
		*) die "BACKENDS: unknown backend '$b' (want some of: badger nats)" ;;
		esac
		[[ "$seen" != *" $b "* ]] || die "BACKENDS: '$b' given twice"
		seen+="$b "
		BACKEND_LIST+=("$b")
	done
	((${#BACKEND_LIST[@]} > 0)) || die "BACKENDS is empty (want some of: badger nats)"
}

has_backend() { [[ " ${BACKEND_LIST[*]} " == *" $1 "* ]]; }

# storage_block BACKEND DIR: the lines of the webhooks app's storage for
# BACKEND (Badger in DIR/webhooks, or the local NATS cluster), one tab in.
storage_block() {
	case "$1" in
	badger) printf '\tstorage %s\n' "$2/webhooks" ;;
	nats)
		printf '\tstorage nats {\n'
		printf '\t\turl %s\n' "$NATS_URL"
		printf '\t\treplicas %s\n' "$NATS_NODES"
		printf '\t}\n'
		;;
	esac
}

# ---------------------------------------------------------------------------
# The NATS cluster: NATS_NODES nats-server processes with JetStream, each
# fsyncing every write (sync_interval: always), routed to each other, on
# ports from bench/freeport ($WORK/bin/freeport must be built).

NATS_NODES=3
NATS_PIDS=()
NATS_URL=""

# build_nats: builds nats-server, pinned in tools/go.mod; sets NATS_SERVER.
build_nats() {
	NATS_SERVER="$WORK/bin/nats-server"
	log "nats-server: go -C $REPO_DIR/tools build -o $NATS_SERVER github.com/nats-io/nats-server/v2"
	go -C "$REPO_DIR/tools" build -o "$NATS_SERVER" github.com/nats-io/nats-server/v2 ||
		die "building nats-server failed"
}

# start_nats DIR: writes DIR/n<i>/nats.conf, starts the servers (logs in
# DIR/n<i>/nats.log, JetStream files in DIR/n<i>/jetstream) and waits until
# each has JetStream enabled and knows the meta leader; sets NATS_URL (the
# client URLs, comma-separated), NATS_PIDS and NATS_MONITORS.
start_nats() {
	local dir=$1 ports i node routes="" urls=()
	mapfile -t ports < <("$WORK/bin/freeport" -n $((3 * NATS_NODES)))
	[[ ${#ports[@]} -eq $((3 * NATS_NODES)) ]] || die "could not get $((3 * NATS_NODES)) free ports for NATS"
	# ports: client i, cluster NATS_NODES+i, monitor 2*NATS_NODES+i
	for ((i = 0; i < NATS_NODES; i++)); do
		routes+="${routes:+, }nats://127.0.0.1:${ports[NATS_NODES + i]}"
	done
	NATS_PIDS=() NATS_MONITORS=()
	for ((i = 0; i < NATS_NODES; i++)); do
		node="$dir/n$((i + 1))"
		mkdir -p "$node"
		cat >"$node/nats.conf" <<EOF
server_name: n$((i + 1))
listen: 127.0.0.1:${ports[i]}
http: 127.0.0.1:${ports[2 * NATS_NODES + i]}
jetstream {
	store_dir: "$node/jetstream"
	sync_interval: always
}
cluster {
	name: bench
	listen: 127.0.0.1:${ports[NATS_NODES + i]}
	routes: [$routes]
}
EOF
		"$NATS_SERVER" -c "$node/nats.conf" >"$node/nats.log" 2>&1 &
		NATS_PIDS+=($!)
		PIDS+=($!)
		NATS_MONITORS+=("${ports[2 * NATS_NODES + i]}")
		urls+=("nats://127.0.0.1:${ports[i]}")
	done
	NATS_URL="$(IFS=,; echo "${urls[*]}")"
	for ((i = 0; i < NATS_NODES; i++)); do
		wait_nats_ready "n$((i + 1))" "${NATS_MONITORS[i]}" "${NATS_PIDS[i]}" "$dir/n$((i + 1))/nats.log"
	done
	log "nats: $NATS_NODES servers with JetStream (sync_interval: always), clients $NATS_URL, monitors ${NATS_MONITORS[*]}, pids ${NATS_PIDS[*]}, configs $dir/n*/nats.conf"
}

# wait_nats_ready NAME MONITOR_PORT PID LOGFILE: polls the monitor until
# /healthz?js-enabled-only=true answers 200 and /jsz names a meta leader
# (before that the backend could not create its streams).
wait_nats_ready() {
	local name=$1 port=$2 pid=$3 logf=$4 i
	for ((i = 0; i < 600; i++)); do
		if [[ "$(HTTP_TIMEOUT=2 http_request "$port" GET '/healthz?js-enabled-only=true' 2>/dev/null | head -n 1 | awk '{print $2}')" == 200 ]] &&
			HTTP_TIMEOUT=2 http_request "$port" GET /jsz 2>/dev/null | tr -d ' \n\t' | grep '"meta_cluster":{[^}]*"leader":"n' >/dev/null; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 40 "$logf" >&2 || true
			die "nats-server $name exited at start (log above: $logf)"
		fi
		sleep 0.1
	done
	tail -n 40 "$logf" >&2 || true
	die "nats-server $name not ready within 60s (/healthz?js-enabled-only=true and a meta leader in /jsz on 127.0.0.1:$port)"
}

# check_nats_alive: dies if a NATS server has stopped.
check_nats_alive() {
	local i
	for ((i = 0; i < ${#NATS_PIDS[@]}; i++)); do
		if ! kill -0 "${NATS_PIDS[i]}" 2>/dev/null; then
			die "nats-server n$((i + 1)) is no longer running (see its nats.log in $WORK)"
		fi
	done
}

# stop_nats: ends the NATS servers.
stop_nats() {
	local pid
	for pid in "${NATS_PIDS[@]}"; do stop_pid "$pid"; done
	NATS_PIDS=()
}

# metric_sum ADMIN_PORT NAME: the sum of a metric's samples on Caddy's admin
# /metrics; "absent" when there is none.
metric_sum() {
	local body
	body="$(http_request "$1" GET /metrics 2>/dev/null || true)"
	awk -v n="$2" 'index($0, n "{") == 1 || index($0, n " ") == 1 { s += $NF; found = 1 }
		END { if (found) printf "%.0f\n", s; else print "absent" }' <<<"$body"
}

# wait_module_stores NAME HTTP_PORT ADMIN_PORT PID LOGFILE BODY: POSTs BODY
# to /api/orders until the module has stored an event
# (caddy_webhooks_events_total grows). Caddy serves HTTP before every app
# has started: until the webhooks app has opened its store (a NATS
# connection and its streams take a moment), matched events are skipped as
# store_unavailable, and a measurement then would time skipping, not storing.
wait_module_stores() {
	local name=$1 port=$2 admin=$3 pid=$4 logf=$5 body=$6 before now i t0
	t0=$(date +%s%N)
	before="$(metric_sum "$admin" caddy_webhooks_events_total)"
	[[ $before != absent ]] || before=0
	for ((i = 0; i < 300; i++)); do
		http_request "$port" POST /api/orders "$body" >/dev/null 2>&1 || true
		now="$(metric_sum "$admin" caddy_webhooks_events_total)"
		if [[ $now != absent ]] && ((now > before)); then
			log "caddy ($name): the module stores events ($(( ($(date +%s%N) - t0) / 1000000 )) ms after its port opened, $((i + 1)) POSTs)"
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 40 "$logf" >&2 || true
			die "caddy ($name) exited (log above: $logf)"
		fi
		sleep 0.1
	done
	tail -n 40 "$logf" >&2 || true
	die "caddy ($name): the module stored no event after 300 POSTs /api/orders over 30 s+ (log above: $logf)"
}

# ---------------------------------------------------------------------------
# Memory of a process (Linux /proc): resident set size now and its peak.

# proc_kib PID FIELD: a /proc/PID/status field in KiB (VmRSS: resident now,
# VmHWM: the peak since start or the last reset_hwm); empty if unreadable.
proc_kib() {
	awk -v f="$2:" '$1 == f { print $2; exit }' "/proc/$1/status" 2>/dev/null || true
}

# reset_hwm PID: resets the process's VmHWM to its current RSS (Linux
# 4.0+: writing 5 to clear_refs), so the peak of a phase can be read alone;
# returns 1 if the kernel refused.
reset_hwm() { { echo 5 >"/proc/$1/clear_refs"; } 2>/dev/null; }

# mib KIB: KiB as MiB with one decimal.
mib() { awk -v k="$1" 'BEGIN { if (k == "") print "?"; else printf "%.1f", k / 1024 }'; }

# memory_cgroup NAME BYTES: makes a memory cgroup limited to BYTES, as a
# container's limit (cgroup v2 when /sys/fs/cgroup is unified, else v1's
# memory controller; needs root), removed on exit; sets CGROUP to its
# directory. Start a process in it with in_cgroup.
memory_cgroup() {
	local name=$1 bytes=$2
	if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
		CGROUP="/sys/fs/cgroup/$name"
		mkdir "$CGROUP" || die "cannot make the cgroup $CGROUP (root, and memory in /sys/fs/cgroup/cgroup.subtree_control, are needed)"
		CGROUPS+=("$CGROUP")
		echo "$bytes" >"$CGROUP/memory.max" || die "cannot set $CGROUP/memory.max"
		{ echo 0 >"$CGROUP/memory.swap.max"; } 2>/dev/null || true
	elif [[ -d /sys/fs/cgroup/memory ]]; then
		CGROUP="/sys/fs/cgroup/memory/$name"
		mkdir "$CGROUP" || die "cannot make the cgroup $CGROUP (root is needed)"
		CGROUPS+=("$CGROUP")
		echo "$bytes" >"$CGROUP/memory.limit_in_bytes" || die "cannot set $CGROUP/memory.limit_in_bytes"
	else
		die "no cgroup memory controller under /sys/fs/cgroup"
	fi
}

# in_cgroup DIR COMMAND ARGS...: becomes COMMAND, in the cgroup DIR. It
# execs, so that $! is COMMAND's pid: call it in the background (&).
in_cgroup() {
	local dir=$1
	shift
	exec sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$dir" "$@"
}
