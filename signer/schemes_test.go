package signer_test

import (
	"slices"
	"testing"

	"github.com/caddy-webhooks/caddy-webhooks/signer"
)

func TestSchemes(t *testing.T) {
	got := signer.Schemes()
	if want := []string{"standard", "sha256", "hex", "ed25519"}; !slices.Equal(got, want) {
		t.Fatalf("Schemes() = %q, want %q", got, want)
	}
	got[0] = "mutated"
	if signer.Schemes()[0] != signer.Standard {
		t.Fatal("Schemes() shares its backing array with the caller")
	}
}

func TestValidScheme(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"standard", true},
		{"sha256", true},
		{"hex", true},
		{"", false},
		{"Standard", false},
		{"SHA256", false},
		{"sha512", false},
		{"v1", false},
	} {
		if got := signer.ValidScheme(tc.name); got != tc.want {
			t.Errorf("ValidScheme(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
