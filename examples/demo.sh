#!/usr/bin/env bash
# The demo: the legacy shop on :9000, Caddy with caddy-webhooks in front of
# it on :8080 (Caddyfile.example, admin on localhost:2019), and the example
# receiver on :9100, subscribed through the admin API. Every delivery the
# receiver verifies is printed here as a `verified …` line. Ctrl-C stops
# everything.
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

wait_for() { # url
	for _ in $(seq 100); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "no answer from $1" >&2
	return 1
}

echo "building caddy, the shop and the receiver..."
go build -o "$bin/caddy" ./cmd/caddy
# examples/ is a Go module of its own (examples/go.mod).
go -C examples build -o "$bin/shop" ./shop
go -C examples build -o "$bin/receiver" ./receiver

# The subscription's secret, made here so the receiver can check it.
secret="whsec_$(head -c 32 /dev/urandom | base64)"

"$bin/shop" -addr 127.0.0.1:9000 2>/dev/null &
pids+=($!)
WEBHOOK_SECRET=$secret "$bin/receiver" -addr 127.0.0.1:9100 &
pids+=($!)
"$bin/caddy" run --config Caddyfile.example --adapter caddyfile 2>"$bin/caddy.log" &
pids+=($!)

wait_for http://localhost:9100/health
wait_for http://localhost:8080/api/health
wait_for http://localhost:2019/webhooks/events

# Subscribe the receiver to every event of the shop's rules, through the
# admin API (the same call a partner's integration would make). A demo run
# before this one may have left the same subscription: remove it first.
for id in $(curl -fsS localhost:2019/webhooks/subscriptions | grep -o '"id": "sub_[^"]*"' | cut -d'"' -f4); do
	if curl -fsS "localhost:2019/webhooks/subscriptions/$id" | grep -q '"app_name": "demo-receiver"'; then
		curl -fsS -X DELETE "localhost:2019/webhooks/subscriptions/$id"
	fi
done
curl -fsS localhost:2019/webhooks/subscriptions -H 'Content-Type: application/json' -d "{
	\"app_name\": \"demo-receiver\",
	\"url\": \"http://127.0.0.1:9100/hooks\",
	\"events\": [\"order.*\", \"customer.*\"],
	\"secret\": \"$secret\"
}" >/dev/null

cat <<'MSG'

Ready: shop on :9000, Caddy with caddy-webhooks on :8080 (admin localhost:2019),
receiver on :9100, subscribed to order.* and customer.*.
Try, from another terminal:

  curl -s localhost:8080/api/orders -H 'Content-Type: application/json' \
    -d '{"customer":{"email":"marie@example.ch","name":"Marie"},"items":[{"sku":"MUG","name":"Mug","quantity":2,"price":15.5}],"site":"site-1"}'

  curl -s localhost:8080/api/customers -H 'Content-Type: application/json' \
    -d '{"email":"jean@example.ch","password":"s3cret!","firstName":"Jean","lastName":"Muller"}'

  # the order's status, as the shop's back office changes it (the old one is
  # remembered from the create, or fetched from the shop first):
  curl -s -X PUT localhost:8080/api/orders/<orderId>/status -H 'Content-Type: application/json' \
    -d '{"status":"shipped","trackingNumber":"CH123","trackingUrl":"https://track.example/CH123"}'

The shop answers as usual; a moment later this terminal prints the verified
delivery (`verified standard order.created id=evt_… data={…}`).
Caddy's log is in the temporary file named below; subscriptions and
deliveries: the management page, http://localhost:2019/webhooks/ui/, or
  curl -s localhost:2019/webhooks/subscriptions   # then …/{id}/deliveries
MSG
echo "Caddy log: $bin/caddy.log"
wait -n "${pids[@]}"
