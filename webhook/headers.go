package webhook

import (
	"fmt"
	"net/textproto"
	"sort"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// Limits on a subscription's extra headers: enough for credentials and
// tracing, small enough that no subscription can bloat every request.
const (
	MaxHeaders          = 32
	MaxHeaderNameBytes  = 256
	MaxHeaderValueBytes = 4 << 10
	MaxHeadersBytes     = 16 << 10 // names and values together
)

// Why a header cannot be set by a subscription, by canonical name.
const (
	setByDelivery = "is set by delivery and cannot be overridden"
	setByClient   = "is set by the HTTP client from the request itself"
	hopByHop      = "belongs to the connection, not to the delivery"
	wrongBody     = "would misdescribe the body delivery sends"
)

// refusedHeaders are the headers a subscription cannot set: those delivery
// sets (delivery/send.go; the signer's are caught by the prefixes below),
// those the HTTP client derives from the request, and hop-by-hop ones.
var refusedHeaders = map[string]string{
	"Content-Type":      setByDelivery,
	"User-Agent":        setByDelivery,
	"Host":              setByClient,
	"Content-Length":    setByClient,
	"Transfer-Encoding": setByClient,
	"Accept-Encoding":   setByClient,
	"Connection":        hopByHop,
	"Keep-Alive":        hopByHop,
	"Te":                hopByHop,
	"Trailer":           hopByHop,
	"Upgrade":           hopByHop,
	"Expect":            hopByHop,
	"Content-Encoding":  wrongBody,
}

// refusedPrefixes are refused header name prefixes (lower case): the
// X-Webhook-* headers of delivery and the legacy schemes, the webhook-*
// headers of Standard Webhooks, and Proxy-* (meant for proxies, and a
// Proxy-Authorization must never leak to a receiver).
var refusedPrefixes = map[string]string{
	"x-webhook-": setByDelivery,
	"webhook-":   setByDelivery,
	"proxy-":     hopByHop,
}

// validateHeaders says what is wrong with a subscription's extra headers,
// or "". Names are compared case-insensitively and checked in sorted
// order, so the same headers always get the same message.
func validateHeaders(headers map[string]string) string {
	if len(headers) > MaxHeaders {
		return fmt.Sprintf("at most %d headers (got %d)", MaxHeaders, len(headers))
	}
	names := make([]string, 0, len(headers))
	total := 0
	for name, value := range headers {
		names = append(names, name)
		total += len(name) + len(value)
	}
	if total > MaxHeadersBytes {
		return fmt.Sprintf("at most %d bytes of names and values together (got %d)", MaxHeadersBytes, total)
	}
	sort.Strings(names)
	seen := map[string]string{}
	for _, name := range names {
		if msg := validateHeader(name, headers[name]); msg != "" {
			return msg
		}
		canon := textproto.CanonicalMIMEHeaderKey(name)
		if seen[canon] != "" {
			return fmt.Sprintf("%q and %q are the same header", seen[canon], name)
		}
		seen[canon] = name
	}
	return ""
}

// validateHeader checks one header on its own.
func validateHeader(name, value string) string {
	if len(name) > MaxHeaderNameBytes {
		return fmt.Sprintf("the header name %.32q… is longer than %d bytes", name, MaxHeaderNameBytes)
	}
	if !httpguts.ValidHeaderFieldName(name) {
		return fmt.Sprintf("%q is not a valid header name", name)
	}
	if why := refusedHeaders[textproto.CanonicalMIMEHeaderKey(name)]; why != "" {
		return fmt.Sprintf("%q %s", name, why)
	}
	lower := strings.ToLower(name)
	for prefix, why := range refusedPrefixes {
		if strings.HasPrefix(lower, prefix) {
			return fmt.Sprintf("%q %s", name, why)
		}
	}
	if len(value) > MaxHeaderValueBytes {
		return fmt.Sprintf("the value of %q is longer than %d bytes", name, MaxHeaderValueBytes)
	}
	if !httpguts.ValidHeaderFieldValue(value) {
		return fmt.Sprintf("the value of %q has characters a header cannot carry (such as a line break)", name)
	}
	return ""
}
