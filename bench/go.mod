// The benchmarks' helper programs (upstream, receiver, pace, freeport),
// built by bench/run.sh and bench/delivery.sh: a module of its own, so that
// they stay out of the plugin's build. They use the standard library only.
module github.com/caddy-webhooks/caddy-webhooks/bench

go 1.26.0
