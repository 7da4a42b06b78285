package jsonscan

import (
	"encoding/json"
	"errors"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind is the JSON type of a member, as JavaScript's typeof would tell
// them apart: a claim of the wrong type must be seen as such, never as a zero
// value that passes.
type Kind uint8

const (
	Absent Kind = iota
	Null
	False
	True
	Number
	String
	Object
	Array
)

// Value is one member read by ReadMembers. str is the unescaped string
// of a jsonString, or the raw text of a jsonObject (to read its members) or
// of a jsonArray (to decode it when a check needs its elements).
type Value struct {
	Str  string
	Num  float64
	Kind Kind
}

// Present tells whether the member was there, whatever its value.
func (v Value) Present() bool { return v.Kind != Absent }

// AsString is the value when it is a string, else "".
func (v Value) AsString() string {
	if v.Kind == String {
		return v.Str
	}
	return ""
}

// Truthy is JavaScript's Boolean(v).
func (v Value) Truthy() bool {
	switch v.Kind {
	case Absent, Null, False:
		return false
	case Number:
		return v.Num != 0
	case String:
		return v.Str != ""
	}
	return true
}

var (
	errJSONNumber = errors.New("number out of range")
	errJSONSyntax = errors.New("invalid JSON")
)

// maxJSONDepth is encoding/json's nesting limit, kept so that what
// json.Valid refused stays refused (a 16 KiB token cannot reach it).
const maxJSONDepth = 10000

// ReadMembers reads the members named in names from s in one pass that also
// checks s is JSON as json.Valid would: out[i] receives the last value of
// names[i], as JSON.parse keeps the last of duplicate keys. A top-level value
// that is not an object has no members. It also fails where encoding/json
// would fail to decode s into an interface (a number beyond float64), for
// every number in s when checkAll is set, else only within the named members.
func ReadMembers(s string, names *Names, out []Value, checkAll bool) error {
	p := jsonScanner{s: s, checkNums: checkAll}
	p.skipSpace()
	if p.i >= len(p.s) {
		return errJSONSyntax
	}
	var err error
	if p.s[p.i] == '{' {
		err = p.object(names, out)
	} else {
		err = p.skipValue()
	}
	if err != nil {
		return err
	}
	if p.skipSpace(); p.i != len(p.s) {
		return errJSONSyntax
	}
	return nil
}

// Names are the names ReadMembers looks for, indexed by first byte:
// most keys of a payload are compared with one name or none.
type Names struct {
	names   []string
	byFirst [256]uint32 // bit n: names[n] starts with this byte
}

// NewNames indexes names, at most 32, for ReadMembers.
func NewNames(names []string) *Names {
	if len(names) > 32 {
		panic("Names: more than 32 names")
	}
	m := &Names{names: names}
	for n, name := range names {
		m.byFirst[name[0]] |= 1 << n
	}
	return m
}

// slot is the index of key among the names, or -1.
func (m *Names) slot(key string) int {
	if m == nil || key == "" {
		return -1
	}
	for set := m.byFirst[key[0]]; set != 0; set &= set - 1 {
		if n := bits.TrailingZeros32(set); m.names[n] == key {
			return n
		}
	}
	return -1
}

// jsonScanner walks JSON text, checking its grammar as it goes.
type jsonScanner struct {
	s         string
	i         int
	depth     int
	checkNums bool
}

// object checks the object at s[i] and moves past it, reading the members
// named in names into out (names nil: none).
func (p *jsonScanner) object(names *Names, out []Value) error {
	if empty, err := p.open('}'); empty || err != nil {
		return err
	}
	for {
		if p.peek() != '"' {
			return errJSONSyntax
		}
		key, err := p.stringValue()
		if err != nil {
			return err
		}
		if p.skipSpace(); p.peek() != ':' {
			return errJSONSyntax
		}
		p.i++
		p.skipSpace()
		if slot := names.slot(key); slot >= 0 {
			v, err := p.readValue()
			if err != nil {
				return err
			}
			out[slot] = v
		} else if err := p.skipValue(); err != nil {
			return err
		}
		if closed, err := p.afterElement('}'); closed || err != nil {
			return err
		}
	}
}

// readValue reads a named member's value. Numbers anywhere in it are
// checked for range.
func (p *jsonScanner) readValue() (Value, error) {
	start := p.i
	switch p.peek() {
	case '"':
		str, err := p.stringValue()
		return Value{Kind: String, Str: str}, err
	case '{', '[':
		all := p.checkNums
		p.checkNums = true
		err := p.skipValue()
		p.checkNums = all
		if p.s[start] == '[' {
			return Value{Kind: Array, Str: p.s[start:p.i]}, err
		}
		return Value{Kind: Object, Str: p.s[start:p.i]}, err
	case 't':
		return Value{Kind: True}, p.literal("true")
	case 'f':
		return Value{Kind: False}, p.literal("false")
	case 'n':
		return Value{Kind: Null}, p.literal("null")
	}
	if err := p.skipNumber(); err != nil {
		return Value{}, err
	}
	f, err := parseNumber(p.s[start:p.i])
	return Value{Kind: Number, Num: f}, err
}

// parseNumber is strconv.ParseFloat of a JSON number, with a fast path for
// the integers that time claims are: up to 15 digits is exact in a float64.
func parseNumber(text string) (float64, error) {
	digits := text
	if digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) <= 15 {
		var n int64
		for i := 0; i < len(digits); i++ {
			c := digits[i]
			if c < '0' || c > '9' {
				goto general
			}
			n = n*10 + int64(c-'0')
		}
		if text[0] == '-' {
			// -0 is negative zero, as ParseFloat gives it.
			return -float64(n), nil
		}
		return float64(n), nil
	}
general:
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return 0, errJSONNumber
	}
	return f, nil
}

