package learn

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxNotes bounds the writes listed as not proposed at the end of the file.
const maxNotes = 50

// maxProposedRules bounds the rules of a proposal: a rule is at most some
// 100 YAML nodes (maxDataFields fields of data), and the rules package
// reads at most 100,000 nodes of a file. Past it, the resources with the
// least traffic are left out.
const maxProposedRules = 500

// Rules returns the proposed rule file: YAML in the repository's rule
// format, loadable as it is (rules.Parse and rules.Compile), with a
// comment on each rule saying what it was learned from. With nothing to
// propose yet, it holds one placeholder rule in shadow mode that matches
// no real request, so that it still loads.
func (m *Model) Rules() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.analyze()
	sections, cut := proposeAll(v)

	w := &yamlWriter{}
	w.comment(0, fmt.Sprintf("Rules proposed by caddy-webhooks' learn mode from %d exchanges on %d route templates. "+
		"Review them before use: names, payloads and conditions are guesses from the traffic seen.",
		m.exchanges, len(m.templates)))
	var all []proposal
	for _, s := range sections {
		all = append(all, s.rules...)
	}
	writeIndex(w, all)
	if len(sections) > 0 {
		ex := sections[0].rv.name + ":{path.id}"
		w.comment(0, "State keys ("+ex+") are shared by every site that uses the same storage: "+
			"give each app its own prefix (app1:"+ex+") if several do.")
	}
	w.line(0, "events:")
	if len(all) == 0 {
		writePlaceholder(w)
	}
	for _, s := range sections {
		w.blank()
		w.commentLine(2, sectionTitle(s.rv))
		for _, pr := range s.rules {
			w.blank()
			writeRule(w, &pr)
		}
	}
	if cut > 0 {
		w.blank()
		w.comment(0, fmt.Sprintf("%d more resources were seen: a proposal stops at %d rules, keeping the resources with the most traffic.",
			cut, maxProposedRules))
	}
	writeNotes(w, v.notes)
	return w.b.Bytes()
}

// section is a resource and its rules.
type section struct {
	rv    *resView
	rules []proposal
}

// proposeAll proposes the rules of every resource with events (a resource
// only read has none: its state rule alone is of no use), at most
// maxProposedRules, the busiest resources first; cut counts the others.
func proposeAll(v *view) (sections []section, cut int) {
	for _, rv := range v.resources {
		if rules := propose(rv); slices.ContainsFunc(rules, func(p proposal) bool { return p.name != "" }) {
			sections = append(sections, section{rv, rules})
		}
	}
	traffic := func(s section) int64 {
		var n int64
		for _, ref := range s.rv.routes {
			n += ref.r.count
		}
		return n
	}
	slices.SortStableFunc(sections, func(a, b section) int { return cmp.Compare(traffic(b), traffic(a)) })
	total, kept := 0, sections[:0]
	for _, s := range sections {
		if total+len(s.rules) > maxProposedRules {
			cut++
			continue
		}
		total += len(s.rules)
		kept = append(kept, s)
	}
	slices.SortFunc(kept, func(a, b section) int { return cmp.Compare(a.rv.key, b.rv.key) })
	return kept, cut
}

// writeIndex lists the proposed events, as the example rule files begin.
func writeIndex(w *yamlWriter, all []proposal) {
	if len(all) == 0 {
		return
	}
	w.line(0, "#")
	width := 0
	for _, pr := range all {
		width = max(width, len(pr.name))
	}
	for _, pr := range all {
		if pr.name == "" {
			continue
		}
		w.commentLine(0, fmt.Sprintf("  %-*s  %-12s %s -> %s", width, pr.name,
			strings.Join(pr.methods, "|"), pr.path, joinInts(pr.statuses, "|")))
	}
	w.line(0, "#")
}

// sectionTitle heads a resource's rules, as the example rule files do:
// "------------ orders: order, id _id, /api/orders/{id}".
func sectionTitle(rv *resView) string {
	title := " " + rv.collection + ": " + rv.name + ", id " + rv.idField
	if rv.key[0] != '?' {
		title += ", " + rv.key
	}
	return strings.Repeat("-", max(4, commentWidth-4-len(title))) + title
}

