#!/usr/bin/env bash
# The demo: the legacy shop on :9000, and Caddy with caddy-webhooks in front
# of it on :8080 (Caddyfile.example). Every event it infers is printed on
# this terminal as an `event_inferred` log line. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$bin"
}
trap cleanup EXIT INT TERM

echo "building caddy and the shop..."
go build -o "$bin/caddy" ./cmd/caddy
go build -o "$bin/shop" ./examples/shop

"$bin/shop" -addr 127.0.0.1:9000 &
pids+=($!)
"$bin/caddy" run --config Caddyfile.example --adapter caddyfile &
pids+=($!)

for _ in $(seq 100); do
	curl -fsS -o /dev/null http://localhost:8080/api/health 2>/dev/null && break
	sleep 0.1
done

cat <<'MSG'

Ready: shop on :9000, Caddy with caddy-webhooks on :8080 (admin localhost:2019).
Try, from another terminal:

  curl -s localhost:8080/api/orders -H 'Content-Type: application/json' \
    -d '{"customer":{"email":"marie@example.ch","name":"Marie"},"items":[{"sku":"MUG","name":"Mug","quantity":2,"price":15.5}],"site":"site-1"}'

  curl -s localhost:8080/api/customers -H 'Content-Type: application/json' \
    -d '{"email":"jean@example.ch","password":"s3cret!","firstName":"Jean","lastName":"Muller"}'

Each prints the shop's answer, and this terminal logs the inferred event.
MSG
wait -n "${pids[@]}"
