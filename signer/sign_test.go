package signer_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-webhooks/caddy-webhooks/signer"
)

// The Standard Webhooks reference vector (from the specification's test
// suites).
const (
	refSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	refID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	refTimestamp = 1614265330
	refPayload   = `{"test": 2432232314}`
	refSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func refMessage() signer.Message {
	return signer.Message{ID: refID, Timestamp: time.Unix(refTimestamp, 0), Body: []byte(refPayload)}
}

func TestSignStandardReferenceVector(t *testing.T) {
	h, err := signer.Sign(signer.Standard, refMessage(), refSecret)
	if err != nil {
		t.Fatal(err)
	}
	want := http.Header{
		"Webhook-Id":        {refID},
		"Webhook-Timestamp": {"1614265330"},
		"Webhook-Signature": {refSignature},
	}
	if !headersEqual(h, want) {
		t.Fatalf("Sign() = %v, want %v", h, want)
	}
	// The lower-case names of the specification find the same values.
	if got := h.Get("webhook-signature"); got != refSignature {
		t.Fatalf("webhook-signature = %q, want %q", got, refSignature)
	}
}

func TestSignStandardTruncatesToSeconds(t *testing.T) {
	msg := refMessage()
	msg.Timestamp = msg.Timestamp.Add(999 * time.Millisecond).In(time.FixedZone("X", 3600))
	h, err := signer.Sign(signer.Standard, msg, refSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Get("webhook-timestamp"); got != "1614265330" {
		t.Errorf("webhook-timestamp = %q, want 1614265330", got)
	}
	if got := h.Get("webhook-signature"); got != refSignature {
		t.Errorf("webhook-signature = %q, want %q", got, refSignature)
	}
}

// independentHex is HMAC-SHA256(secret string bytes, body) in lower-case
// hex, computed here without the package.
func independentHex(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func TestSignLegacy(t *testing.T) {
	crmBody := []byte(`{"event":"organisation.created","data":{"name":"ACME Capital"}}`)
	cmsBody := []byte(`{"id":"evt_1","event":"order.created","data":{"total":42}}`)
	for _, tc := range []struct {
		name, scheme, secret string
		body                 []byte
		fixed                string // computed outside Go, see each case
	}{
		// A receiver of the hex scheme (the CRM's), run with Python 3:
		// hmac.new(secret.encode(), payload, sha256).hexdigest()
		{"hex python ascii", signer.Hex, refSecret, crmBody,
			"ab1ca744324c24456a2a1f902eba530aebf6c0783c4755ea7c111b6e5ade92ce"},
		{"hex python utf-8", signer.Hex, "crm-secret-été-0123456789", crmBody,
			"579b9ff49c459ddeef02f49249bbb390fbe57006526019f743371b8114582d35"},
		// A sender of the sha256 scheme (the shop's), run with Node.js:
		// `sha256=${crypto.createHmac('sha256', secret).update(payload).digest('hex')}`
		{"sha256 node", signer.SHA256, "cms-app-secret-0123456789", cmsBody,
			"sha256=c50b8421cf8ef6660e6614595f34afa05395ddc9208baae6d3edd23e60c42da7"},
		{"sha256 node whsec", signer.SHA256, refSecret, cmsBody,
			"sha256=61d47cf6fea93c870216617bbad0f5f0d3181e6f9f4e32f71f73c1de892dad7a"},
		{"hex empty body", signer.Hex, "0123456789abcdef", nil, ""},
		{"sha256 binary body", signer.SHA256, "0123456789abcdef", []byte{0, 1, 2, 0xff}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := signer.Message{ID: "evt_1", Timestamp: time.Unix(refTimestamp, 0), Body: tc.body}
			h, err := signer.Sign(tc.scheme, msg, tc.secret)
			if err != nil {
				t.Fatal(err)
			}
			want := independentHex(tc.secret, tc.body)
			if tc.scheme == signer.SHA256 {
				want = "sha256=" + want
			}
			if tc.fixed != "" && tc.fixed != want {
				t.Fatalf("test vector %q disagrees with crypto/hmac %q", tc.fixed, want)
			}
			if !headersEqual(h, http.Header{"X-Webhook-Signature": {want}}) {
				t.Fatalf("Sign() = %v, want only X-Webhook-Signature: %s", h, want)
			}
			// Such receivers compare whole strings, so the exact
			// text matters, not just the MAC bytes.
			if !hmac.Equal([]byte(h.Get("x-webhook-signature")), []byte(want)) {
				t.Fatalf("receiver comparison failed")
			}
			if err := signer.Verify(tc.scheme, h, tc.body, tc.secret, time.Time{}); err != nil {
				t.Fatalf("Verify(own signature) = %v", err)
			}
		})
	}
}

func TestSignRotationStandard(t *testing.T) {
	newSecret, oldSecret := whsec(32), refSecret
	msg := refMessage()
	h, err := signer.Sign(signer.Standard, msg, newSecret, oldSecret)
	if err != nil {
		t.Fatal(err)
	}
	onlyNew, _ := signer.Sign(signer.Standard, msg, newSecret)
	want := onlyNew.Get("webhook-signature") + " " + refSignature
	if got := h.Get("webhook-signature"); got != want {
		t.Fatalf("webhook-signature = %q, want %q", got, want)
	}
	// Independently: the first entry is HMAC(new key, "id.ts.body").
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(newSecret, "whsec_"))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(refID + ".1614265330." + refPayload))
	if first := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)); !strings.HasPrefix(want, first+" ") {
		t.Fatalf("first signature is not the new secret's: %q, want %q", want, first)
	}
	now := time.Unix(refTimestamp, 0)
	for _, s := range []string{newSecret, oldSecret} {
		if err := signer.Verify(signer.Standard, h, msg.Body, s, now); err != nil {
			t.Errorf("Verify(%s) = %v", signer.Hint(s), err)
		}
	}
	if err := signer.Verify(signer.Standard, h, msg.Body, whsec(40), now); !errors.Is(err, signer.ErrMismatch) {
		t.Errorf("Verify(third secret) = %v, want ErrMismatch", err)
	}
}

