//go:build unix

package caddymodule

import (
	"net/http"
	"testing"

	"golang.org/x/time/rate"

	"github.com/caddy-webhooks/caddy-webhooks/internal/benchcpu"
	"github.com/caddy-webhooks/caddy-webhooks/learn"
	"github.com/caddy-webhooks/caddy-webhooks/webhook"
)

// BenchmarkLearn is learn mode's cost on a request no rule matches (the
// GET of BenchmarkServeHTTP's no-match): off; on, every request observed
// (its JSON answer read along and given to the model); and on at the
// default rate (200 a second observed, the rest let through), which is
// what a busy site pays.
func BenchmarkLearn(b *testing.B) {
	for _, bc := range []struct {
		name  string
		limit rate.Limit
	}{
		{"off", 0},
		{"observed", rate.Inf},
		{"sampled", learnRate},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, _ := benchHandler(b, webhook.Sync)
			if bc.limit != 0 {
				h.learner = &Learner{Model: learn.New(learn.Options{}), limiter: rate.NewLimiter(bc.limit, learnRate)}
			}
			x := benchExchanges["no-match"]
			next := benchUpstream()
			w := &benchWriter{header: http.Header{}}
			r, body := x.request()
			b.ReportAllocs()
			b.ResetTimer()
			cpu := benchcpu.Now()
			for range b.N {
				x.serve(b, h, next, w, r, body)
			}
			b.StopTimer()
			benchcpu.Report(b, cpu)
		})
	}
}
