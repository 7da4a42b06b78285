package orgsync

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"math/rand"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// conformanceDir is the repository's conformance/ directory, seen from this
// package's directory.
var conformanceDir = filepath.Join("..", "..", "conformance")

// ensureOrgsyncRunner follows the project's rule
// (testkit.EnsureConformanceRunner): without node the test skips, except in
// CI, where a missing runner fails.
func ensureOrgsyncRunner(t *testing.T) {
	t.Helper()
	testkit.EnsureConformanceRunner(t, conformanceDir)
}

type confCase struct {
	Name                    string           `json:"name"`
	OrganizationPatterns    []string         `json:"organizationPatterns"`
	PersonalAccountPatterns []string         `json:"personalAccountPatterns"`
	Paths                   []string         `json:"paths"`
	Claims                  []map[string]any `json:"claims"`
	// unsupported marks a pattern set that Clerk accepts and this package
	// deliberately refuses (RE2 limits).
	unsupported bool
}

type confPath struct {
	Path               string          `json:"path"`
	Pathname           string          `json:"pathname"`
	OrganizationParams map[string]any  `json:"organizationParams"`
	PersonalParams     map[string]any  `json:"personalParams"`
	Target             *map[string]any `json:"target"`
	OrganizationID     *string         `json:"organizationId"`
	NeedsActivation    []bool          `json:"needsActivation"`
}

type confResult struct {
	Name              string     `json:"name"`
	Error             *string    `json:"error"`
	OrganizationError *string    `json:"organizationError"`
	PersonalError     *string    `json:"personalError"`
	Paths             []confPath `json:"paths"`
}

var confClaims = []map[string]any{
	{},
	{"org_id": "org_abc123", "org_slug": "acme"},
	{"org_slug": "Acme"},
	{"org_id": "acme"},
	{"org_id": float64(5)},
	{"org_id": "", "org_slug": "acme"},
	{"v": float64(2), "o": map[string]any{"id": "org_abc123", "slg": "acme"}},
	{"v": float64(2), "org_id": "org_abc123", "org_slug": "acme"},
	{"v": float64(2), "o": "x"},
	{"v": "2", "o": map[string]any{"id": "org_abc123", "slg": "acme"}, "org_slug": "ac%20me"},
	{"v": float64(1), "org_id": "org_ABC123", "org_slug": "a,b"},
}

