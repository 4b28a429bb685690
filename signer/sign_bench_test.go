//go:build unix

package signer_test

import (
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/internal/benchcpu"
	"github.com/caddy-webhooks/caddy-webhooks/signer"
)

// benchBody is the body of a delivery of bench/rules.yaml's
// order.created event: the envelope around its extracted data.
const benchBody = `{"id":"evt_01JDBSW4ZQ8W3M1K9X2V7C5N6R","event":"order.created",` +
	`"timestamp":"2026-11-23T10:00:00.123Z",` +
	`"data":{"orderId":"6745a1b20000000000000001","total":42.5,"site":"site-1"}}`

// BenchmarkSign signs one delivery with each scheme (and Standard during a
// secret rotation, which signs with both secrets), as every attempt does.
func BenchmarkSign(b *testing.B) {
	msg := signer.Message{ID: "evt_01JDBSW4ZQ8W3M1K9X2V7C5N6R", Timestamp: time.Unix(1795428000, 0), Body: []byte(benchBody)}
	for _, bc := range []struct {
		name, scheme string
		secrets      []string
	}{
		{"standard", signer.Standard, []string{refSecret}},
		{"standard-rotation", signer.Standard, []string{whsec(32), refSecret}},
		{"sha256", signer.SHA256, []string{"a-secret-of-some-length"}},
		{"hex", signer.Hex, []string{"a-secret-of-some-length"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, err := signer.Sign(bc.scheme, msg, bc.secrets...)
			if err != nil {
				b.Fatal(err)
			}
			// What is signed must verify (with the previous secret too,
			// during a rotation): a broken signature is not worth timing.
			if err := signer.Verify(bc.scheme, h, msg.Body, bc.secrets[len(bc.secrets)-1], msg.Timestamp); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu := benchcpu.Now()
			for b.Loop() {
				if _, err := signer.Sign(bc.scheme, msg, bc.secrets...); err != nil {
					b.Fatal(err)
				}
			}
			benchcpu.Report(b, cpu)
		})
	}
}
