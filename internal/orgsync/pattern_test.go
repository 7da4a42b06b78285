package orgsync

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func s(v string) Value    { return Value{Str: v} }
func l(v ...string) Value { return Value{List: v, IsList: true} }
func p(kv ...any) Params {
	out := Params{}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1].(Value)
	}
	return out
}

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		patterns []string
		path     string
		want     Params // nil: no match
	}{
		// The shared notes' table of @clerk/shared match() results.
		{[]string{"/orgs/:slug", "/orgs/:slug/(.*)"}, "/orgs/acme/a/b", p("slug", s("acme"), "0", s("a/b"))},
		{[]string{"/orgs/:slug", "/orgs/:slug/(.*)"}, "/ORGS/Acme", p("slug", s("Acme"))},
		{[]string{"/orgs/:id(org_[a-zA-Z0-9]+)", "/orgs/:slug"}, "/orgs/org_abc", p("id", s("org_abc"))},
		{[]string{"/orgs/:id(org_[a-zA-Z0-9]+)", "/orgs/:slug"}, "/orgs/acme", p("slug", s("acme"))},
		{[]string{"/orgs/:slug+"}, "/orgs/a/b", p("slug", l("a", "b"))},
		{[]string{"/orgs/:slug"}, "/orgs/ac%2Fme", p("slug", s("ac%2Fme"))},
		// End and trailing delimiter.
		{[]string{"/orgs/:slug"}, "/orgs/acme/", p("slug", s("acme"))},
		{[]string{"/orgs/:slug"}, "/orgs/acme#", p("slug", s("acme"))},
		{[]string{"/orgs/:slug"}, "/orgs/acme?", p("slug", s("acme"))},
		{[]string{"/orgs/:slug"}, "/orgs/acme//", nil},
		{[]string{"/orgs/:slug"}, "/orgs", nil},
		{[]string{"/orgs/:slug"}, "/orgs/", nil},
		{[]string{"/orgs/:slug"}, "/orgs/acme/settings", nil},
		{[]string{"/orgs/:slug"}, "/x/orgs/acme", nil},
		// Modifiers.
		{[]string{"/orgs/:slug?"}, "/orgs", p()},
		{[]string{"/orgs/:slug*"}, "/orgs", p()},
		{[]string{"/orgs/:slug*"}, "/orgs/a/b/c", p("slug", l("a", "b", "c"))},
		{[]string{"/orgs/:slug+"}, "/orgs", nil},
		{[]string{"/orgs{/:slug}?"}, "/orgs/x", p("slug", s("x"))},
		{[]string{"/o{-:slug}+"}, "/o-a-b", p("slug", l("a", "b"))},
		{[]string{"/o{-x}?/y"}, "/o-x/y", p()},
		{[]string{"/o{-x}?/y"}, "/o/y", p()},
		// Unnamed groups are numbered across alternatives.
		{[]string{"/a/(.*)", "/b/(.*)/(\\d+)"}, "/b/x/12", p("0", s("x"), "1", s("12"))},
		{[]string{"/a/(.*)"}, "/a/", p("0", s(""))},
		// Case-insensitive, also in custom patterns.
		{[]string{"/Orgs/:slug(ACME)"}, "/orgs/acme", p("slug", s("acme"))},
		// Escapes.
		{[]string{"/o\\:x/:slug"}, "/o:x/a", p("slug", s("a"))},
		{[]string{"/o\\(x\\)"}, "/o(x)", p()},
		{[]string{"/a.b"}, "/aXb", nil},
		// A parameter after text with no delimiter excludes that text's character.
		{[]string{"/:a-:b"}, "/x-y-z", p("a", s("x-y"), "b", s("z"))},
		{[]string{"/f/:name.:ext"}, "/f/a.tar.gz", p("name", s("a.tar"), "ext", s("gz"))},
		// JavaScript regexp semantics inside custom patterns.
		{[]string{"/:x(.+)"}, "/a\rb", nil},
		{[]string{"/:x(\\s+)"}, "/\v", p("x", s("\v"))},
		{[]string{"/:x([\\s]+)"}, "/\u00a0", p("x", s("\u00a0"))},
		{[]string{"/:x([^]+)"}, "/a/b", p("x", s("a/b"))},
		{[]string{"/:x([]?)"}, "/", p("x", s(""))},
		{[]string{"/:x([\\d-z]+)"}, "/1-z", p("x", s("1-z"))},
		{[]string{"/:x(a{2})"}, "/aa", p("x", s("aa"))},
		{[]string{"/:x(a{,2})"}, "/a{,2}", p("x", s("a{,2}"))},
		{[]string{"/:x(\\u0041)"}, "/a", p("x", s("a"))},
		{[]string{"/:x([\\b])"}, "/\b", p("x", s("\b"))},
		// The query string is not part of a pathname; Match takes it as text.
		{[]string{"/orgs/:slug"}, "/orgs/acme?x=1", nil},
		// Later groups of the same name overwrite earlier ones.
		{[]string{"/:a/:a"}, "/x/y", p("a", s("y"))},
	}
	for _, tc := range tests {
		ps, err := CompilePatterns(tc.patterns)
		if err != nil {
			t.Fatalf("%q: %v", tc.patterns, err)
		}
		got, ok := ps.Match(tc.path)
		if tc.want == nil {
			if ok {
				t.Errorf("%q on %q: matched %v, want no match", tc.patterns, tc.path, got)
			}
			continue
		}
		if !ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q on %q: got %v (%v), want %v", tc.patterns, tc.path, got, ok, tc.want)
		}
	}
}

