package rules

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestSkipReasonsDocumented: the table of skip reasons in
// docs/configuration.md lists exactly SkipReasons, each once.
func TestSkipReasonsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(doc), "\n| reason | why |\n")
	if !ok {
		t.Fatal("docs/configuration.md has no table headed | reason | why |")
	}
	code := regexp.MustCompile("`([a-z_]+)`")
	var listed []string
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "|") {
			break // the end of the table
		}
		first, _, _ := strings.Cut(strings.TrimPrefix(line, "|"), "|")
		for _, m := range code.FindAllStringSubmatch(first, -1) {
			listed = append(listed, m[1])
		}
	}
	var want []string
	for _, r := range SkipReasons {
		want = append(want, string(r))
	}
	slices.Sort(listed)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Errorf("documented reasons:\n%v\nSkipReasons:\n%v", listed, want)
	}
}
