package learn

import (
	"slices"
	"strings"
	"testing"
)

func TestIsIDSegment(t *testing.T) {
	for _, tt := range []struct {
		seg  string
		want bool
	}{
		// Database ids.
		{"42", true},
		{"0", true},
		{"550e8400-e29b-41d4-a716-446655440000", true},
		{"550E8400-E29B-41D4-A716-446655440000", true},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAV", true}, // ULID
		{"01arz3ndektsv4rrffq69g5fav", true},
		{"6b0403f897c5daf2954abf6e", true}, // ObjectId
		{"d41d8cd98f00b204e9800998ecf8427e", true},
		{"deadbeefcafe0123", true}, // 16 hex
		// Other ids.
		{"cus_NffrFeUfNV2Hib", true},
		{"pi_3MtwBwLkdIwHu7ix28a3tqPa", true},
		{"V1StGXR8_Z5jdHi6B-myT", true}, // nanoid
		{"-NbVc3m2Q9x8RtY7uKp1", true},  // Firebase push id
		{"CMD-2026-00001", true},
		{"INV12345", true},
		{"2024-01-05", true},
		{"jean@example.ch", true},
		{strings.Repeat("a", 65), true},
		// Words, versions, slugs.
		{"", false},
		{"api", false},
		{"v1", false},
		{"v2.1", false},
		{"orders", false},
		{"quick-action", false},
		{"created_at", false},
		{"user_preferences", false},
		{"payment_intents", false},
		{"annual-report-2024", false},
		{"deadbeef", false}, // 8 hex: a word as likely as an id
		{"oauth2", false},
		{"sha256", false},
		{"ABCDEFGHJKMNPQRSTVWXYZABCD", false}, // 26 letters, not a ULID (first char)
		{"@home", false},
	} {
		if got := isIDSegment(tt.seg); got != tt.want {
			t.Errorf("isIDSegment(%q) = %v, want %v", tt.seg, got, tt.want)
		}
	}
}

func TestTemplatePath(t *testing.T) {
	o := Options{}.withDefaults()
	for _, tt := range []struct {
		path, want string
		values     []string
		why        string
	}{
		{path: "/", want: "/"},
		{path: "/api/orders", want: "/api/orders"},
		{path: "/api/orders/", want: "/api/orders/"},
		{path: "/api/orders/42", want: "/api/orders/{id}", values: []string{"42"}},
		{path: "/api/orders/6b0403f897c5daf2954abf6e/status", want: "/api/orders/{id}/status", values: []string{"6b0403f897c5daf2954abf6e"}},
		{path: "/api/v1/orgs/7/members/550e8400-e29b-41d4-a716-446655440000", want: "/api/v1/orgs/{id}/members/{id2}",
			values: []string{"7", "550e8400-e29b-41d4-a716-446655440000"}},
		{path: "/a/1/b/2/c/3", want: "/a/{id}/b/{id2}/c/{id3}", values: []string{"1", "2", "3"}},
		{path: "/api//x", want: "/api//x"},
		{path: "", why: "bad_path"},
		{path: "api/orders", why: "bad_path"},
		{path: "*", why: "bad_path"},
		{path: "/" + strings.Repeat("a/", 40), why: "too_many_segments"},
		{path: "/" + strings.Repeat("x", 3000), why: "path_too_long"},
	} {
		got, why := templatePath(tt.path, &o)
		if why != tt.why || got.text != tt.want || !slices.Equal(got.values, tt.values) {
			t.Errorf("templatePath(%q) = %q %q %q, want %q %q %q", tt.path, got.text, got.values, why, tt.want, tt.values, tt.why)
		}
	}
}

func TestProposable(t *testing.T) {
	for _, tt := range []struct {
		path string
		want bool
	}{
		{"/api/orders/{id}/status", true},
		{"/api/orders/", true},
		{"/.well-known/x", true},
		{"/api//x", false},
		{"/api/a b", false},
		{"/api/{x", false},
		{"/api/a*", false},
		{"/api/100%", false},
		{"/api/ünï", false},
		{`/api/"q"`, false},
	} {
		if got := proposable(splitTemplate(tt.path)); got != tt.want {
			t.Errorf("proposable(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestFirstCollection(t *testing.T) {
	for path, want := range map[string]string{
		"/api/v1/interactions/organisation/{id}": "interactions",
		"/api/orders":                            "orders",
		"/v2.1/rest/things/{id}":                 "things",
		"/api/v1":                                "",
	} {
		if got := firstCollection(splitTemplate(path)); got != want {
			t.Errorf("firstCollection(%q) = %q, want %q", path, got, want)
		}
	}
}
