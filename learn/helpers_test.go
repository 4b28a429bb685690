package learn

import (
	"regexp"
	"slices"
	"testing"

	"github.com/caddy-webhooks/caddy-webhooks/rules"
)

// ex is a JSON exchange.
func ex(method, path string, status int, req, resp string) *Exchange {
	x := &Exchange{Method: method, Path: path, Status: status}
	if req != "" {
		x.RequestType, x.RequestBody = "application/json", []byte(req)
	}
	if resp != "" {
		x.ResponseType, x.ResponseBody = "application/json; charset=utf-8", []byte(resp)
	}
	return x
}

func observe(m *Model, xs ...*Exchange) {
	for _, x := range xs {
		m.Observe(x)
	}
}

// load checks that the model's proposal loads, and returns its rules.
func load(t *testing.T, m *Model) []rules.Spec {
	t.Helper()
	y := m.Rules()
	specs, err := rules.Parse("proposal.yaml", y)
	if err != nil {
		t.Fatalf("the proposal does not parse: %v\n%s", err, y)
	}
	if _, err := rules.Compile(specs); err != nil {
		t.Fatalf("the proposal does not compile: %v\n%s", err, y)
	}
	return specs
}

var paramRE = regexp.MustCompile(`\{[^}]*\}`)

// rule returns the rule named name on method and path ({params} of any
// name), or nil.
func rule(specs []rules.Spec, name, method, path string) *rules.Spec {
	for i, s := range specs {
		if s.Name == name && slices.Contains(s.Match.Method, method) &&
			paramRE.ReplaceAllString(s.Match.Path, "{}") == paramRE.ReplaceAllString(path, "{}") {
			return &specs[i]
		}
	}
	return nil
}

// mustRule is rule, failing the test when there is none.
func mustRule(t *testing.T, m *Model, specs []rules.Spec, name, method, path string) *rules.Spec {
	t.Helper()
	s := rule(specs, name, method, path)
	if s == nil {
		t.Fatalf("no rule %s on %s %s in\n%s", name, method, path, m.Rules())
	}
	return s
}

// data returns a rule's data as field: source pairs.
func data(s *rules.Spec) map[string]string {
	out := map[string]string{}
	if s.Data == nil {
		return out
	}
	if s.Data.Source != "" {
		out[""] = s.Data.Source
	}
	for _, f := range s.Data.Fields {
		out[f.Name] = f.Value.Source
	}
	return out
}

func names(specs []rules.Spec) []string {
	var out []string
	for _, s := range specs {
		if s.Name != "" && !slices.Contains(out, s.Name) {
			out = append(out, s.Name)
		}
	}
	slices.Sort(out)
	return out
}
