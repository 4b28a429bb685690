package caddymodule

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/caddy-webhooks/caddy-webhooks/rules"
)

// decode returns body without its Content-Encoding, for extraction only (the
// client gets the original bytes). Decoded bodies are bounded by limit, so a
// compression bomb is skipped rather than expanded. side gives the skip
// reasons of the body (rules.RequestBody, ResponseBody, PrefetchBody).
func decode(encoding string, body []byte, limit int64, side rules.BodyReasons) ([]byte, rules.SkipReason) {
	encoding = strings.ToLower(strings.TrimSpace(encoding))
	if encoding == "" || encoding == "identity" {
		return body, ""
	}
	var r io.Reader
	var err error
	switch encoding {
	case "gzip", "x-gzip":
		r, err = gzip.NewReader(bytes.NewReader(body))
	case "deflate":
		// RFC 9110's deflate is zlib-wrapped; some servers send raw deflate.
		if r, err = zlib.NewReader(bytes.NewReader(body)); err != nil {
			r, err = flate.NewReader(bytes.NewReader(body)), nil
		}
	case "br":
		r = brotli.NewReader(bytes.NewReader(body))
	case "zstd":
		var zr *zstd.Decoder
		zr, err = zstd.NewReader(bytes.NewReader(body), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(64<<20))
		if err == nil {
			defer zr.Close()
			r = zr
		}
	default:
		return nil, side.EncodingUnsupported
	}
	if err != nil {
		return nil, side.NotDecodable
	}
	out, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, side.NotDecodable
	}
	if int64(len(out)) > limit {
		return nil, side.TooLarge
	}
	return out, ""
}