// handCases are the shared notes' table and the edges around it.
func handCases() []confCase {
	paths := []string{
		"/", "/orgs", "/orgs/", "/orgs/acme", "/orgs/acme/", "/ORGS/Acme", "/orgs/acme/a/b", "/orgs/acme/settings",
		"/orgs/org_abc123", "/orgs/ORG_abc123/x", "/orgs/ac%20me", "/orgs/ac%2Fme", "/orgs/a/b", "/orgs/a/b/c/",
		"/me", "/me/", "/ME/profile", "/mex", "/orgs/acme?x=1", "/orgs/acme#frag", "/orgs/acme//", "/orgs//acme",
		"/orgs/a.b", "/orgs/a-b-c", "/files/a.tar.gz", "/orgs/%E2%82%AC", "/orgs/ĸ", "/u/12/x", "/orgs/acme.json",
	}
	cs := []confCase{
		{Name: "slug-and-wildcard", OrganizationPatterns: []string{"/orgs/:slug", "/orgs/:slug/(.*)"}, PersonalAccountPatterns: []string{"/me", "/me/(.*)"}},
		{Name: "id-then-slug", OrganizationPatterns: []string{"/orgs/:id(org_[a-zA-Z0-9]+)", "/orgs/:slug"}},
		{Name: "id-then-slug-with-rest", OrganizationPatterns: []string{"/orgs/:id(org_[a-zA-Z0-9]+)/(.*)", "/orgs/:id(org_[a-zA-Z0-9]+)", "/orgs/:slug/(.*)", "/orgs/:slug"}, PersonalAccountPatterns: []string{"/me/(.*)?"}},
		{Name: "slug-plus", OrganizationPatterns: []string{"/orgs/:slug+"}},
		{Name: "slug-star", OrganizationPatterns: []string{"/orgs/:slug*"}, PersonalAccountPatterns: []string{"/orgs"}},
		{Name: "id-plus", OrganizationPatterns: []string{"/orgs/:id+"}},
		{Name: "slug-optional", OrganizationPatterns: []string{"/orgs/:slug?"}, PersonalAccountPatterns: []string{"/orgs"}},
		{Name: "neither-falls-through", OrganizationPatterns: []string{"/orgs/:name", "/me/(.*)"}, PersonalAccountPatterns: []string{"/orgs/(.*)", "/me/(.*)"}},
		{Name: "org-wins-over-personal", OrganizationPatterns: []string{"/:slug"}, PersonalAccountPatterns: []string{"/me"}},
		{Name: "personal-only", PersonalAccountPatterns: []string{"/me", "/me/(.*)"}},
		{Name: "groups", OrganizationPatterns: []string{"/orgs{/:slug}?", "/o{-:slug}+", "{/x}?/u/:id(\\d+)/(.*)"}},
		{Name: "prefix-dot", OrganizationPatterns: []string{"/files/:slug.:ext", "/orgs/:slug.json"}},
		{Name: "dash-lookahead", OrganizationPatterns: []string{"/orgs/:a-:slug"}},
		{Name: "escapes", OrganizationPatterns: []string{"/orgs\\/:slug", "/o\\:x/:slug", "/o\\(x\\)/:slug"}},
		{Name: "custom-classes", OrganizationPatterns: []string{"/orgs/:slug([^/.]+)", "/orgs/:id(org_\\w{3,}|x\\d)", "/orgs/:slug([\\s\\d-]+)", "/orgs/:slug(.+)"}},
		{Name: "case", OrganizationPatterns: []string{"/Orgs/:slug(ACME|beta)"}},
		{Name: "numbered", OrganizationPatterns: []string{"/a/(.*)", "/orgs/(.*)/(\\d+)?"}, PersonalAccountPatterns: []string{"(.*)"}},
		{Name: "root", OrganizationPatterns: []string{"/"}, PersonalAccountPatterns: []string{""}},
		// Invalid: both sides must refuse, with path-to-regexp's message.
		{Name: "bare-star", OrganizationPatterns: []string{"/orgs/*"}},
		{Name: "missing-name", OrganizationPatterns: []string{"/orgs/:"}},
		{Name: "unbalanced", OrganizationPatterns: []string{"/orgs/(abc"}},
		{Name: "missing-pattern", OrganizationPatterns: []string{"/orgs/()"}},
		{Name: "capturing", OrganizationPatterns: []string{"/orgs/:id((a))"}},
		{Name: "starts-with-question", OrganizationPatterns: []string{"/orgs/(?:a)"}},
		{Name: "two-params", OrganizationPatterns: []string{"/orgs/:a:b"}},
		{Name: "repeat-no-prefix", OrganizationPatterns: []string{"/orgs-:slug+"}},
		{Name: "unclosed-group", OrganizationPatterns: []string{"/orgs{/:slug"}},
		{Name: "stray-close", OrganizationPatterns: []string{"/orgs}"}},
		{Name: "bad-personal", OrganizationPatterns: []string{"/orgs/:slug"}, PersonalAccountPatterns: []string{"/me/*"}},
		{Name: "bad-both", OrganizationPatterns: []string{"/ok", "+x"}, PersonalAccountPatterns: []string{"/me/*"}},
		{Name: "bad-js-regexp", OrganizationPatterns: []string{"/orgs/:slug([a-)"}},
		{Name: "bad-js-quantifier", OrganizationPatterns: []string{"/orgs/:slug(a**)"}},
		// Accepted by Clerk, refused here (RE2 limits).
		{Name: "lookahead", OrganizationPatterns: []string{"/orgs/:slug((?!new)[a-z]+)"}, unsupported: true},
		{Name: "lookahead-text", OrganizationPatterns: []string{"/:a-x-:slug"}, unsupported: true},
		{Name: "big-repeat", OrganizationPatterns: []string{"/orgs/:slug(a{2000})"}, unsupported: true},
	}
	for i := range cs {
		cs[i].Paths = paths
		cs[i].Claims = confClaims
	}
	return cs
}

