package webhook

import (
	"strings"
	"testing"
)

func TestTraceParent(t *testing.T) {
	valid := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for in, want := range map[string]string{
		valid:             valid,
		" " + valid + " ": valid,
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra": "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", // a later version's fields
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra": "",                                                              // version 00 has four
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01":       "",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01":       "",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01":       "",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01":       "", // upper case
		"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01":        "",
		"": "",
	} {
		if got := TraceParent(in); got != want {
			t.Errorf("TraceParent(%q) = %q, want %q", in, got, want)
		}
	}
	child := ChildTraceParent(valid)
	parts := strings.Split(child, "-")
	if len(parts) != 4 || parts[0] != "00" || parts[1] != "4bf92f3577b34da6a3ce929d0e0e4736" || parts[3] != "01" ||
		parts[2] == "00f067aa0ba902b7" || TraceParent(child) != child || ChildTraceParent(valid) == child {
		t.Errorf("ChildTraceParent = %q: want the same trace and flags, a new span id each time", child)
	}
	if ChildTraceParent("") != "" || TraceID(valid) != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Error("ChildTraceParent of nothing, or TraceID")
	}
}
