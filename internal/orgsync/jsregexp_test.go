package orgsync

import (
	"errors"
	"regexp"
	"testing"
)

// A custom parameter pattern keeps its JavaScript meaning in RE2: each case
// lists inputs the JavaScript regexp (whole-string, as path-to-regexp anchors
// a parameter) matches and inputs it does not.
func TestTranslateJSRegexpKeepsMeaning(t *testing.T) {
	for _, tc := range []struct {
		src      string
		match    []string
		mismatch []string
	}{
		{`org_[a-zA-Z0-9]+`, []string{"org_abc", "org_A1"}, []string{"org_", "org_a-b", "xorg_a"}},
		{`\d{2,3}`, []string{"12", "123"}, []string{"1", "1234", "ab"}},
		{`a.c`, []string{"abc", "a c"}, []string{"a\nc", "a\u2028c", "ac"}},
		{`a{`, []string{"a{"}, []string{"a"}},
		{`[^]`, []string{"x", "\n"}, []string{"", "xy"}},
		{`[]`, nil, []string{"", "x"}},
		{`\s+`, []string{" ", "\t\u00a0\u3000"}, []string{"x", ""}},
		{`\S`, []string{"x"}, []string{" ", "\u2028"}},
		{`[\b]`, []string{"\b"}, []string{"b"}},
		{`\x41\u0042`, []string{"AB"}, []string{"ab"}},
		{`\cJ`, []string{"\n"}, []string{"cJ"}},
		{`a]b}`, []string{"a]b}"}, []string{"ab"}},
		{`(?:ab)+`, []string{"ab", "abab"}, []string{"a", "aba"}},
		{`[a-c\d-]`, []string{"a", "b", "5", "-"}, []string{"d", "x"}},
		{`é\.`, []string{"é."}, []string{"éx"}},
	} {
		re2, err := translateJSRegexp(tc.src)
		if err != nil {
			t.Fatalf("%q: refused: %v", tc.src, err)
		}
		re, err := regexp.Compile(`^(?:` + re2 + `)$`)
		if err != nil {
			t.Fatalf("%q: translated to %q, which RE2 refuses: %v", tc.src, re2, err)
		}
		for _, s := range tc.match {
			if !re.MatchString(s) {
				t.Errorf("%q (RE2 %q) does not match %q; JavaScript's does", tc.src, re2, s)
			}
		}
		for _, s := range tc.mismatch {
			if re.MatchString(s) {
				t.Errorf("%q (RE2 %q) matches %q; JavaScript's does not", tc.src, re2, s)
			}
		}
	}
}

// What RE2 cannot say, or says otherwise, is refused with an
// *UnsupportedError rather than translated into another meaning.
func TestTranslateJSRegexpRefuses(t *testing.T) {
	for _, src := range []string{
		`a(?=b)`, `a(?!b)`, `(?<=a)b`, `(?<!a)b`, `(?<n>a)`, `(a)`, `(a)\1`, `\01`, `\xZZ`, `\u12`, `\c1`,
		`[\B]`, `[\S]`, `\p`, `\k`, `a\`,
	} {
		_, err := translateJSRegexp(src)
		var ue *UnsupportedError
		if !errors.As(err, &ue) {
			t.Errorf("%q: got %v, want an *UnsupportedError", src, err)
		}
	}
}