func TestSignRotationLegacyUsesCurrentOnly(t *testing.T) {
	body := []byte(`{"a":1}`)
	for _, scheme := range []string{signer.SHA256, signer.Hex} {
		newSecret, oldSecret := "new-secret-0123456789", "old-secret-0123456789"
		h, err := signer.Sign(scheme, signer.Message{Body: body}, newSecret, oldSecret, "short")
		if err != nil {
			t.Fatalf("%s: %v", scheme, err)
		}
		if vs := h.Values("X-Webhook-Signature"); len(vs) != 1 {
			t.Fatalf("%s: X-Webhook-Signature = %q, want one value", scheme, vs)
		}
		if err := signer.Verify(scheme, h, body, newSecret, time.Time{}); err != nil {
			t.Errorf("%s: Verify(new) = %v", scheme, err)
		}
		if err := signer.Verify(scheme, h, body, oldSecret, time.Time{}); !errors.Is(err, signer.ErrMismatch) {
			t.Errorf("%s: Verify(old) = %v, want ErrMismatch", scheme, err)
		}
	}
}

func TestSignErrors(t *testing.T) {
	good := refMessage()
	for _, tc := range []struct {
		name    string
		scheme  string
		msg     signer.Message
		secrets []string
		want    error
	}{
		{"unknown scheme", "sha1", good, []string{refSecret}, signer.ErrUnknownScheme},
		{"empty scheme", "", good, []string{refSecret}, signer.ErrUnknownScheme},
		{"no secret standard", signer.Standard, good, nil, signer.ErrInvalidSecret},
		{"no secret hex", signer.Hex, good, nil, signer.ErrInvalidSecret},
		{"standard bad secret", signer.Standard, good, []string{"not-a-whsec-secret-at-all"}, signer.ErrInvalidSecret},
		{"standard 23 bytes", signer.Standard, good, []string{whsec(23)}, signer.ErrInvalidSecret},
		{"standard bad previous secret", signer.Standard, good, []string{refSecret, "whsec_!!"}, signer.ErrInvalidSecret},
		{"sha256 short secret", signer.SHA256, good, []string{"0123456789abcde"}, signer.ErrInvalidSecret},
		{"hex empty secret", signer.Hex, good, []string{""}, signer.ErrInvalidSecret},
		{"empty id", signer.Standard, signer.Message{Timestamp: good.Timestamp}, []string{refSecret}, signer.ErrInvalidMessage},
		{"id with newline", signer.Standard, signer.Message{ID: "evt_1\r\nX-Evil: 1", Timestamp: good.Timestamp}, []string{refSecret}, signer.ErrInvalidMessage},
		{"id with spaces", signer.Standard, signer.Message{ID: " evt_1", Timestamp: good.Timestamp}, []string{refSecret}, signer.ErrInvalidMessage},
		{"zero timestamp", signer.Standard, signer.Message{ID: "evt_1"}, []string{refSecret}, signer.ErrInvalidMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := signer.Sign(tc.scheme, tc.msg, tc.secrets...)
			if !errors.Is(err, tc.want) || h != nil {
				t.Fatalf("Sign() = %v, %v; want nil, %v", h, err, tc.want)
			}
		})
	}
	// The legacy schemes sign only the body, so they need no id or time.
	if _, err := signer.Sign(signer.Hex, signer.Message{}, "0123456789abcdef"); err != nil {
		t.Errorf("Sign(hex, empty message) = %v", err)
	}
}

func headersEqual(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}
