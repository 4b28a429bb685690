package learn

// Options bounds what a Model keeps. A zero or negative field takes its
// default; every bound is in the Report (bounds).
type Options struct {
	// MaxTemplates is the number of route templates kept (default 5000);
	// requests on a new template past it are counted as dropped.
	MaxTemplates int `json:"max_templates"`
	// MaxPathBytes is the longest path templated (default 2048); longer
	// ones are counted as ignored (path_too_long).
	MaxPathBytes int `json:"max_path_bytes"`
	// MaxSegments is the most segments of a templated path (default 32).
	MaxSegments int `json:"max_segments"`
	// MaxBodyBytes is the largest body read (default 1 MiB); a larger one
	// is counted (bodies_too_large) and its shape is not learned.
	MaxBodyBytes int `json:"max_body_bytes"`
	// MaxDepth is how deep field paths are recorded in a shape (default
	// 6: items[].options.color is depth 3). Deeper values are not walked.
	MaxDepth int `json:"max_depth"`
	// MaxFields is the number of field paths kept per shape, and of
	// top-level fields per resource (default 200).
	MaxFields int `json:"max_fields"`
	// MaxTotalFields is the number of field paths kept over all shapes
	// (default 100000, some 10 MB): past it new paths are dropped.
	MaxTotalFields int `json:"max_total_fields"`
	// MaxArrayItems is the number of elements of an array looked at for
	// its shape (default 16).
	MaxArrayItems int `json:"max_array_items"`
	// MaxBatchItems is the number of documents of one batch answer (an
	// array of resources) tracked as resources (default 100).
	MaxBatchItems int `json:"max_batch_items"`
	// MaxResources is the number of resources (item routes such as
	// /api/orders/{id}) whose documents are tracked (default 64).
	MaxResources int `json:"max_resources"`
	// MaxTrackedIDs is the number of resource ids per resource whose last
	// version is kept to see what changes (default 256); past it the
	// oldest is forgotten.
	MaxTrackedIDs int `json:"max_tracked_ids"`
	// MaxStateValues is the most distinct values of a state-like field
	// (default 12); a field with more is not state-like.
	MaxStateValues int `json:"max_state_values"`
}

// withDefaults returns o with every unset bound at its default.
func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxTemplates, 5000)
	def(&o.MaxPathBytes, 2048)
	def(&o.MaxSegments, 32)
	def(&o.MaxBodyBytes, 1<<20)
	def(&o.MaxDepth, 6)
	def(&o.MaxFields, 200)
	def(&o.MaxTotalFields, 100000)
	def(&o.MaxArrayItems, 16)
	def(&o.MaxBatchItems, 100)
	def(&o.MaxResources, 64)
	def(&o.MaxTrackedIDs, 256)
	def(&o.MaxStateValues, 12)
	return o
}
