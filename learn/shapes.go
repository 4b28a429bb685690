package learn

// shape is what the bodies of one side of a route looked like: their
// top-level kind, envelope and field paths with their JSON types, never
// their values.
type shape struct {
	bodies    int64
	objects   int64
	arrays    int64
	scalars   int64
	envelope  string // the wrapper key every enveloped body had
	enveloped int64  // bodies with that envelope
	mixedEnv  bool   // bodies had different wrapper keys
	fields    []*fieldStat
	index     map[string]*fieldStat
	dropped   int64 // field paths not kept: past MaxFields
	truncated int64 // bodies not walked to the end
	skipped   map[string]int64
}

// fieldStat is one field path of a shape.
type fieldStat struct {
	path  string
	depth int
	types typeMask
	count int64 // bodies it was in
}

// add merges one body into the shape. budget is what is left of
// MaxTotalFields, shared by all shapes.
func (s *shape) add(b *bodyObs, maxFields int, budget *int) {
	if b.skipped != "" {
		if s.skipped == nil {
			s.skipped = map[string]int64{}
		}
		s.skipped[b.skipped]++
		return
	}
	if b.kind == kindNone {
		return
	}
	s.bodies++
	switch b.kind {
	case kindObject:
		s.objects++
	case kindArray:
		s.arrays++
	default:
		s.scalars++
	}
	s.addEnvelope(b.envelope)
	if b.truncated {
		s.truncated++
	}
	for _, f := range b.fields {
		fs := s.index[f.path]
		if fs == nil {
			if len(s.fields) >= maxFields || *budget <= 0 {
				s.dropped++
				continue
			}
			*budget--
			if s.index == nil {
				s.index = map[string]*fieldStat{}
			}
			fs = &fieldStat{path: f.path, depth: f.depth}
			s.index[f.path] = fs
			s.fields = append(s.fields, fs)
		}
		fs.types |= f.types
		fs.count++
	}
}

func (s *shape) addEnvelope(key string) {
	if key == "" {
		return
	}
	switch {
	case s.envelope == "" && !s.mixedEnv:
		s.envelope = key
	case s.envelope != key:
		s.mixedEnv = true
	}
	s.enveloped++
}

// envelopeKey is the wrapper key when every body of the shape had it.
func (s *shape) envelopeKey() string {
	if s.mixedEnv || s.bodies == 0 || s.enveloped != s.bodies {
		return ""
	}
	return s.envelope
}

// topFields lists the top-level field names of the documents, in the
// order first seen.
func (s *shape) topFields() []string {
	var out []string
	for _, f := range s.fields {
		if f.depth == 0 && f.path != "[]" {
			out = append(out, f.path)
		}
	}
	return out
}

// field returns the stat of a path, or nil.
func (s *shape) field(path string) *fieldStat {
	return s.index[path]
}

// scalarArray reports whether path holds arrays of ids: numbers or
// strings ("[]" for a top-level array, "keys[]" for a field).
func (s *shape) scalarArray(path string) bool {
	f := s.field(path)
	return f != nil && f.types != 0 && f.types&^(tString|tNumber) == 0
}
