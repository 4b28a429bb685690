package rules

// SkipReason says why a matched rule produced no event (or, for the
// prefetch reasons, why it has no previous state): the `reason` of
// `event_skipped` and `state_prefetch_failed` log lines and the label of
// caddy_webhooks_events_skipped_total. Every reason is in SkipReasons, and
// docs/configuration.md lists exactly those (a test checks it).
type SkipReason string

// Reasons about the request and response bodies.
const (
	ReasonRequestBodyTooLarge             SkipReason = "request_body_too_large"
	ReasonRequestBodyNotJSON              SkipReason = "request_body_not_json"
	ReasonRequestBodyIncomplete           SkipReason = "request_body_incomplete"
	ReasonRequestBodyUnreadable           SkipReason = "request_body_unreadable"
	ReasonRequestBodyNotDecodable         SkipReason = "request_body_not_decodable"
	ReasonRequestBodyEncodingUnsupported  SkipReason = "request_body_encoding_unsupported"
	ReasonResponseBodyTooLarge            SkipReason = "response_body_too_large"
	ReasonResponseBodyNotJSON             SkipReason = "response_body_not_json"
	ReasonResponseBodyNotDecodable        SkipReason = "response_body_not_decodable"
	ReasonResponseBodyEncodingUnsupported SkipReason = "response_body_encoding_unsupported"
	ReasonResponseNotBuffered             SkipReason = "response_not_buffered"
	ReasonResponseIsStream                SkipReason = "response_is_stream"
	ReasonResponseIncomplete              SkipReason = "response_incomplete"
)

// Reasons about the rule's own evaluation.
const (
	ReasonWhenError     SkipReason = "when_error"
	ReasonDataNotJSON   SkipReason = "data_not_json"    // no longer given (valid by construction); kept as a metric label
	ReasonUserIDNotJSON SkipReason = "user_id_not_json" // the same
	ReasonEachTooMany   SkipReason = "each_too_many"
	ReasonError         SkipReason = "error" // anything else; the error is logged
)

// Reasons about the store.
const (
	ReasonStoreError       SkipReason = "store_error"
	ReasonStoreUnavailable SkipReason = "store_unavailable"
)

// Reasons a prefetch of the previous state failed (the event goes on with
// previous null).
const (
	ReasonPrefetchFailed                  SkipReason = "prefetch_failed"
	ReasonPrefetchNotJSON                 SkipReason = "prefetch_not_json"
	ReasonPrefetchTooLarge                SkipReason = "prefetch_too_large"
	ReasonPrefetchBadPath                 SkipReason = "prefetch_bad_path"
	ReasonPrefetchSelectMissing           SkipReason = "prefetch_select_missing"
	ReasonPrefetchBodyNotDecodable        SkipReason = "prefetch_body_not_decodable"
	ReasonPrefetchBodyEncodingUnsupported SkipReason = "prefetch_body_encoding_unsupported"
	ReasonPrefetchBodyTooLarge            SkipReason = "prefetch_body_too_large"
)

// SkipReasons lists every reason.
var SkipReasons = []SkipReason{
	ReasonRequestBodyTooLarge, ReasonRequestBodyNotJSON, ReasonRequestBodyIncomplete, ReasonRequestBodyUnreadable,
	ReasonRequestBodyNotDecodable, ReasonRequestBodyEncodingUnsupported,
	ReasonResponseBodyTooLarge, ReasonResponseBodyNotJSON, ReasonResponseBodyNotDecodable,
	ReasonResponseBodyEncodingUnsupported, ReasonResponseNotBuffered, ReasonResponseIsStream, ReasonResponseIncomplete,
	ReasonWhenError, ReasonDataNotJSON, ReasonUserIDNotJSON, ReasonEachTooMany, ReasonError,
	ReasonStoreError, ReasonStoreUnavailable,
	ReasonPrefetchFailed, ReasonPrefetchNotJSON, ReasonPrefetchTooLarge, ReasonPrefetchBadPath, ReasonPrefetchSelectMissing,
	ReasonPrefetchBodyNotDecodable, ReasonPrefetchBodyEncodingUnsupported, ReasonPrefetchBodyTooLarge,
}

// BodyReasons are the reasons a body cannot be read, for one side of the
// exchange.
type BodyReasons struct {
	TooLarge, NotDecodable, EncodingUnsupported SkipReason
}

// The body reasons of each side.
var (
	RequestBody  = BodyReasons{ReasonRequestBodyTooLarge, ReasonRequestBodyNotDecodable, ReasonRequestBodyEncodingUnsupported}
	ResponseBody = BodyReasons{ReasonResponseBodyTooLarge, ReasonResponseBodyNotDecodable, ReasonResponseBodyEncodingUnsupported}
	PrefetchBody = BodyReasons{ReasonPrefetchBodyTooLarge, ReasonPrefetchBodyNotDecodable, ReasonPrefetchBodyEncodingUnsupported}
)
