package orgsync

import (
	"errors"
	"strings"
	"testing"
)

func TestFindTarget(t *testing.T) {
	opts := Options{
		OrganizationPatterns:    []string{"/orgs/:id(org_[a-zA-Z0-9]+)", "/orgs/:id(org_[a-zA-Z0-9]+)/(.*)", "/orgs/:slug", "/orgs/:slug/(.*)", "/teams/:slug+", "/named/:name", "/ids/:id+"},
		PersonalAccountPatterns: []string{"/me", "/me/(.*)", "/named/(.*)", "/orgs/:slug"},
	}
	m, err := Compile(opts)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path   string
		kind   TargetKind
		param  string // organization_id value
		byID   bool
		isList bool
	}{
		{"/orgs/org_abc", OrganizationTarget, "org_abc", true, false},
		{"/orgs/ORG_abc/settings", OrganizationTarget, "ORG_abc", true, false},
		{"/orgs/acme", OrganizationTarget, "acme", false, false},
		{"/ORGS/Acme/", OrganizationTarget, "Acme", false, false},
		{"/orgs/acme/a/b", OrganizationTarget, "acme", false, false},
		{"/orgs/ac%20me", OrganizationTarget, "ac%20me", false, false},
		{"/teams/a/b", OrganizationTarget, "a,b", false, true},
		{"/ids/org_1/org_2", OrganizationTarget, "org_1,org_2", true, true},
		{"/named/x", PersonalAccountTarget, "", false, false}, // a match without id or slug falls through
		{"/me", PersonalAccountTarget, "", false, false},
		{"/me/profile", PersonalAccountTarget, "", false, false},
		{"/mex", NoTarget, "", false, false},
		{"/orgs", NoTarget, "", false, false},
		{"/", NoTarget, "", false, false},
	}
	for _, tc := range tests {
		got := m.FindTarget(tc.path)
		if got.Kind != tc.kind || got.ByID != tc.byID || got.Found() != (tc.kind != NoTarget) {
			t.Errorf("%q: %+v, want kind %v byID %v", tc.path, got, tc.kind, tc.byID)
			continue
		}
		v, ok := got.OrganizationIDParam()
		if ok != (tc.kind != NoTarget) || v != tc.param {
			t.Errorf("%q: organization_id %q (%v), want %q", tc.path, v, ok, tc.param)
		}
		if tc.kind == OrganizationTarget {
			val := got.Slug
			if got.ByID {
				val = got.ID
			}
			if val.IsList != tc.isList {
				t.Errorf("%q: IsList %v", tc.path, val.IsList)
			}
		}
	}
}

func TestNeedsActivation(t *testing.T) {
	byID := Target{Kind: OrganizationTarget, ID: Value{Str: "org_abc"}, ByID: true}
	bySlug := Target{Kind: OrganizationTarget, Slug: Value{Str: "acme"}}
	list := Target{Kind: OrganizationTarget, Slug: Value{List: []string{"acme"}, IsList: true}}
	personal := Target{Kind: PersonalAccountTarget}
	tests := []struct {
		name          string
		t             Target
		id, slug      string
		hasOrg, wants bool
	}{
		{"id equal", byID, "org_abc", "", true, false},
		{"id differs", byID, "org_xyz", "abc", true, true},
		{"id case differs", byID, "ORG_abc", "", true, true},
		{"id, no org", byID, "", "", false, true},
		{"slug equal", bySlug, "org_1", "acme", true, false},
		{"slug case differs", bySlug, "org_1", "Acme", true, true},
		{"slug, id-only token", bySlug, "org_1", "", true, true},
		{"slug, token slug equals but compared by slug only", bySlug, "acme", "acme", true, false},
		{"list never equals", list, "acme", "acme", true, true},
		{"personal, token has org", personal, "org_1", "", true, true},
		{"personal, no org", personal, "", "", false, false},
		{"personal, non-string truthy org", personal, "", "", true, true},
		{"no target", Target{}, "", "", true, false},
	}
	for _, tc := range tests {
		if got := tc.t.NeedsActivation(tc.id, tc.slug, tc.hasOrg); got != tc.wants {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.wants)
		}
	}
}

func TestTokenOrganization(t *testing.T) {
	tests := []struct {
		name     string
		claims   map[string]any
		id, slug string
		has      bool
	}{
		{"v1", map[string]any{"org_id": "org_1", "org_slug": "acme"}, "org_1", "acme", true},
		{"v1 no org", map[string]any{}, "", "", false},
		{"v1 ignores o", map[string]any{"o": map[string]any{"id": "org_2"}}, "", "", false},
		{"v2", map[string]any{"v": float64(2), "o": map[string]any{"id": "org_2", "slg": "beta"}, "org_id": "org_1"}, "org_2", "beta", true},
		{"v2 ignores v1 claims", map[string]any{"v": float64(2), "org_id": "org_1", "org_slug": "acme"}, "", "", false},
		{"v2 o not an object", map[string]any{"v": float64(2), "o": "x"}, "", "", false},
		{"v as a string is v1", map[string]any{"v": "2", "o": map[string]any{"id": "org_2"}, "org_id": "org_1"}, "org_1", "", true},
		{"number id is truthy, not a string", map[string]any{"org_id": float64(5)}, "", "", true},
		{"zero id", map[string]any{"org_id": float64(0)}, "", "", false},
		{"empty id", map[string]any{"org_id": ""}, "", "", false},
		{"false id", map[string]any{"org_id": false}, "", "", false},
		{"object id", map[string]any{"org_id": map[string]any{}}, "", "", true},
	}
	for _, tc := range tests {
		id, slug, has := TokenOrganization(tc.claims)
		if id != tc.id || slug != tc.slug || has != tc.has {
			t.Errorf("%s: %q %q %v, want %q %q %v", tc.name, id, slug, has, tc.id, tc.slug, tc.has)
		}
	}
}

func TestCompileErrorNamesListAndPattern(t *testing.T) {
	_, err := Compile(Options{OrganizationPatterns: []string{"/orgs/:slug"}, PersonalAccountPatterns: []string{"/me", "/me/*"}})
	var pe *PatternError
	if !errors.As(err, &pe) || pe.Pattern != "/me/*" || pe.Index != 1 {
		t.Fatalf("got %v", err)
	}
	if !strings.HasPrefix(err.Error(), "personal account patterns: ") || !strings.Contains(err.Error(), `"/me/*"`) {
		t.Errorf("message %q", err)
	}
	_, err = Compile(Options{OrganizationPatterns: []string{"/o/*"}, PersonalAccountPatterns: []string{"/me/*"}})
	if err == nil || !strings.HasPrefix(err.Error(), "organization patterns: ") {
		t.Errorf("organization patterns are compiled first: %v", err)
	}
}

func TestNilAndEmptyMatcher(t *testing.T) {
	var m *Matcher
	if m.Enabled() || m.FindTarget("/orgs/acme").Found() {
		t.Error("nil matcher found a target")
	}
	m, err := Compile(Options{})
	if err != nil || m.Enabled() || m.FindTarget("/").Found() {
		t.Errorf("empty options: %v %v", m, err)
	}
	m, _ = Compile(Options{PersonalAccountPatterns: []string{"/me"}})
	if !m.Enabled() {
		t.Error("not enabled with a personal pattern")
	}
}