// skipValue checks the value at s[i] and moves past it.
func (p *jsonScanner) skipValue() error {
	switch p.peek() {
	case '"':
		return p.skipString()
	case '{':
		return p.skipObject()
	case '[':
		return p.skipArray()
	case 't':
		return p.literal("true")
	case 'f':
		return p.literal("false")
	case 'n':
		return p.literal("null")
	}
	start := p.i
	if err := p.skipNumber(); err != nil {
		return err
	}
	if p.checkNums {
		if _, err := parseNumber(p.s[start:p.i]); err != nil {
			return err
		}
	}
	return nil
}

func (p *jsonScanner) skipObject() error { return p.object(nil, nil) }

func (p *jsonScanner) skipArray() error {
	if empty, err := p.open(']'); empty || err != nil {
		return err
	}
	for {
		if err := p.skipValue(); err != nil {
			return err
		}
		if closed, err := p.afterElement(']'); closed || err != nil {
			return err
		}
	}
}

// open enters the object or array at s[i], which ends with end, counting
// it toward the nesting limit, and reports whether it is empty (then it has
// been left again).
func (p *jsonScanner) open(end byte) (empty bool, err error) {
	if p.depth++; p.depth > maxJSONDepth {
		return false, errJSONSyntax
	}
	p.i++ // '{' or '['
	if p.skipSpace(); p.peek() == end {
		p.i++
		p.depth--
		return true, nil
	}
	return false, nil
}

// afterElement reads what follows a member or element: a comma, or end,
// which closes the object or array (closed is then true).
func (p *jsonScanner) afterElement(end byte) (closed bool, err error) {
	p.skipSpace()
	switch p.peek() {
	case ',':
		p.i++
		p.skipSpace()
		return false, nil
	case end:
		p.i++
		p.depth--
		return true, nil
	}
	return false, errJSONSyntax
}

