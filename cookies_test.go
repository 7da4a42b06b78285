package clerkauth

import (
	"fmt"
	"strings"
	"testing"
)

// referenceCookies is the cookie package's parse as a map, first name wins:
// what cookieJar must answer for every name.
func referenceCookies(str string) map[string]string {
	jar := map[string]string{}
	n := len(str)
	if n < 2 {
		return jar
	}
	for index := 0; index < n; {
		eq := strings.IndexByte(str[index:], '=')
		if eq < 0 {
			break
		}
		eq += index
		end := strings.IndexByte(str[index:], ';')
		if end < 0 {
			end = n
		} else {
			end += index
		}
		if eq > end {
			index = strings.LastIndexByte(str[:eq], ';') + 1
			continue
		}
		key := strings.Trim(str[index:eq], " \t")
		if _, seen := jar[key]; !seen {
			jar[key] = decodeCookieValue(strings.Trim(str[eq+1:end], " \t"))
		}
		index = end + 1
	}
	return jar
}

// checkCookieJar compares the jar with the reference for every name the
// header holds, and for names it does not.
func checkCookieJar(t *testing.T, header string) {
	t.Helper()
	var j cookieJar
	parseCookieHeader(&j, header)
	want := referenceCookies(header)
	for name, v := range want {
		if got, ok := j.get(name); !ok || got != v {
			t.Fatalf("%q: cookie %q = %q (%v), want %q", header, name, got, ok, v)
		}
	}
	for _, name := range []string{"\x00absent", "__session", "a", "c3"} {
		if _, present := want[name]; present {
			continue
		}
		if _, ok := j.get(name); ok {
			t.Fatalf("%q: cookie %q is not there but was found", header, name)
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
}

func TestCookieJar(t *testing.T) {
	many := make([]string, 40)
	for i := range many {
		many[i] = fmt.Sprintf("c%d=v%d", i, i)
	}
	for _, h := range []string{
		"", "a", "a=1", "a=1; b=2", " a = 1 ;\tb=2\t", "a=1; a=2", "a=%41%42", "a=%E0%A4%A", ";;==;a=b=c;d=e",
		"a; b=1", "=1; b=2", "a=1;b=2;c=3;a=4", `a="quoted"`, strings.Join(many, "; "),
		strings.Join(many, "; ") + "; c3=again; c39=again; late=1",
	} {
		checkCookieJar(t, h)
	}
}