// writePlaceholder writes the rule of an empty proposal.
func writePlaceholder(w *yamlWriter) {
	w.comment(2, "Nothing learned yet: no successful write on a resource was seen. "+
		"This placeholder keeps the file loadable; it matches no real request and, in shadow mode, delivers nothing.")
	w.line(2, "- name: learn.placeholder")
	w.line(4, "description: Nothing learned yet")
	w.line(4, "shadow: true")
	w.line(4, `match: {method: OPTIONS, path: /.well-known/caddy-webhooks-learn, status: 299}`)
	w.line(4, "data: request.path")
}

// writeRule writes one rule at the list's indent.
func writeRule(w *yamlWriter, pr *proposal) {
	for _, c := range pr.comment {
		w.comment(2, c)
	}
	first := true
	key := func(s string) {
		if first {
			w.line(2, "- "+s)
			first = false
			return
		}
		w.line(4, s)
	}
	if pr.name != "" {
		key("name: " + scalar(pr.name))
		key("description: " + scalar(pr.description))
	}
	writeMatch(key, w, pr)
	if e := pr.each; e != nil {
		if e.response == "" {
			key("each: " + scalar(e.source))
		} else {
			key("each:")
			w.line(6, "source: "+scalar(e.source))
			w.line(6, "response: "+scalar(e.response))
			w.line(6, "by: "+scalar(e.by))
		}
	}
	if st := pr.state; st != nil {
		key("state:")
		writeState(w, st)
	}
	if pr.when != "" {
		key("when: " + scalar(pr.when))
	}
	if len(pr.data) > 0 {
		key("data:")
		for _, d := range pr.data {
			w.line(6, scalar(d.key)+": "+scalar(d.source))
		}
	}
	if len(pr.redact) > 0 {
		key("redact: " + flowList(pr.redact))
	}
}

// writeMatch writes match on one line when it fits, else as a block.
func writeMatch(key func(string), w *yamlWriter, pr *proposal) {
	method := scalar(pr.methods[0])
	if len(pr.methods) > 1 {
		method = flowList(pr.methods)
	}
	status := joinInts(pr.statuses, ", ")
	if len(pr.statuses) > 1 {
		status = "[" + status + "]"
	}
	flow := "match: {method: " + method + ", path: " + scalar(pr.path) + ", status: " + status + "}"
	if len(flow) <= 90 {
		key(flow)
		return
	}
	key("match:")
	w.line(6, "method: "+method)
	w.line(6, "path: "+scalar(pr.path))
	w.line(6, "status: "+status)
}

func writeState(w *yamlWriter, st *stateOut) {
	w.line(6, "key: "+scalar(st.key))
	switch {
	case len(st.snapshotRedact) > 0:
		w.line(6, "snapshot:")
		w.line(8, "source: "+scalar(st.snapshot))
		w.line(8, "redact: "+flowList(st.snapshotRedact))
	case st.snapshot != "":
		w.line(6, "snapshot: "+scalar(st.snapshot))
	}
	switch {
	case st.prefetch != "" && st.selectPath != "":
		w.line(6, "prefetch:")
		w.line(8, "request: "+scalar(st.prefetch))
		w.line(8, "select: "+scalar(st.selectPath))
	case st.prefetch != "":
		w.line(6, "prefetch: "+scalar(st.prefetch))
	}
}

// writeNotes lists the writes no rule covers.
func writeNotes(w *yamlWriter, notes []note) {
	if len(notes) == 0 {
		return
	}
	w.blank()
	w.commentLine(0, "Not proposed: successful writes that no rule above covers.")
	for i, n := range notes {
		if i == maxNotes {
			w.commentLine(0, fmt.Sprintf("  … and %d more", len(notes)-maxNotes))
			break
		}
		w.commentLine(0, "  "+n.method+" "+n.path+": "+n.why)
	}
}

func joinInts(xs []int, sep string) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, sep)
}