// genCases builds random pattern lists from path-to-regexp's pieces and paths
// by substituting values into them (and mutating some).
func genCases(n int, seed int64) []confCase {
	rng := rand.New(rand.NewSource(seed))
	lits := []string{"/orgs", "/o", "/me", "/A-b", "/x.y", "/teams"}
	params := []string{"/:slug", "/:id", "/:id(org_[a-zA-Z0-9]+)", "/:slug([a-z]+)", "/(.*)", "/(\\d+)", "/:name", "{/:slug}", "{/x}", "/:id(org_\\w+)", "-:slug", ".:slug"}
	mods := []string{"", "", "", "?", "*", "+"}
	bad := []string{"*", "/:", "(", "()", "/(?x)", "{/:a", ":a:b", "}", "\\"}
	vals := []string{"acme", "org_abc123", "ACME", "ac%20me", "a.b", "x-y", "org_", "123", "Org_X9", "a%2Fb"}
	var cs []confCase
	for i := 0; i < n; i++ {
		var org, personal []string
		var paths []string
		mk := func() string {
			var b strings.Builder
			parts := 1 + rng.Intn(3)
			for j := 0; j < parts; j++ {
				if rng.Intn(2) == 0 {
					b.WriteString(lits[rng.Intn(len(lits))])
				} else {
					p := params[rng.Intn(len(params))]
					b.WriteString(p)
					b.WriteString(mods[rng.Intn(len(mods))])
				}
			}
			if rng.Intn(25) == 0 {
				b.WriteString(bad[rng.Intn(len(bad))])
			}
			return b.String()
		}
		for j := 0; j < 1+rng.Intn(3); j++ {
			org = append(org, mk())
		}
		if rng.Intn(2) == 0 {
			personal = []string{mk()}
		}
		for _, p := range append(append([]string{}, org...), personal...) {
			for k := 0; k < 4; k++ {
				paths = append(paths, substitute(rng, p, vals))
			}
		}
		cs = append(cs, confCase{Name: fmt.Sprintf("gen-%d", i), OrganizationPatterns: org, PersonalAccountPatterns: personal, Paths: paths, Claims: confClaims})
	}
	return cs
}

// substitute builds a path from a pattern by replacing each parameter with a
// value (repeated for "+" and "*", dropped sometimes for "?" and "*"), with
// random case changes and a random suffix.
func substitute(rng *rand.Rand, pattern string, vals []string) string {
	var b strings.Builder
	r := []rune(pattern)
	for i := 0; i < len(r); i++ {
		c := r[i]
		switch {
		case c == '\\' && i+1 < len(r):
			i++
			b.WriteRune(r[i])
		case c == ':' || c == '(':
			// skip the name and an optional (…) pattern
			if c == ':' {
				for i+1 < len(r) && isNameChar(uint16(r[i+1])) {
					i++
				}
			}
			if i+1 < len(r) && r[i+1] == '(' || c == '(' {
				if c != '(' {
					i++
				}
				depth := 0
				for ; i < len(r); i++ {
					if r[i] == '(' {
						depth++
					} else if r[i] == ')' {
						depth--
						if depth == 0 {
							break
						}
					}
				}
			}
			v := vals[rng.Intn(len(vals))]
			if i+1 < len(r) && (r[i+1] == '+' || r[i+1] == '*') {
				for k := rng.Intn(3); k > 0; k-- {
					v += "/" + vals[rng.Intn(len(vals))]
				}
				i++
			}
			b.WriteString(v)
		case c == '{' || c == '}' || c == '?' || c == '*' || c == '+':
		default:
			if rng.Intn(4) == 0 {
				c = []rune(strings.ToUpper(string(c)))[0]
			}
			b.WriteRune(c)
		}
	}
	s := b.String()
	switch rng.Intn(6) {
	case 0:
		s += "/"
	case 1:
		s += "/extra"
	case 2:
		s += "?q=1"
	}
	if !strings.HasPrefix(s, "/") {
		s = "/" + s
	}
	return s
}

