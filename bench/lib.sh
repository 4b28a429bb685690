#!/usr/bin/env bash
# Shared by bench/run.sh and bench/delivery.sh (sourced, not run): logging,
# process bookkeeping and cleanup, wrk, the work directory and the Caddy
# build. Callers set REPO_DIR, START_DIR, KEEP_TMP, CADDY_BIN, WORK_PREFIX
# and KEPT_WHAT, then call bench_setup, which sets WORK and CADDY.

log() { printf '%s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Process bookkeeping: every process started here is recorded and ended on exit.

PIDS=()
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
	if [[ -n "$WORK" && -d "$WORK" ]]; then
		if [[ "$KEEP_TMP" == 1 || $rc -ne 0 ]]; then
			log "temp dir kept: $WORK ($KEPT_WHAT)" >&2
		else
			rm -rf "$WORK"
		fi
	fi
	exit "$rc"
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
