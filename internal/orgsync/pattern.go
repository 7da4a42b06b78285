package orgsync

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf16"
)

// This file ports path-to-regexp 6.x as @clerk/shared vendors it
// (src/compiled/path-to-regexp/index.js, exposed as `match` by
// @clerk/shared/pathToRegexp), with the default options Clerk's
// OrganizationMatcher (organizationMatcher.ts) uses: sensitive false
// (case-insensitive), strict false (one optional trailing "/", "#" or "?"),
// start and end true, delimiter "/#?", prefixes "./", no encode, no decode.
//
// The lexer and parser work on UTF-16 code units, as the JavaScript does, so
// that the indexes in error messages are the same. The token list is turned
// into a Go regexp (RE2) instead of a JavaScript RegExp; the few JavaScript
// regexp features RE2 lacks are refused when the pattern is compiled.

const (
	defaultDelimiter = "/#?"
	defaultPrefixes  = "./"
)

type lexKind int

const (
	lexModifier lexKind = iota
	lexEscapedChar
	lexOpen
	lexClose
	lexName
	lexPattern
	lexChar
	lexEnd
)

var lexKindNames = [...]string{"MODIFIER", "ESCAPED_CHAR", "OPEN", "CLOSE", "NAME", "PATTERN", "CHAR", "END"}

type lexToken struct {
	kind  lexKind
	index int
	value []uint16
	// undef marks the ESCAPED_CHAR of a trailing backslash, whose value is
	// undefined in the JavaScript (falsy, so the parser drops it).
	undef bool
}

// syntaxError is a TypeError thrown by path-to-regexp; msg is its message.
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

func u16(s string) []uint16 { return utf16.Encode([]rune(s)) }
func str(u []uint16) string { return string(utf16.Decode(u)) }

func isNameChar(c uint16) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_'
}

// lexPath is path-to-regexp's lexer (function `_` in the vendored copy).
func lexPath(r []uint16) ([]lexToken, error) {
	var toks []lexToken
	e := 0
	for e < len(r) {
		a := r[e]
		switch a {
		case '*', '+', '?':
			toks = append(toks, lexToken{kind: lexModifier, index: e, value: r[e : e+1]})
			e++
			continue
		case '\\':
			t := lexToken{kind: lexEscapedChar, index: e}
			e++
			if e < len(r) {
				t.value = r[e : e+1]
			} else {
				t.undef = true
			}
			e++
			toks = append(toks, t)
			continue
		case '{':
			toks = append(toks, lexToken{kind: lexOpen, index: e, value: r[e : e+1]})
			e++
			continue
		case '}':
			toks = append(toks, lexToken{kind: lexClose, index: e, value: r[e : e+1]})
			e++
			continue
		case ':':
			t := e + 1
			for t < len(r) && isNameChar(r[t]) {
				t++
			}
			if t == e+1 {
				return nil, &syntaxError{fmt.Sprintf("Missing parameter name at %d", e)}
			}
			toks = append(toks, lexToken{kind: lexName, index: e, value: r[e+1 : t]})
			e = t
			continue
		case '(':
			depth := 1
			var m []uint16
			t := e + 1
			if t < len(r) && r[t] == '?' {
				return nil, &syntaxError{fmt.Sprintf("Pattern cannot start with \"?\" at %d", t)}
			}
			for t < len(r) {
				if r[t] == '\\' {
					if t+1 >= len(r) {
						// The JavaScript appends "undefined" and runs off the
						// end; the group is then unbalanced.
						m = append(m, r[t])
						t = len(r) + 1
						break
					}
					m = append(m, r[t], r[t+1])
					t += 2
					continue
				}
				if r[t] == ')' {
					depth--
					if depth == 0 {
						t++
						break
					}
				} else if r[t] == '(' {
					depth++
					if t+1 >= len(r) || r[t+1] != '?' {
						return nil, &syntaxError{fmt.Sprintf("Capturing groups are not allowed at %d", t)}
					}
				}
				m = append(m, r[t])
				t++
			}
			if depth != 0 {
				return nil, &syntaxError{fmt.Sprintf("Unbalanced pattern at %d", e)}
			}
			if len(m) == 0 {
				return nil, &syntaxError{fmt.Sprintf("Missing pattern at %d", e)}
			}
			toks = append(toks, lexToken{kind: lexPattern, index: e, value: m})
			e = t
			continue
		}
		toks = append(toks, lexToken{kind: lexChar, index: e, value: r[e : e+1]})
		e++
	}
	return append(toks, lexToken{kind: lexEnd, index: e}), nil
}