func runOrgsyncReference(t *testing.T, cases []confCase) []confResult {
	t.Helper()
	in, err := json.Marshal(map[string]any{"cases": cases})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "orgsync.mjs")
	cmd.Dir = conformanceDir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node orgsync.mjs: %v\n%s", err, stderr.String())
	}
	var res struct {
		Results []confResult `json:"results"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("orgsync.mjs output: %v", err)
	}
	if len(res.Results) != len(cases) {
		t.Fatalf("orgsync.mjs returned %d results for %d cases", len(res.Results), len(cases))
	}
	return res.Results
}

func paramsJSON(p Params, ok bool) map[string]any {
	if !ok {
		return nil
	}
	m := map[string]any{}
	for k, v := range p {
		if v.IsList {
			l := make([]any, len(v.List))
			for i, s := range v.List {
				l[i] = s
			}
			m[k] = l
		} else {
			m[k] = v.Str
		}
	}
	return m
}

func targetJSON(t Target) *map[string]any {
	var m map[string]any
	switch t.Kind {
	case NoTarget:
		return nil
	case PersonalAccountTarget:
		m = map[string]any{"type": "personalAccount"}
	case OrganizationTarget:
		v, k := t.Slug, "organizationSlug"
		if t.ByID {
			v, k = t.ID, "organizationId"
		}
		m = map[string]any{"type": "organization", k: paramsJSON(Params{"x": v}, true)["x"]}
	}
	return &m
}

const clerkMessagePrefix = "Consult the documentation of path-to-regexp here: https://github.com/pillarjs/path-to-regexp/tree/6.x\n"

// lastLine is path-to-regexp's own message inside Clerk's wrapped error.
func lastLine(s string) string {
	if i := strings.LastIndex(s, clerkMessagePrefix); i >= 0 {
		return s[i+len(clerkMessagePrefix):]
	}
	return s
}

func TestConformanceWithClerk(t *testing.T) {
	ensureOrgsyncRunner(t)
	cases := append(handCases(), genCases(400, 16)...)
	results := runOrgsyncReference(t, cases)
	var diffs, deliberate, refusedBoth, compared int
	for i, c := range cases {
		r := results[i]
		m, err := Compile(Options{OrganizationPatterns: c.OrganizationPatterns, PersonalAccountPatterns: c.PersonalAccountPatterns})
		if r.Error != nil || err != nil {
			switch {
			case r.Error == nil:
				var ue *UnsupportedError
				if c.unsupported && errors.As(err, &ue) {
					deliberate++
					continue
				}
				diffs++
				t.Errorf("%s %q / %q: Clerk accepts, we refuse: %v", c.Name, c.OrganizationPatterns, c.PersonalAccountPatterns, err)
			case err == nil:
				diffs++
				t.Errorf("%s %q / %q: Clerk refuses (%s), we accept", c.Name, c.OrganizationPatterns, c.PersonalAccountPatterns, *r.Error)
			default:
				refusedBoth++
				wantList := "organization patterns"
				if r.OrganizationError == nil {
					wantList = "personal account patterns"
				}
				if !strings.HasPrefix(err.Error(), wantList+":") {
					diffs++
					t.Errorf("%s: we refuse %v, Clerk refuses the %s: %s", c.Name, err, wantList, *r.Error)
				}
				var se *SyntaxError
				if errors.As(err, &se) {
					if se.Msg != lastLine(*r.Error) {
						diffs++
						t.Errorf("%s: message %q, Clerk's %q", c.Name, se.Msg, lastLine(*r.Error))
					}
				} else if !strings.HasPrefix(lastLine(*r.Error), "Invalid regular expression") {
					diffs++
					t.Errorf("%s: we refuse (%v) where path-to-regexp has its own message: %s", c.Name, err, *r.Error)
				}
			}
			continue
		}
		if c.unsupported {
			t.Errorf("%s: marked unsupported but compiles", c.Name)
		}
		for _, p := range r.Paths {
			compared++
			op, ook := m.organization.Match(p.Pathname)
			pp, pok := m.personal.Match(p.Pathname)
			target := m.FindTarget(p.Pathname)
			var gotID *string
			if v, ok := target.OrganizationIDParam(); ok {
				gotID = &v
			}
			var acts []bool
			for _, cl := range c.Claims {
				id, slug, has := TokenOrganization(cl)
				acts = append(acts, target.NeedsActivation(id, slug, has))
			}
			got := confPath{Path: p.Path, Pathname: p.Pathname, OrganizationParams: paramsJSON(op, ook), PersonalParams: paramsJSON(pp, pok),
				Target: targetJSON(target), OrganizationID: gotID, NeedsActivation: acts}
			if !reflect.DeepEqual(jsonRound(t, got), jsonRound(t, p)) {
				diffs++
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(p)
				t.Errorf("%s %q / %q, path %q:\n got %s\nwant %s", c.Name, c.OrganizationPatterns, c.PersonalAccountPatterns, p.Path, g, w)
			}
		}
	}
	t.Logf("%d pattern sets, %d paths compared, %d refused by both, %d deliberate differences (RE2), %d unexplained differences",
		len(cases), compared, refusedBoth, deliberate, diffs)
	if compared < 1000 {
		t.Errorf("only %d paths compared", compared)
	}
}

func jsonRound(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
