package rules

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxYAMLNodes bounds the nodes visited while reading a file: aliases are
// followed, so a small hostile file could otherwise expand exponentially.
const maxYAMLNodes = 100000

// Parse reads one YAML rule file (top level: `events:` list). file is only
// used in error messages. Reading is strict: unknown or duplicate keys and
// values of the wrong shape are errors, each with the line it is on. The
// values themselves (names, paths, sources, CEL) are checked by Compile.
func Parse(file string, src []byte) ([]Spec, error) {
	p := &parser{file: file, src: src, budget: maxYAMLNodes}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fileError(file, 0, "empty rule file: want a top-level \"events\" list")
		}
		return nil, p.yamlError(err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, fileError(file, extra.Line, "only one YAML document is allowed in a rule file")
	case !errors.Is(err, io.EOF):
		return nil, p.yamlError(err)
	}
	root, err := p.resolve(&doc)
	if err != nil {
		return nil, err
	}
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, fileError(file, 0, "empty rule file: want a top-level \"events\" list")
		}
		if root, err = p.resolve(root.Content[0]); err != nil {
			return nil, err
		}
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, fileError(file, root.Line, "empty rule file: want a top-level \"events\" list")
	}
	var events *yaml.Node
	err = p.mapping(root, "the top level", func(key string, k, v *yaml.Node) error {
		if key != "events" {
			return p.unknown(k, key, "the top level")
		}
		events = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	if events == nil {
		return nil, fileError(file, root.Line, "missing top-level \"events\" list")
	}
	if events.Kind != yaml.SequenceNode {
		if events.Kind == yaml.ScalarNode && events.Tag == "!!null" {
			return nil, fileError(file, events.Line, "no events: \"events\" is empty")
		}
		return nil, fileError(file, events.Line, "\"events\" must be a list of rules")
	}
	if len(events.Content) == 0 {
		return nil, fileError(file, events.Line, "no events: \"events\" is empty")
	}
	specs := make([]Spec, 0, len(events.Content))
	for _, item := range events.Content {
		s, err := p.spec(item)
		if err != nil {
			return nil, err
		}
		specs = append(specs, s)
	}
	return specs, nil
}

// parser holds the state of one Parse call.
type parser struct {
	file   string
	src    []byte
	budget int
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// yamlError turns a yaml.v3 error ("yaml: line 3: ...") into
// "file:3: ...", keeping the original as the cause.
func (p *parser) yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatchIndex(msg); m != nil {
		line, _ = strconv.Atoi(msg[m[2]:m[3]])
		if m[0] == 0 { // "line 3: what" -> "what"
			msg = strings.TrimPrefix(msg[m[1]:], ": ")
		}
	}
	if msg == errFlowMapping {
		// yaml.v3 gives the line before the mapping's (a 0-based mark).
		if at, hint := flowBraceHint(p.src, line); at > 0 {
			line, msg = at, msg+": "+hint
		} else if line > 0 {
			line, msg = line+1, msg+" in the { } mapping that starts on this line"
		}
	}
	return &lineError{file: p.file, line: line, msg: msg, cause: err}
}

// resolve follows aliases and charges the node budget.
func (p *parser) resolve(n *yaml.Node) (*yaml.Node, error) {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode; depth++ {
		if depth > 100 {
			return nil, fileError(p.file, n.Line, "alias chain too long")
		}
		n = n.Alias
	}
	if n == nil {
		return nil, fileError(p.file, 0, "dangling YAML alias")
	}
	p.budget--
	if p.budget < 0 {
		return nil, fileError(p.file, n.Line, "rule file too large or too many aliases")
	}
	return n, nil
}

// mapping calls fn for each key of the mapping n, in order, rejecting
// duplicate keys. what names n in messages ("match", "rule").
func (p *parser) mapping(n *yaml.Node, what string, fn func(key string, k, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return fileError(p.file, n.Line, "%s must be a mapping", what)
	}
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, err := p.resolve(n.Content[i])
		if err != nil {
			return err
		}
		if k.Kind != yaml.ScalarNode {
			return fileError(p.file, k.Line, "keys in %s must be plain strings", what)
		}
		if first, dup := seen[k.Value]; dup {
			return fileError(p.file, k.Line, "duplicate key %q in %s (first on line %d)", k.Value, what, first)
		}
		seen[k.Value] = k.Line
		v, err := p.resolve(n.Content[i+1])
		if err != nil {
			return err
		}
		if err := fn(k.Value, k, v); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) unknown(k *yaml.Node, key, where string) error {
	return fileError(p.file, k.Line, "unknown key %q in %s", key, where)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// str reads a scalar as text; null reads as "".
func (p *parser) str(n *yaml.Node, what string) (string, error) {
	if isNull(n) {
		return "", nil
	}
	if n.Kind != yaml.ScalarNode {
		return "", fileError(p.file, n.Line, "%s must be a string", what)
	}
	return n.Value, nil
}

// bool reads true or false; null reads as false.
func (p *parser) bool(n *yaml.Node, what string) (bool, error) {
	if isNull(n) {
		return false, nil
	}
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		return false, fileError(p.file, n.Line, "%s must be true or false", what)
	}
	return b, nil
}

// list reads a scalar or a list of scalars; null reads as nil.
func (p *parser) list(n *yaml.Node, what string) ([]string, error) {
	if isNull(n) {
		return nil, nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, fileError(p.file, n.Line, "%s must be a value or a list of values", what)
	}
	out := make([]string, 0, len(n.Content))
	for _, e := range n.Content {
		e, err := p.resolve(e)
		if err != nil {
			return nil, err
		}
		if e.Kind != yaml.ScalarNode || isNull(e) {
			return nil, fileError(p.file, e.Line, "%s: each entry must be a plain value", what)
		}
		out = append(out, e.Value)
	}
	return out, nil
}

// spec reads one rule mapping.
func (p *parser) spec(item *yaml.Node) (Spec, error) {
	n, err := p.resolve(item)
	if err != nil {
		return Spec{}, err
	}
	s := Spec{Pos: Pos{File: p.file, Line: n.Line, Fields: map[string]int{}}}
	if n.Kind != yaml.MappingNode {
		return s, fileError(p.file, n.Line, "each entry of \"events\" must be a mapping (a rule)")
	}
	err = p.mapping(n, "rule", func(key string, k, v *yaml.Node) error {
		s.Pos.Fields[key] = k.Line
		var err error
		switch key {
		case "name":
			s.Name, err = p.str(v, "name")
		case "description":
			s.Description, err = p.str(v, "description")
		case "when":
			s.When, err = p.str(v, "when")
		case "site":
			s.Site, err = p.str(v, "site")
		case "user_id":
			s.UserID, err = p.str(v, "user_id")
		case "redact":
			s.Redact, err = p.list(v, "redact")
		case "state":
			err = p.state(v, &s)
		case "each":
			err = p.each(v, &s)
		case "shadow":
			s.Shadow, err = p.bool(v, "shadow")
		case "order_key":
			s.OrderKey, err = p.str(v, "order_key")
		case "match":
			err = p.match(v, &s)
		case "data":
			if isNull(v) {
				return nil
			}
			var d Data
			d, err = p.data(v, "data", &s, 0)
			s.Data = &d
		default:
			return p.unknown(k, key, "rule")
		}
		return err
	})
	if err != nil {
		return s, err
	}
	return s, nil
}

func (p *parser) match(n *yaml.Node, s *Spec) error {
	return p.mapping(n, "match", func(key string, k, v *yaml.Node) error {
		s.Pos.Fields["match."+key] = k.Line
		var err error
		switch key {
		case "method":
			s.Match.Method, err = p.list(v, "match.method")
		case "path":
			s.Match.Path, err = p.str(v, "match.path")
		case "status":
			s.Match.Status, err = p.list(v, "match.status")
		default:
			return p.unknown(k, key, "match")
		}
		return err
	})
}

func (p *parser) state(n *yaml.Node, s *Spec) error {
	st := &StateSpec{}
	s.State = st
	return p.mapping(n, "state", func(key string, k, v *yaml.Node) error {
		s.Pos.Fields["state."+key] = k.Line
		var err error
		switch key {
		case "key":
			st.Key, err = p.str(v, "state.key")
		case "snapshot":
			err = p.snapshot(v, s)
		case "prefetch":
			err = p.prefetch(v, s)
		default:
			return p.unknown(k, key, "state")
		}
		return err
	})
}

// each reads each: a source, or the long form {source, response, by}.
func (p *parser) each(n *yaml.Node, s *Spec) error {
	e := &EachSpec{}
	s.Each = e
	if n.Kind != yaml.MappingNode {
		var err error
		e.Source, err = p.str(n, "each")
		return err
	}
	return p.mapping(n, "each", func(key string, k, v *yaml.Node) error {
		s.Pos.Fields["each."+key] = k.Line
		var err error
		switch key {
		case "source":
			e.Source, err = p.str(v, "each.source")
		case "response":
			e.Response, err = p.str(v, "each.response")
		case "by":
			e.By, err = p.str(v, "each.by")
		default:
			return p.unknown(k, key, "each (it has source, response and by)")
		}
		return err
	})
}

// snapshot reads state.snapshot: a source, or the long form
// {source: response.body, redact: [password]}.
func (p *parser) snapshot(n *yaml.Node, s *Spec) error {
	st := s.State
	if n.Kind != yaml.MappingNode {
		var err error
		st.Snapshot, err = p.str(n, "state.snapshot")
		return err
	}
	return p.mapping(n, "state.snapshot", func(key string, k, v *yaml.Node) error {
		s.Pos.Fields["state.snapshot."+key] = k.Line
		var err error
		switch key {
		case "source":
			st.Snapshot, err = p.str(v, "state.snapshot.source")
		case "redact":
			st.SnapshotRedact, err = p.list(v, "state.snapshot.redact")
		default:
			return p.unknown(k, key, "state.snapshot (it has source and redact)")
		}
		return err
	})
}

// prefetch reads state.prefetch: a request, or the long form
// {request: "GET /items/orders/{path.id}", select: data}.
func (p *parser) prefetch(n *yaml.Node, s *Spec) error {
	st := s.State
	if n.Kind != yaml.MappingNode {
		var err error
		st.Prefetch, err = p.str(n, "state.prefetch")
		return err
	}
	err := p.mapping(n, "state.prefetch", func(key string, k, v *yaml.Node) error {
		s.Pos.Fields["state.prefetch."+key] = k.Line
		var err error
		switch key {
		case "request":
			st.Prefetch, err = p.str(v, "state.prefetch.request")
		case "select":
			st.PrefetchSelect, err = p.str(v, "state.prefetch.select")
		default:
			return p.unknown(k, key, "state.prefetch (it has request and select)")
		}
		return err
	})
	if err == nil && st.Prefetch == "" {
		return fileError(p.file, n.Line, "state.prefetch: the long form needs request (\"GET /path/{path.id}\")")
	}
	return err
}

// data reads a data value: a source string or a mapping of fields. at is
// the key path ("data", "data.customer") recorded in Pos.Fields.
func (p *parser) data(n *yaml.Node, at string, s *Spec, depth int) (Data, error) {
	if depth > maxDataDepth {
		return Data{}, fileError(p.file, n.Line, "%s: objects nested too deeply", at)
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if isNull(n) || n.Value == "" {
			return Data{}, fileError(p.file, n.Line, "%s: empty source", at)
		}
		return Data{Source: n.Value}, nil
	case yaml.MappingNode:
		d := Data{Fields: []DataField{}}
		err := p.mapping(n, at, func(key string, k, v *yaml.Node) error {
			path := at + "." + key
			s.Pos.Fields[path] = k.Line
			fv, err := p.data(v, path, s, depth+1)
			if err != nil {
				return err
			}
			d.Fields = append(d.Fields, DataField{Name: key, Value: fv})
			return nil
		})
		return d, err
	}
	return Data{}, fileError(p.file, n.Line, "%s must be a source or a mapping of fields", at)
}