// peek is the byte at i, or 0 at the end (which no rule accepts).
func (p *jsonScanner) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *jsonScanner) skipSpace() {
	// A token's JSON usually has no white space at all.
	if p.i < len(p.s) && p.s[p.i] > ' ' {
		return
	}
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonScanner) literal(word string) error {
	if !strings.HasPrefix(p.s[p.i:], word) {
		return errJSONSyntax
	}
	p.i += len(word)
	return nil
}

// skipString moves past the string literal at s[i]: no control characters,
// only JSON's escapes. Other bytes, invalid UTF-8 included, are accepted as
// encoding/json accepts them.
func (p *jsonScanner) skipString() error {
	_, err := p.scanString()
	return err
}

// scanString is skipString, also telling whether the literal is plain: no
// escapes and only ASCII, so that its value is the text between the quotes.
func (p *jsonScanner) scanString() (plain bool, err error) {
	s := p.s
	plain = true
	for i := p.i + 1; i < len(s); i++ {
		// Most bytes of a token are plain: skip them in bulk.
		i = plainRun(s, i)
		if i >= len(s) {
			break
		}
		switch c := s[i]; {
		case c == '"':
			p.i = i + 1
			return plain, nil
		case c < 0x20:
			return false, errJSONSyntax
		case c >= 0x80:
			plain = false
		case c == '\\':
			plain = false
			i++
			if i >= len(s) {
				return false, errJSONSyntax
			}
			switch s[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) || !isHex(s[i+3]) || !isHex(s[i+4]) {
					return false, errJSONSyntax
				}
				i += 4
			default:
				return false, errJSONSyntax
			}
		}
	}
	return false, errJSONSyntax
}

// stringValue reads the string literal at s[i].
func (p *jsonScanner) stringValue() (string, error) {
	start := p.i
	plain, err := p.scanString()
	if err != nil {
		return "", err
	}
	if plain {
		return p.s[start+1 : p.i-1], nil
	}
	return unquote(p.s[start:p.i]), nil
}

// plainRun returns the index of the first byte at or after i that
// scanString must look at (a quote, a backslash, a control character or a
// byte of a multi-byte character), or len(s): eight bytes at a time while
// none of them is one, then byte by byte.
func plainRun(s string, i int) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		quote, backslash := x^(lo*'"'), x^(lo*'\\')
		// The high bit of a byte is set by a byte >= 0x80 (x), a byte
		// < 0x20, and a zero byte of quote or backslash (the classic
		// has-less-than and has-zero-byte tests, exact for existence).
		if (x|(x-lo*0x20)&^x|(quote-lo)&^quote|(backslash-lo)&^backslash)&hi != 0 {
			break
		}
	}
	for i < len(s) && !stringSpecial[s[i]] {
		i++
	}
	return i
}

// stringSpecial are the bytes scanString must look at in a string.
var stringSpecial = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// skipNumber moves past -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?.
func (p *jsonScanner) skipNumber() error {
	s, i := p.s, p.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		i = skipDigits(s, i)
	default:
		return errJSONSyntax
	}
	if i < len(s) && s[i] == '.' {
		if j := skipDigits(s, i+1); j > i+1 {
			i = j
		} else {
			return errJSONSyntax
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if j := skipDigits(s, i); j > i {
			i = j
		} else {
			return errJSONSyntax
		}
	}
	p.i = i
	return nil
}

func skipDigits(s string, i int) int {
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}

// unquote decodes a string literal as encoding/json does: the plain case is
// a substring, escapes and invalid UTF-8 (replaced by U+FFFD) go the slow way.
func unquote(lit string) string {
	body := lit[1 : len(lit)-1]
	if strings.IndexByte(body, '\\') < 0 && utf8.ValidString(body) {
		return body
	}
	var out string
	if json.Unmarshal([]byte(lit), &out) != nil {
		return ""
	}
	return out
}

// SkipSpaceAt is the index of the first byte at or after i that is not JSON
// white space.
func SkipSpaceAt(s string, i int) int {
	p := jsonScanner{s: s, i: i}
	p.skipSpace()
	return p.i
}
