package learn

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestScalar(t *testing.T) {
	for _, s := range []string{
		"order.created", "An order's status changed", "/api/orders", "response.body._id",
		"previous.status != response.body.status", "order:{path.id}", "GET /api/orders/{path.id}",
		"/api/orders/{id}/status", "null", "Null", "true", "no", "on", "~", "123", "1.5", "1e3", "0x1F", "1_000",
		"2024-01-05", "-x", "x: y", "a #b", "#c", "[x]", "{x}", "a,b", "*.password", "&a", "!t", "@x", "%x", "`x`",
		"'q'", `"q"`, "é", "signé", "a\nb", "a\u2028b", "tab\there", " lead", "trail ", "", ":", "?", "|", ">",
	} {
		var got map[string]string
		src := "k: " + scalar(s) + "\nf: {k: " + scalar(s) + "}\n"
		var flow map[string]any
		if err := yaml.Unmarshal([]byte(src), &flow); err != nil {
			t.Errorf("%q: %s: %v", s, src, err)
			continue
		}
		if err := yaml.Unmarshal([]byte("k: "+scalar(s)), &got); err != nil || got["k"] != s {
			t.Errorf("%q written as %s reads back as %q (%v)", s, scalar(s), got["k"], err)
		}
		if f, ok := flow["f"].(map[string]any); !ok || f["k"] != s {
			t.Errorf("%q in a flow mapping reads back as %v", s, flow["f"])
		}
	}
	if got := flowList([]string{"PUT", "PATCH"}); got != "[PUT, PATCH]" {
		t.Errorf("flowList: %s", got)
	}
}

func TestComment(t *testing.T) {
	w := &yamlWriter{}
	w.comment(2, "a path /x\ny\r\u2028z\u0085 with"+strings.Repeat(" word", 40))
	out := w.b.String()
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !strings.HasPrefix(line, "  # ") || len(line) > commentWidth {
			t.Errorf("line %d: %q", i, line)
		}
	}
	var v any
	if err := yaml.Unmarshal([]byte(out+"k: v\n"), &v); err != nil {
		t.Errorf("%v:\n%s", err, out)
	}
}
