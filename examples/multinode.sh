#!/usr/bin/env bash
# The multi-node demo: three NATS servers with JetStream (a cluster, client
# ports 4222-4224), two Caddy nodes with caddy-webhooks on it (:8081 and
# :8082, admin localhost:2020 and localhost:2021), a third Caddy as the load
# balancer in front of them (:8080), the legacy shop on :9000 and the
# example receiver on :9100, subscribed through node A's admin API. Every
# delivery the receiver verifies is printed here. Ctrl-C stops everything.
# See docs/multi-node.md.
set -euo pipefail
cd "$(dirname "$0")/.."
run=$(mktemp -d)
pids=()
cleanup() {
	local rc=$?
	if [[ $rc -ne 0 && $rc -ne 130 ]]; then # not Ctrl-C: show what the processes said
		for f in "$run"/*.log "$run"/n*/nats.log; do
			[[ -s $f ]] && { echo "--- $f"; tail -n 15 "$f"; }
		done
	fi
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [[ $rc -ne 0 && $rc -ne 130 ]]; then
		echo "logs and configs kept in $run"
	else
		rm -rf "$run"
	fi
}
trap cleanup EXIT INT TERM

wait_for() { # url [seconds]
	for _ in $(seq $((${2:-30} * 10))); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "no answer from $1" >&2
	return 1
}

echo "building caddy, nats-server, the shop and the receiver..."
go build -o "$run/caddy" ./cmd/caddy
# nats-server is pinned in tools/go.mod; examples/ is a module of its own.
go -C tools build -o "$run/nats-server" github.com/nats-io/nats-server/v2
go -C examples build -o "$run/shop" ./shop
go -C examples build -o "$run/receiver" ./receiver

# The NATS cluster: each server fsyncs every write (sync_interval: always),
# so that an acknowledged event survives a power loss of all three.
routes="nats://127.0.0.1:6222, nats://127.0.0.1:6223, nats://127.0.0.1:6224"
for i in 1 2 3; do
	mkdir -p "$run/n$i"
	cat >"$run/n$i/nats.conf" <<-CONF
		server_name: n$i
		listen: 127.0.0.1:$((4221 + i))
		http: 127.0.0.1:$((8221 + i))
		jetstream {
			store_dir: "$run/n$i/jetstream"
			sync_interval: always
		}
		cluster {
			name: webhooks
			listen: 127.0.0.1:$((6221 + i))
			routes: [$routes]
		}
	CONF
	"$run/nats-server" -c "$run/n$i/nats.conf" 2>"$run/n$i/nats.log" &
	pids+=($!)
done

# The two webhooks nodes: the same config but for their addresses.
node() { # name port admin
	cat >"$run/$1.Caddyfile" <<-CADDY
		{
			admin localhost:$3 {
				origins localhost:$3 127.0.0.1:$3 ""
			}
			webhooks {
				storage nats {
					url nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224
					prefix demo
					replicas 3
				}
				retry 1m 5m 15m
				allow_private_targets
			}
			log webhooks {
				include http.handlers.webhooks webhooks.delivery
				level DEBUG
				output file $run/$1.log
			}
		}

		:$2 {
			webhooks {
				rules $PWD/examples/shop/rules.yaml
				max_body 1MiB
			}
			reverse_proxy localhost:9000
		}
	CADDY
}
node a 8081 2020
node b 8082 2021
cat >"$run/lb.Caddyfile" <<-CADDY
	{
		admin localhost:2022
	}

	:8080 {
		reverse_proxy localhost:8081 localhost:8082 {
			lb_policy round_robin
		}
	}
CADDY

secret="whsec_$(head -c 32 /dev/urandom | base64)"
"$run/shop" -addr 127.0.0.1:9000 2>/dev/null &
pids+=($!)
WEBHOOK_SECRET=$secret "$run/receiver" -addr 127.0.0.1:9100 &
pids+=($!)
for n in 1 2 3; do wait_for "http://127.0.0.1:$((8221 + n))/healthz?js-enabled-only=true"; done
for n in a b lb; do
	"$run/caddy" run --config "$run/$n.Caddyfile" --adapter caddyfile 2>"$run/$n.caddy.log" &
	pids+=($!)
done
wait_for http://localhost:9100/health
# Each node's store opens once the cluster has made its buckets (the
# first start creates them: seconds, more on a busy machine).
echo "waiting for the nodes' stores..."
for admin in 2020 2021; do
	for _ in $(seq 1200); do
		curl -fsS "localhost:$admin/webhooks/stats" 2>/dev/null | grep -q '"status": *"ok"' && break
		sleep 0.1
	done
done
wait_for http://localhost:2020/webhooks/events
wait_for http://localhost:2021/webhooks/events
wait_for http://localhost:8080/api/health

# Subscribe through node A; node B serves the same subscription.
curl -fsS localhost:2020/webhooks/subscriptions -H 'Content-Type: application/json' -d "{
	\"url\": \"http://127.0.0.1:9100/hooks\",
	\"events\": [\"order.*\", \"customer.*\"],
	\"secret\": \"$secret\"
}" >/dev/null

cat <<'MSG'

Ready: NATS on 4222-4224, Caddy nodes A (:8081, admin localhost:2020) and
B (:8082, admin localhost:2021) behind the load balancer on :8080, the shop
on :9000, the receiver on :9100 subscribed through node A.
Try, from another terminal (the load balancer alternates the nodes):

  curl -s localhost:8080/api/orders -H 'Content-Type: application/json' \
    -d '{"customer":{"email":"marie@example.ch","name":"Marie"},"items":[{"sku":"MUG","name":"Mug","quantity":2,"price":15.5}],"site":"site-1"}'

  # change its status through the other node: the old status is the one
  # the first node remembered
  curl -s -X PUT localhost:8080/api/orders/<orderId>/status -H 'Content-Type: application/json' \
    -d '{"status":"shipped","trackingNumber":"CH123","trackingUrl":"https://track.example/CH123"}'

  curl -s localhost:2021/webhooks/subscriptions   # node B knows A's subscription
  curl -s localhost:2021/webhooks/stats           # and the cluster's health

Stop one NATS server or one Caddy node (kill the process listed by
`pgrep -af 'nats-server|caddy run'`): the others go on.
MSG
echo "Logs and configs: $run"
wait -n "${pids[@]}"
