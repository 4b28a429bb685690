package main

import (
	"os"
	"slices"
	"testing"

	"github.com/caddy-webhooks/caddy-webhooks/rules"
)

// TestExampleRuleFilesCompile checks that both examples' rule files load
// and emit exactly the events of their app in ../CATALOGUE.md,
// each with a description.
func TestExampleRuleFilesCompile(t *testing.T) {
	for _, tt := range []struct {
		file   string
		events []string
	}{
		{"rules.yaml", []string{
			"interaction.created", "interaction.updated",
			"mandat.created", "mandat.signed", "mandat.updated",
			"organisation.created", "organisation.deleted", "organisation.updated",
			"person.created", "person.deleted", "person.updated",
			"task.completed", "task.created",
		}},
		{"../shop/rules.yaml", []string{
			"customer.created", "customer.updated",
			"order.created", "order.paid", "order.shipped", "order.status_changed",
		}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			src, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			specs, err := rules.Parse(tt.file, src)
			if err != nil {
				t.Fatal(err)
			}
			set, err := rules.Compile(specs)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range set.Events() {
				if e.Description == "" {
					t.Errorf("%s has no description", e.Name)
				}
				names = append(names, e.Name)
			}
			if !slices.Equal(names, tt.events) {
				t.Errorf("events %v, want %v", names, tt.events)
			}
		})
	}
}