// pathToken is one element of path-to-regexp's parse result: literal text
// (isText) or a key (a parameter, or a `{…}` group without one).
type pathToken struct {
	isText   bool
	text     []uint16
	name     string // the key's name; numbered keys are "0", "1", …
	hasName  bool   // false for a `{…}` group with neither a name nor a pattern
	prefix   []uint16
	suffix   []uint16
	pattern  string // JavaScript regexp source of the key ("" for none)
	modifier string
	// lookaheadText is set when path-to-regexp's default pattern for the key
	// is `(?:(?!text)[^\/#\?])+?`, a negative lookahead on the text before it.
	lookaheadText []uint16
	builtin       bool // pattern was made by path-to-regexp, not written by the user
}

// parsePath is path-to-regexp's `parse` (function `F`).
func parsePath(r []uint16) ([]pathToken, error) {
	toks, err := lexPath(r)
	if err != nil {
		return nil, err
	}
	var out []pathToken
	keyIndex := 0
	h := 0
	var p []uint16
	// try is `f`: it consumes the token if it has the kind. ok reports a
	// truthy value (a defined, non-empty string).
	try := func(k lexKind) (v []uint16, ok bool) {
		if h < len(toks) && toks[h].kind == k {
			t := toks[h]
			h++
			return t.value, !t.undef && len(t.value) > 0
		}
		return nil, false
	}
	must := func(k lexKind) error {
		if h < len(toks) && toks[h].kind == k {
			h++
			return nil
		}
		t := toks[h]
		return &syntaxError{fmt.Sprintf("Unexpected %s at %d, expected %s", lexKindNames[t.kind], t.index, lexKindNames[k])}
	}
	consumeText := func() []uint16 {
		var l []uint16
		for {
			v, ok := try(lexChar)
			if !ok {
				v, ok = try(lexEscapedChar)
			}
			if !ok {
				return l
			}
			l = append(l, v...)
		}
	}
	isSafe := func(s []uint16) bool {
		for _, c := range s {
			if strings.ContainsRune(defaultDelimiter, rune(c)) {
				return true
			}
		}
		return false
	}
	// safePattern is `A`: the default pattern of a named key.
	safePattern := func(prefix []uint16) (lookahead []uint16, err error) {
		var prev *pathToken
		if len(out) > 0 {
			prev = &out[len(out)-1]
		}
		e := prefix
		if len(e) == 0 && prev != nil && prev.isText {
			e = prev.text
		}
		if prev != nil && len(e) == 0 {
			return nil, &syntaxError{fmt.Sprintf("Must have text between two parameters, missing text after %q", prev.name)}
		}
		if len(e) == 0 || isSafe(e) {
			return nil, nil
		}
		return e, nil
	}
	nextKey := func() string {
		s := fmt.Sprint(keyIndex)
		keyIndex++
		return s
	}
	for h < len(toks) {
		char, hasChar := try(lexChar)
		name, hasName := try(lexName)
		pat, hasPat := try(lexPattern)
		if hasName || hasPat {
			var prefix []uint16
			if hasChar {
				prefix = char
			}
			if len(prefix) > 0 && !strings.Contains(defaultPrefixes, str(prefix)) {
				p = append(p, prefix...)
				prefix = nil
			}
			if len(p) > 0 {
				out = append(out, pathToken{isText: true, text: p})
				p = nil
			}
			k := pathToken{hasName: true, prefix: prefix}
			if hasName {
				k.name = str(name)
			} else {
				k.name = nextKey()
			}
			if hasPat {
				k.pattern = str(pat)
			} else {
				la, err := safePattern(prefix)
				if err != nil {
					return nil, err
				}
				k.lookaheadText, k.builtin = la, true
			}
			if m, ok := try(lexModifier); ok {
				k.modifier = str(m)
			}
			out = append(out, k)
			continue
		}
		c := char
		ok := hasChar
		if !ok {
			c, ok = try(lexEscapedChar)
		}
		if ok {
			p = append(p, c...)
			continue
		}
		if len(p) > 0 {
			out = append(out, pathToken{isText: true, text: p})
			p = nil
		}
		if _, ok := try(lexOpen); ok {
			prefix := consumeText()
			name, hasName := try(lexName)
			pat, hasPat := try(lexPattern)
			suffix := consumeText()
			if err := must(lexClose); err != nil {
				return nil, err
			}
			k := pathToken{prefix: prefix, suffix: suffix}
			switch {
			case hasName:
				k.name, k.hasName = str(name), true
			case hasPat:
				k.name, k.hasName = nextKey(), true
			}
			if hasName && !hasPat {
				la, err := safePattern(prefix)
				if err != nil {
					return nil, err
				}
				k.lookaheadText, k.builtin = la, true
			} else if hasPat {
				k.pattern = str(pat)
			}
			if m, ok := try(lexModifier); ok {
				k.modifier = str(m)
			}
			out = append(out, k)
			continue
		}
		if err := must(lexEnd); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// key is one capturing group of a compiled pattern, as path-to-regexp's keys
// array holds it.
type key struct {
	name      string
	separator string // prefix+suffix, which splits a repeated value
	repeated  bool   // modifier "*" or "+": the value is an array
}

// UnsupportedError reports a pattern that path-to-regexp accepts but that
// this package refuses because RE2 cannot express it (a lookaround or a
// backreference, for example).
type UnsupportedError struct{ Msg string }

func (e *UnsupportedError) Error() string { return e.Msg }

const defaultKeyClass = `[^/#?]`

// buildRegexp is path-to-regexp's tokensToRegexp (function `U`) for one
// pattern, writing RE2 syntax. It appends the pattern's keys.
func buildRegexp(toks []pathToken, keys []key) (string, []key, error) {
	// path-to-regexp throws "Can not repeat" while it builds the source, and
	// a JavaScript RegExp error only after; check the former first.
	for _, t := range toks {
		if t.isText || t.pattern == "" && !t.builtin {
			continue
		}
		if len(t.prefix) == 0 && len(t.suffix) == 0 && (t.modifier == "+" || t.modifier == "*") {
			return "", nil, &syntaxError{fmt.Sprintf("Can not repeat %q without a prefix and suffix", t.name)}
		}
	}
	var b strings.Builder
	b.WriteString("^")
	for _, t := range toks {
		if t.isText {
			b.WriteString(quote(str(t.text)))
			continue
		}
		R, y := quote(str(t.prefix)), quote(str(t.suffix))
		if t.pattern == "" && !t.builtin {
			b.WriteString("(?:" + R + y + ")" + t.modifier)
			continue
		}
		var pat string
		if t.builtin {
			if t.lookaheadText == nil {
				pat = defaultKeyClass + "+?"
			} else if len(t.lookaheadText) == 1 {
				// (?:(?!c)[^\/#\?])+? is [^\/#\?c]+? (both fold case).
				pat = "[^/#?" + classQuote(rune(t.lookaheadText[0])) + "]+?"
			} else {
				return "", nil, &UnsupportedError{fmt.Sprintf(
					"parameter %q directly follows the text %q: path-to-regexp makes it a negative lookahead on that text, which RE2 cannot express; put a \"/\" before the parameter or give it a custom pattern",
					t.name, str(t.lookaheadText))}
			}
		} else {
			var err error
			pat, err = translateJSRegexp(t.pattern)
			if err != nil {
				return "", nil, err
			}
		}
		keys = append(keys, key{name: t.name, separator: str(t.prefix) + str(t.suffix), repeated: t.modifier == "+" || t.modifier == "*"})
		if R != "" || y != "" {
			if t.modifier == "+" || t.modifier == "*" {
				opt := ""
				if t.modifier == "*" {
					opt = "?"
				}
				b.WriteString("(?:" + R + "((?:" + pat + ")(?:" + y + R + "(?:" + pat + "))*)" + y + ")" + opt)
			} else {
				b.WriteString("(?:" + R + "(" + pat + ")" + y + ")" + t.modifier)
			}
		} else {
			b.WriteString("(" + pat + ")" + t.modifier)
		}
	}
	b.WriteString("[/#?]?$")
	return b.String(), keys, nil
}

// quote escapes literal text for RE2.
func quote(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteString(literal(r))
	}
	return b.String()
}

// classQuote escapes one character for use inside an RE2 character class.
func classQuote(r rune) string { return literal(r) }

func isAlnum(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z'
}

// Patterns is a compiled list of path-to-regexp patterns, matched as
// @clerk/shared's `match(patterns)` matches: one case-insensitive regexp that
// is the alternation of the patterns, against a URL's pathname.
type Patterns struct {
	sources []string
	re      *regexp.Regexp
	keys    []key
}

// PatternError reports a pattern that cannot be compiled. Pattern is the
// offending pattern and Index its position in the list. Err is a
// *SyntaxError when path-to-regexp (or a JavaScript RegExp) refuses the
// pattern too, and an *UnsupportedError when only this package refuses it.
type PatternError struct {
	Pattern string
	Index   int
	Err     error
}

// Error names the pattern and gives the reason.
func (e *PatternError) Error() string {
	return fmt.Sprintf("invalid pattern %q: %v", e.Pattern, e.Err)
}

// Unwrap returns the reason.
func (e *PatternError) Unwrap() error { return e.Err }

// SyntaxError is a pattern that path-to-regexp 6.x refuses; Msg is the
// message of the TypeError it throws (for example "Unexpected MODIFIER at 6,
// expected END"), which Clerk wraps in "Invalid pattern …: Error: Invalid path
// and options: …".
type SyntaxError struct{ Msg string }

// Error returns path-to-regexp's message.
func (e *SyntaxError) Error() string { return e.Msg }

// CompilePatterns compiles patterns as @clerk/shared's `match(patterns)` does
// with default options. An empty list yields nil and no error (Clerk's
// OrganizationMatcher skips a missing list).
func CompilePatterns(patterns []string) (*Patterns, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	var keys []key
	alts := make([]string, 0, len(patterns))
	for i, p := range patterns {
		if strings.ContainsAny(p, "\u017f\u212a") {
			return nil, &PatternError{p, i, &UnsupportedError{
				"the characters U+017F and U+212A are not supported (RE2 folds them to ASCII letters, JavaScript does not)"}}
		}
		toks, err := parsePath(u16(p))
		if err == nil {
			var src string
			src, keys, err = buildRegexp(toks, keys)
			if err == nil {
				if _, cerr := regexp.Compile("(?i)" + src); cerr != nil {
					err = &UnsupportedError{fmt.Sprintf("RE2 refuses the pattern: %v", cerr)}
				}
				alts = append(alts, src)
			}
		}
		if err != nil {
			if se, ok := err.(*syntaxError); ok {
				err = &SyntaxError{se.msg}
			}
			return nil, &PatternError{p, i, err}
		}
	}
	re, err := regexp.Compile("(?i)(?:" + strings.Join(alts, "|") + ")")
	if err != nil {
		return nil, &PatternError{strings.Join(patterns, ","), 0, &UnsupportedError{fmt.Sprintf("RE2 refuses the patterns: %v", err)}}
	}
	return &Patterns{sources: append([]string(nil), patterns...), re: re, keys: keys}, nil
}

// Value is a matched parameter: a string, or for a parameter with the
// modifier "*" or "+" (`:slug+`) a list of strings. Values are the raw
// pathname text; percent-encoding is not decoded.
type Value struct {
	// Str is the value of a single parameter.
	Str string
	// List is the value of a repeated parameter, split on its prefix and
	// suffix (path-to-regexp's `split(prefix + suffix)`).
	List []string
	// IsList reports a repeated parameter.
	IsList bool
}

// Truthy reports whether JavaScript would find the value truthy: a non-empty
// string, or any array.
func (v Value) Truthy() bool { return v.IsList || v.Str != "" }

// String renders the value as JavaScript's String() does (an array is joined
// with ",").
func (v Value) String() string {
	if v.IsList {
		return strings.Join(v.List, ",")
	}
	return v.Str
}

// Params maps parameter names (numbered ones are "0", "1", …) to their values.
// A parameter that did not take part in the match is absent.
type Params map[string]Value

// Match reports whether pathname matches one of the patterns and, if it does,
// the params of the first matching pattern, as the function returned by
// path-to-regexp's `match` does. pathname is a URL's pathname (no query
// string, still percent-encoded). A nil *Patterns matches nothing.
func (p *Patterns) Match(pathname string) (Params, bool) {
	if p == nil {
		return nil, false
	}
	m := p.re.FindStringSubmatchIndex(pathname)
	if m == nil {
		return nil, false
	}
	params := Params{}
	for w := 1; w < len(m)/2; w++ {
		if m[2*w] < 0 {
			continue
		}
		v := pathname[m[2*w]:m[2*w+1]]
		k := p.keys[w-1]
		if k.repeated {
			params[k.name] = Value{List: strings.Split(v, k.separator), IsList: true}
		} else {
			params[k.name] = Value{Str: v}
		}
	}
	return params, true
}

// Sources returns the patterns as they were given.
func (p *Patterns) Sources() []string {
	if p == nil {
		return nil
	}
	return append([]string(nil), p.sources...)
}
