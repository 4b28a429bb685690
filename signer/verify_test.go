package signer_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/signer"
)

func TestVerifyStandardReferenceVector(t *testing.T) {
	// Built by hand with the specification's lower-case names, as a
	// receiver framework might hand them over.
	h := http.Header{
		"webhook-id":        {refID},
		"webhook-timestamp": {"1614265330"},
		"webhook-signature": {refSignature},
	}
	if err := signer.Verify(signer.Standard, h, []byte(refPayload), refSecret, time.Unix(refTimestamp, 0)); err != nil {
		t.Fatalf("Verify(reference vector) = %v", err)
	}
	h2 := http.Header{}
	h2.Set("webhook-id", refID)
	h2.Set("webhook-timestamp", "1614265330")
	h2.Set("webhook-signature", refSignature)
	if err := signer.Verify(signer.Standard, h2, []byte(refPayload), refSecret, time.Unix(refTimestamp, 0)); err != nil {
		t.Fatalf("Verify(reference vector, canonical keys) = %v", err)
	}
}

func TestVerifyStandard(t *testing.T) {
	ts := time.Unix(refTimestamp, 0)
	body := []byte(refPayload)
	// base returns the reference headers after edit.
	base := func(edit func(http.Header)) http.Header {
		h := http.Header{}
		h.Set("webhook-id", refID)
		h.Set("webhook-timestamp", "1614265330")
		h.Set("webhook-signature", refSignature)
		if edit != nil {
			edit(h)
		}
		return h
	}
	otherSig := "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	for _, tc := range []struct {
		name   string
		header http.Header
		body   []byte
		secret string
		now    time.Time
		want   error // nil means it verifies
	}{
		{"valid", base(nil), body, refSecret, ts, nil},
		{"valid 5 minutes later", base(nil), body, refSecret, ts.Add(signer.Tolerance), nil},
		{"valid 5 minutes earlier", base(nil), body, refSecret, ts.Add(-signer.Tolerance), nil},
		{"valid among others", base(func(h http.Header) {
			h.Set("webhook-signature", "v1a,xyz "+otherSig+"  "+refSignature+" v2,abc")
		}), body, refSecret, ts, nil},
		{"valid over two header lines", base(func(h http.Header) {
			h.Set("webhook-signature", otherSig)
			h.Add("webhook-signature", refSignature)
		}), body, refSecret, ts, nil},
		{"valid with surrounding spaces", base(func(h http.Header) {
			h.Set("webhook-id", " "+refID+" ")
		}), body, refSecret, ts, nil},
		{"tampered body", base(nil), []byte(`{"test": 2432232315}`), refSecret, ts, signer.ErrMismatch},
		{"empty body", base(nil), nil, refSecret, ts, signer.ErrMismatch},
		{"wrong secret", base(nil), body, whsec(24), ts, signer.ErrMismatch},
		{"other id", base(func(h http.Header) { h.Set("webhook-id", "msg_other") }), body, refSecret, ts, signer.ErrMismatch},
		{"other timestamp within tolerance", base(func(h http.Header) { h.Set("webhook-timestamp", "1614265331") }), body, refSecret, ts, signer.ErrMismatch},
		{"only other signatures", base(func(h http.Header) { h.Set("webhook-signature", otherSig) }), body, refSecret, ts, signer.ErrMismatch},
		{"stale", base(nil), body, refSecret, ts.Add(signer.Tolerance + time.Second), signer.ErrTimestamp},
		{"future", base(nil), body, refSecret, ts.Add(-signer.Tolerance - time.Second), signer.ErrTimestamp},
		{"far future", base(func(h http.Header) { h.Set("webhook-timestamp", "9223372036854775807") }), body, refSecret, ts, signer.ErrTimestamp},
		{"far past", base(func(h http.Header) { h.Set("webhook-timestamp", "-9223372036854775808") }), body, refSecret, ts, signer.ErrTimestamp},
		{"timestamp not a number", base(func(h http.Header) { h.Set("webhook-timestamp", "2021-02-25T15:02:10Z") }), body, refSecret, ts, signer.ErrTimestamp},
		{"timestamp in milliseconds", base(func(h http.Header) { h.Set("webhook-timestamp", "1614265330000") }), body, refSecret, ts, signer.ErrTimestamp},
		{"missing signature", base(func(h http.Header) { h.Del("webhook-signature") }), body, refSecret, ts, signer.ErrNoSignature},
		{"empty signature", base(func(h http.Header) { h.Set("webhook-signature", " ") }), body, refSecret, ts, signer.ErrNoSignature},
		{"no v1 signature", base(func(h http.Header) { h.Set("webhook-signature", "v2,"+refSignature[3:]) }), body, refSecret, ts, signer.ErrNoSignature},
		{"bare base64", base(func(h http.Header) { h.Set("webhook-signature", refSignature[3:]) }), body, refSecret, ts, signer.ErrNoSignature},
		{"undecodable v1", base(func(h http.Header) { h.Set("webhook-signature", "v1,!!!") }), body, refSecret, ts, signer.ErrNoSignature},
		{"missing id", base(func(h http.Header) { h.Del("webhook-id") }), body, refSecret, ts, signer.ErrMissingHeader},
		{"missing timestamp", base(func(h http.Header) { h.Del("webhook-timestamp") }), body, refSecret, ts, signer.ErrMissingHeader},
		{"nil header", nil, body, refSecret, ts, signer.ErrMissingHeader},
		{"invalid secret", base(nil), body, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ts, signer.ErrInvalidSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := signer.Verify(signer.Standard, tc.header, tc.body, tc.secret, tc.now)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Verify() = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyLegacy(t *testing.T) {
	const secret = "cms-app-secret-0123456789"
	body := []byte(`{"id":"evt_1","event":"order.created","data":{"total":42}}`)
	good := strings.TrimPrefix("sha256=c50b8421cf8ef6660e6614595f34afa05395ddc9208baae6d3edd23e60c42da7", "sha256=")
	sig := func(v string) http.Header {
		h := http.Header{}
		if v != "" {
			h.Set("X-Webhook-Signature", v)
		}
		return h
	}
	for _, tc := range []struct {
		name, scheme string
		header       http.Header
		body         []byte
		secret       string
		want         error
	}{
		{"sha256 valid", signer.SHA256, sig("sha256=" + good), body, secret, nil},
		{"hex valid", signer.Hex, sig(good), body, secret, nil},
		{"hex upper case", signer.Hex, sig(strings.ToUpper(good)), body, secret, nil},
		{"hex lower-case header name", signer.Hex, http.Header{"x-webhook-signature": {good}}, body, secret, nil},
		{"sha256 tampered body", signer.SHA256, sig("sha256=" + good), append(body, ' '), secret, signer.ErrMismatch},
		{"hex tampered body", signer.Hex, sig(good), body[1:], secret, signer.ErrMismatch},
		{"sha256 wrong secret", signer.SHA256, sig("sha256=" + good), body, secret + "x", signer.ErrMismatch},
		{"hex wrong secret", signer.Hex, sig(good), body, "another-secret-0123", signer.ErrMismatch},
		{"sha256 without prefix", signer.SHA256, sig(good), body, secret, signer.ErrMismatch},
		{"hex with sha256 prefix", signer.Hex, sig("sha256=" + good), body, secret, signer.ErrMismatch},
		{"hex truncated", signer.Hex, sig(good[:62]), body, secret, signer.ErrMismatch},
		{"hex not hex", signer.Hex, sig("zz" + good[2:]), body, secret, signer.ErrMismatch},
		{"sha256 missing", signer.SHA256, sig(""), body, secret, signer.ErrNoSignature},
		{"hex missing", signer.Hex, sig(""), body, secret, signer.ErrNoSignature},
		{"hex only standard headers", signer.Hex, http.Header{"Webhook-Signature": {refSignature}}, body, secret, signer.ErrNoSignature},
		{"sha256 short secret", signer.SHA256, sig("sha256=" + good), body, "short", signer.ErrInvalidSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := signer.Verify(tc.scheme, tc.header, tc.body, tc.secret, time.Now())
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Verify() = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyUnknownScheme(t *testing.T) {
	err := signer.Verify("md5", http.Header{}, nil, refSecret, time.Now())
	if !errors.Is(err, signer.ErrUnknownScheme) {
		t.Fatalf("Verify(md5) = %v, want ErrUnknownScheme", err)
	}
}

// TestSignVerifyRoundTrip signs with a generated secret, as the product
// does, and verifies under every scheme.
func TestSignVerifyRoundTrip(t *testing.T) {
	secret, err := signer.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 123e6, time.UTC)
	msg := signer.Message{
		ID:        "evt_01JD0000000000000000000000",
		Timestamp: now,
		Body:      []byte(`{"id":"evt_01JD0000000000000000000000","event":"order.created","timestamp":"2026-11-23T10:00:00.123Z","data":{}}`),
	}
	for _, scheme := range signer.Schemes() {
		if signer.IsKeyPair(scheme) {
			continue // TestEd25519
		}
		h, err := signer.Sign(scheme, msg, secret)
		if err != nil {
			t.Fatalf("%s: Sign() = %v", scheme, err)
		}
		if err := signer.Verify(scheme, h, msg.Body, secret, now.Add(time.Minute)); err != nil {
			t.Errorf("%s: Verify() = %v", scheme, err)
		}
	}
}