func TestPatternErrors(t *testing.T) {
	tests := []struct {
		pattern string
		msg     string // path-to-regexp's message; "" for an UnsupportedError
	}{
		{"/orgs/*", "Unexpected MODIFIER at 6, expected END"},
		{"/orgs/:", "Missing parameter name at 6"},
		{"/orgs/(abc", "Unbalanced pattern at 6"},
		{"/orgs/()", "Missing pattern at 6"},
		{"/orgs/:id((a))", `Capturing groups are not allowed at 10`},
		{"/orgs/(?:a)", `Pattern cannot start with "?" at 7`},
		{"/orgs/:a:b", `Must have text between two parameters, missing text after "a"`},
		{"/(x):b", `Must have text between two parameters, missing text after "0"`},
		{"/orgs-:slug+", `Can not repeat "slug" without a prefix and suffix`},
		{"/orgs{/:slug", "Unexpected END at 12, expected CLOSE"},
		{"/orgs}", "Unexpected CLOSE at 5, expected END"},
		{"/€/*", "Unexpected MODIFIER at 3, expected END"},
		{"/😀/*", "Unexpected MODIFIER at 4, expected END"},
		{"/orgs/:slug((?!new)[a-z]+)", ""},
		{"/orgs/:slug((?<n>a))", ""},
		{"/orgs/:slug((?:a)\\1)", ""},
		{"/:a-x-:b", ""},
		{"/orgs/:slug(a{2000})", ""},
		{"/orgs/:slug(\\p{L})", ""},
		{"/orgs/ſ", ""},
	}
	for _, tc := range tests {
		_, err := CompilePatterns([]string{"/ok", tc.pattern})
		var pe *PatternError
		if !errors.As(err, &pe) || pe.Pattern != tc.pattern || pe.Index != 1 {
			t.Errorf("%q: error %v, want a PatternError for it at index 1", tc.pattern, err)
			continue
		}
		var se *SyntaxError
		var ue *UnsupportedError
		switch {
		case tc.msg == "" && !errors.As(err, &ue):
			t.Errorf("%q: %v, want an UnsupportedError", tc.pattern, err)
		case tc.msg != "" && (!errors.As(err, &se) || se.Msg != tc.msg):
			t.Errorf("%q: %v, want SyntaxError %q", tc.pattern, err, tc.msg)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.pattern)) {
			t.Errorf("%q: error %q does not name the pattern", tc.pattern, err)
		}
	}
}

func TestTrailingBackslashIsDropped(t *testing.T) {
	// path-to-regexp's lexer gives a trailing "\" an undefined value, which the
	// parser drops.
	ps, err := CompilePatterns([]string{`/orgs\`})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ps.Match("/orgs"); !ok {
		t.Error("/orgs\\ does not match /orgs")
	}
}

func TestEmptyPatternListMatchesNothing(t *testing.T) {
	ps, err := CompilePatterns(nil)
	if err != nil || ps != nil {
		t.Fatalf("got %v, %v", ps, err)
	}
	if _, ok := ps.Match("/"); ok {
		t.Error("nil Patterns matched")
	}
}
