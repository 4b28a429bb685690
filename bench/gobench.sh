#!/usr/bin/env bash
# bench/gobench.sh: the Go benchmarks of the hot paths (go test -bench),
# from any directory: rule matching and extraction, signing, the Badger
# store's commit, claim, completion and snapshot read, the handler per
# request and a delivery's request, send and dispatch. It prints what the
# figures depend on (commit, Go, CPU, load average, the temp dir's
# filesystem), then go test's output. See bench/README.md ("Go benchmarks
# of the hot paths").
#
# Usage: bench/gobench.sh
# Env:   COUNT=1       runs of each benchmark (go test -count; 5 or more
#                      for benchstat)
#        BENCHTIME=1s  go test -benchtime (a duration, or 100x for a count)
#        BENCH=.       go test -bench: which benchmarks (a regexp)
#        PKGS="..."    the packages (default: all those with benchmarks)
#        TMPDIR        where the Badger stores go (b.TempDir()): on a tmpfs,
#                      fsync costs nothing and sync commits look as fast as
#                      async ones
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COUNT="${COUNT:-1}"
BENCHTIME="${BENCHTIME:-1s}"
BENCH="${BENCH:-.}"
PKGS="${PKGS:-./rules ./signer ./storage/badgerstore ./caddymodule ./delivery}"

die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
[[ "$COUNT" =~ ^[1-9][0-9]*$ ]] || die "COUNT must be a positive integer (got '$COUNT')"
command -v go >/dev/null || die "go is not on PATH"

tmp="${TMPDIR:-/tmp}"
fs=$(df -PT "$tmp" 2>/dev/null | awk 'NR == 2 { print $2 }')
fs=${fs:-$(stat -f -c %T "$tmp" 2>/dev/null || echo unknown)}
commit=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n "$(git -C "$REPO_DIR" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
	commit+=" (with uncommitted changes)"
fi

echo "commit:    $commit"
echo "go:        $(go version)"
echo "cpu:       $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || echo unknown)"
echo "load:      $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
echo "temp dir:  $tmp on $fs"
if [[ "$fs" == tmpfs || "$fs" == ramfs ]]; then
	echo "WARNING: $tmp is a $fs: fsync costs nothing there, so the sync figures are not a disk's" >&2
fi
# shellcheck disable=SC2086 # PKGS is a list of packages
echo "command:   go test -run '^\$' -bench '$BENCH' -benchmem -count $COUNT -benchtime $BENCHTIME" $PKGS
echo

out=$(mktemp)
trap 'rm -f "$out"' EXIT

# -run '^$': no test runs, only the benchmarks. -timeout: BenchmarkDispatch
# and the claim benchmarks fill their queue first, which a long BENCHTIME
# makes long.
# shellcheck disable=SC2086 # PKGS is a list of packages
go -C "$REPO_DIR" test -run '^$' -bench "$BENCH" -benchmem -count "$COUNT" -benchtime "$BENCHTIME" -timeout 60m $PKGS | tee "$out"

# The summary: one row per benchmark, the median of its COUNT runs (the
# -2 suffix, GOMAXPROCS, dropped), as bench/README.md's table has them.
# cpu-ns/op is the process's CPU time (getrusage) per op: on a shared
# machine it moves much less than ns/op.
echo
echo "| package | benchmark | ns/op | cpu-ns/op | B/op | allocs/op | other |"
echo "|---|---|---:|---:|---:|---:|---|"
awk '
	function median(list,   n, a, i, j, t) {
		n = split(list, a, " ")
		if (n == 0) return ""
		for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	/^pkg: / { pkg = $2; sub(/.*caddy-webhooks\/caddy-webhooks\//, "", pkg) }
	/^Benchmark/ {
		name = $1; sub(/-[0-9]+$/, "", name)
		key = pkg "|" name
		if (!(key in seen)) { seen[key] = 1; order[++n] = key }
		for (i = 3; i < NF; i += 2) {
			unit = $(i + 1)
			vals[key, unit] = vals[key, unit] " " $i
			if (unit != "ns/op" && unit != "cpu-ns/op" && unit != "B/op" && unit != "allocs/op" && !((key, unit) in extra)) {
				extra[key, unit] = 1; extras[key] = extras[key] " " unit
			}
		}
	}
	END {
		for (k = 1; k <= n; k++) {
			key = order[k]; split(key, p, "|")
			other = ""
			m = split(extras[key], us, " ")
			for (u = 1; u <= m; u++) other = other sprintf("%s%.0f %s", other == "" ? "" : ", ", median(vals[key, us[u]]), us[u])
			printf "| %s | %s | %s | %s | %s | %s | %s |\n", p[1], p[2], median(vals[key, "ns/op"]), median(vals[key, "cpu-ns/op"]), median(vals[key, "B/op"]), median(vals[key, "allocs/op"]), other
		}
	}
' "$out"
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
