package orgsync

import (
	"fmt"
	"strings"
)

// translateJSRegexp rewrites the source of a custom parameter pattern, such as
// the `org_[a-zA-Z0-9]+` of `:id(org_[a-zA-Z0-9]+)`, from JavaScript regexp
// syntax (no `u` flag, with the `i` flag path-to-regexp sets) to RE2 syntax
// with the same meaning. What RE2 cannot express, or what is ambiguous between
// the two, is refused with an *UnsupportedError.
func translateJSRegexp(src string) (string, error) {
	rs := []rune(src)
	var b strings.Builder
	unsupported := func(format string, a ...any) error {
		return &UnsupportedError{fmt.Sprintf("custom pattern %q: ", src) + fmt.Sprintf(format, a...)}
	}
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch c {
		case '\\':
			if i+1 >= len(rs) {
				return "", unsupported(`\ at end of pattern`)
			}
			i++
			s, n, err := translateEscape(rs[i:], false)
			if err != nil {
				return "", unsupported("%v", err)
			}
			b.WriteString(s)
			i += n - 1
		case '(':
			rest := string(rs[i+1:])
			switch {
			case strings.HasPrefix(rest, "?:"):
				b.WriteString("(?:")
				i += 2
			case strings.HasPrefix(rest, "?="), strings.HasPrefix(rest, "?!"),
				strings.HasPrefix(rest, "?<="), strings.HasPrefix(rest, "?<!"):
				return "", unsupported("lookahead and lookbehind assertions are not supported by RE2")
			case strings.HasPrefix(rest, "?<"):
				return "", unsupported("named groups are not supported (a capturing group inside a parameter shifts path-to-regexp's parameters)")
			default:
				return "", unsupported("unsupported group syntax")
			}
		case '[':
			s, n, err := translateClass(rs[i:])
			if err != nil {
				return "", unsupported("%v", err)
			}
			b.WriteString(s)
			i += n - 1
		case '.':
			// JavaScript's dot excludes all four line terminators.
			b.WriteString(`[^\n\r\x{2028}\x{2029}]`)
		case '{':
			if n := quantifierLen(rs[i:]); n > 0 {
				b.WriteString(string(rs[i : i+n]))
				i += n - 1
			} else {
				b.WriteString(`\{`) // Annex B: a brace that is no quantifier is literal
			}
		case '}', ']':
			b.WriteString(`\` + string(c))
		case '*', '+', '?', '|', '^', '$', ')':
			b.WriteRune(c)
		default:
			b.WriteString(literal(c))
		}
	}
	return b.String(), nil
}

// quantifierLen is the length of a `{n}`, `{n,}` or `{n,m}` quantifier at the
// start of rs, or 0.
func quantifierLen(rs []rune) int {
	i := 1
	digits := func() int {
		j := i
		for i < len(rs) && rs[i] >= '0' && rs[i] <= '9' {
			i++
		}
		return i - j
	}
	if digits() == 0 {
		return 0
	}
	if i < len(rs) && rs[i] == ',' {
		i++
		digits()
	}
	if i < len(rs) && rs[i] == '}' {
		return i + 1
	}
	return 0
}

// literal escapes one character for RE2, inside or outside a class.
func literal(c rune) string {
	switch {
	case isAlnum(c) || c == '_':
		return string(c)
	case c > ' ' && c < 0x7f:
		return `\` + string(c)
	}
	return fmt.Sprintf(`\x{%x}`, c)
}

// jsSpace is JavaScript's \s: WhiteSpace and LineTerminator.
const jsSpace = `\t\n\v\f\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}`

// translateEscape translates the escape whose character (after the backslash)
// starts rs. It returns the RE2 text and how many runes it used.
func translateEscape(rs []rune, inClass bool) (string, int, error) {
	c := rs[0]
	switch c {
	case 'd', 'D', 'w', 'W', 't', 'n', 'r', 'f', 'v':
		return `\` + string(c), 1, nil
	case 'b', 'B':
		if inClass {
			if c == 'b' {
				return `\x08`, 1, nil // backspace inside a class
			}
			return "", 0, fmt.Errorf(`\B inside a character class is not supported`)
		}
		return `\` + string(c), 1, nil
	case 's':
		if inClass {
			return jsSpace, 1, nil
		}
		return "[" + jsSpace + "]", 1, nil
	case 'S':
		if inClass {
			return "", 0, fmt.Errorf(`\S inside a character class is not supported`)
		}
		return "[^" + jsSpace + "]", 1, nil
	case '0':
		if len(rs) > 1 && rs[1] >= '0' && rs[1] <= '9' {
			return "", 0, fmt.Errorf("octal escapes are not supported")
		}
		return `\x00`, 1, nil
	case '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return "", 0, fmt.Errorf("backreferences (and octal escapes) are not supported by RE2")
	case 'x':
		if len(rs) >= 3 && isHex(rs[1]) && isHex(rs[2]) {
			return `\x` + string(rs[1:3]), 3, nil
		}
		return "", 0, fmt.Errorf(`\x must be followed by two hex digits`)
	case 'u':
		if len(rs) >= 5 && isHex(rs[1]) && isHex(rs[2]) && isHex(rs[3]) && isHex(rs[4]) {
			return `\x{` + string(rs[1:5]) + `}`, 5, nil
		}
		return "", 0, fmt.Errorf(`\u must be followed by four hex digits`)
	case 'c':
		if len(rs) >= 2 && (rs[1] >= 'a' && rs[1] <= 'z' || rs[1] >= 'A' && rs[1] <= 'Z') {
			return fmt.Sprintf(`\x{%x}`, rs[1]%32), 2, nil
		}
		return "", 0, fmt.Errorf(`\c must be followed by a letter`)
	}
	if c < 0x80 && !isAlnum(c) && c != '_' {
		return `\` + string(c), 1, nil // an escaped syntax character
	}
	if c >= 0x80 {
		return literal(c), 1, nil
	}
	return "", 0, fmt.Errorf(`the escape \%c is not supported`, c)
}

func isHex(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F'
}

// classAtom is one element of a character class: a single character (char)
// or a class escape such as \d (text).
type classAtom struct {
	isChar bool
	char   rune
	text   string
}

// translateClass translates the character class starting at rs[0] == '['.
// A "-" between two single characters is a range; next to a class escape it
// is a literal "-" (Annex B), as at either end.
func translateClass(rs []rune) (string, int, error) {
	i := 1
	neg := false
	if i < len(rs) && rs[i] == '^' {
		neg = true
		i++
	}
	if i < len(rs) && rs[i] == ']' {
		// JavaScript's [] matches nothing and [^] matches anything.
		if neg {
			return `[\x00-\x{10ffff}]`, i + 1, nil
		}
		return `[^\x00-\x{10ffff}]`, i + 1, nil
	}
	var atoms []classAtom
	closed := false
	for i < len(rs) {
		c := rs[i]
		if c == ']' {
			closed = true
			i++
			break
		}
		if c != '\\' {
			atoms = append(atoms, classAtom{isChar: true, char: c})
			i++
			continue
		}
		if i+1 >= len(rs) {
			break
		}
		e := rs[i+1]
		switch {
		case e == 'b':
			atoms = append(atoms, classAtom{isChar: true, char: 8})
			i += 2
		case e == '-':
			atoms = append(atoms, classAtom{isChar: true, char: '-'})
			i += 2
		case e == '0' && !(i+2 < len(rs) && rs[i+2] >= '0' && rs[i+2] <= '9'):
			atoms = append(atoms, classAtom{isChar: true, char: 0})
			i += 2
		case e == 'x' && i+3 < len(rs) && isHex(rs[i+2]) && isHex(rs[i+3]):
			atoms = append(atoms, classAtom{isChar: true, char: hexVal(rs[i+2 : i+4])})
			i += 4
		case e == 'u' && i+5 < len(rs) && isHex(rs[i+2]) && isHex(rs[i+3]) && isHex(rs[i+4]) && isHex(rs[i+5]):
			atoms = append(atoms, classAtom{isChar: true, char: hexVal(rs[i+2 : i+6])})
			i += 6
		case e == 't' || e == 'n' || e == 'r' || e == 'f' || e == 'v':
			atoms = append(atoms, classAtom{isChar: true, char: map[rune]rune{'t': 9, 'n': 10, 'r': 13, 'f': 12, 'v': 11}[e]})
			i += 2
		case e == 'c' && i+2 < len(rs) && (rs[i+2] >= 'a' && rs[i+2] <= 'z' || rs[i+2] >= 'A' && rs[i+2] <= 'Z'):
			atoms = append(atoms, classAtom{isChar: true, char: rs[i+2] % 32})
			i += 3
		case e < 0x80 && !isAlnum(e) && e != '_' || e >= 0x80:
			atoms = append(atoms, classAtom{isChar: true, char: e})
			i += 2
		default:
			s, n, err := translateEscape(rs[i+1:], true)
			if err != nil {
				return "", 0, err
			}
			atoms = append(atoms, classAtom{text: s})
			i += 1 + n
		}
	}
	if !closed {
		return "", 0, fmt.Errorf("unterminated character class")
	}
	var b strings.Builder
	b.WriteString("[")
	if neg {
		b.WriteString("^")
	}
	for j := 0; j < len(atoms); j++ {
		a := atoms[j]
		if a.isChar && j+2 < len(atoms) && atoms[j+1].isChar && atoms[j+1].char == '-' && atoms[j+2].isChar {
			lo, hi := a.char, atoms[j+2].char
			if lo > hi {
				return "", 0, fmt.Errorf("range out of order in character class")
			}
			b.WriteString(classQuote(lo) + "-" + classQuote(hi))
			j += 2
			continue
		}
		if a.isChar {
			b.WriteString(classQuote(a.char))
		} else {
			b.WriteString(a.text)
		}
	}
	b.WriteString("]")
	return b.String(), i, nil
}

func hexVal(rs []rune) rune {
	var v rune
	for _, r := range rs {
		v <<= 4
		switch {
		case r >= '0' && r <= '9':
			v |= r - '0'
		case r >= 'a' && r <= 'f':
			v |= r - 'a' + 10
		default:
			v |= r - 'A' + 10
		}
	}
	return v
}
