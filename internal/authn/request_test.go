package authn

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/clerk-edge/clerk_auth/internal/testkit"
)

// npmCookieParse parses each header with the npm cookie package that
// @clerk/backend bundles (conformance/cookies.mjs): the reference the jar
// must agree with.
func npmCookieParse(t *testing.T, headers []string) [][][2]string {
	t.Helper()
	testkit.EnsureConformanceRunner(t, "../../conformance")
	var out [][][2]string
	testkit.RunNode(t, "../../conformance", "cookies.mjs", headers, &out)
	if len(out) != len(headers) {
		t.Fatalf("cookies.mjs parsed %d headers of %d", len(out), len(headers))
	}
	return out
}

// jarNames is every distinct name the jar holds, in first-seen order.
func jarNames(j *cookieJar) []string {
	var names []string
	seen := map[string]bool{}
	for i := 0; i < j.n; i++ {
		if n := j.pairs[i].name; !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	for _, p := range j.more {
		if !seen[p.name] {
			seen[p.name] = true
			names = append(names, p.name)
		}
	}
	return names
}

// cookieHeaderCases are hand-picked corner cases of the cookie package's
// parse, then headers drawn from an alphabet of its delimiters, white space,
// percent escapes (valid, malformed, invalid UTF-8) and non-ASCII text.
func cookieHeaderCases() []string {
	many := make([]string, 40)
	for i := range many {
		many[i] = fmt.Sprintf("c%d=v%d", i, i)
	}
	cases := []string{
		"", "a", "a=", "=", "a=1", "a=1; b=2", " a = 1 ;\tb=2\t", "a=1; a=2", "a=%41%42", "a=%E0%A4%A",
		";;==;a=b=c;d=e", "a; b=1", "=1; b=2", "a=1;b=2;c=3;a=4", `a="quoted"`, "a=%ED%A0%80", "a=%C3%A9",
		"a=%zz", "a=+b", "__proto__=x; constructor=y", "a\v=1", "\u00e9=\u00e8; b=\u2603",
		strings.Join(many, "; "), strings.Join(many, "; ") + "; c3=again; c39=again; late=1",
		"__session=tok; __client_uat=123; __session_abc=tok2",
	}
	alphabet := []string{"a", "b", "_", "=", ";", " ", "\t", "%", "%41", "%C3%A9", "%E0%A4", "%ZZ", "\"", ",", "é", "1"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		var b strings.Builder
		for range r.IntN(24) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		cases = append(cases, b.String())
	}
	return cases
}

// The jar reads every header as the npm cookie package Clerk uses does:
// the same names, and for each the same first value, decoded the same way.
func TestCookieJarMatchesNPMCookie(t *testing.T) {
	headers := cookieHeaderCases()
	want := npmCookieParse(t, headers)
	for i, h := range headers {
		var j cookieJar
		parseCookieHeader(&j, h)
		wantNames := make([]string, len(want[i]))
		for k, p := range want[i] {
			wantNames[k] = p[0]
			if got, ok := j.get(p[0]); !ok || got != p[1] {
				t.Fatalf("%q: cookie %q = %q (found %v), npm cookie says %q", h, p[0], got, ok, p[1])
			}
		}
		// Sorted: a JavaScript object lists integer-like keys first, an
		// order that means nothing for a lookup.
		got := jarNames(&j)
		slices.Sort(got)
		slices.Sort(wantNames)
		if !slices.Equal(got, wantNames) {
			t.Fatalf("%q: the jar holds names %q, npm cookie %q", h, got, wantNames)
		}
	}
}

// A header of thousands of tiny cookies is read in linear time: the jar
// keeps every pair and finds the first of a name when asked.
func TestCookieJarManyCookies(t *testing.T) {
	h := strings.Repeat("a=b; ", 3000) + "__session=tok"
	var j cookieJar
	parseCookieHeader(&j, h)
	if v, _ := j.get("__session"); v != "tok" {
		t.Fatalf("__session = %q after 3000 cookies", v)
	}
	if v, _ := j.get("a"); v != "b" {
		t.Fatalf("a = %q", v)
	}
	if _, ok := j.get("absent"); ok {
		t.Fatal("a name the header does not hold was found")
	}
}

// checkCookieJarShape checks what holds for any header (the fuzz target's
// oracle; TestCookieJarMatchesNPMCookie checks the values against npm):
// names are trimmed and hold no '=' or ';', values hold no ';', and a name
// the jar holds is found.
func checkCookieJarShape(t *testing.T, header string) {
	t.Helper()
	var j cookieJar
	parseCookieHeader(&j, header)
	for _, name := range jarNames(&j) {
		if strings.ContainsAny(name, "=;") || name != strings.Trim(name, " \t") {
			t.Fatalf("%q: the jar holds a malformed name %q", header, name)
		}
		if v, ok := j.get(name); !ok || (strings.Contains(v, ";") && !strings.Contains(header, "%3")) {
			t.Fatalf("%q: cookie %q = %q (found %v)", header, name, v, ok)
		}
	}
}

// Header values are read as the Fetch API's Headers holds them: trimmed.
func TestHeaderValueTrimsLikeFetchHeaders(t *testing.T) {
	h := http.Header{"Accept": {" text/html\t"}, "Sec-Fetch-Dest": {"document ", " document"}}
	if got := headerValue(h, "Accept"); got != "text/html" {
		t.Errorf("Accept = %q", got)
	}
	if got := headerValue(h, "Sec-Fetch-Dest"); got != "document, document" {
		t.Errorf("Sec-Fetch-Dest = %q", got)
	}
}

// FuzzCookieHeader holds the jar's shape on any Cookie header (it was part
// of the root's FuzzAuthorizationHeader before the decision moved here).
func FuzzCookieHeader(f *testing.F) {
	for _, s := range cookieHeaderCases() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cookie string) { checkCookieJarShape(t, cookie) })
}
