package clerkauth

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jsonKind is the JSON type of a member, as JavaScript's typeof would tell
// them apart: a claim of the wrong type must be seen as such, never as a zero
// value that passes.
type jsonKind uint8

const (
	jsonAbsent jsonKind = iota
	jsonNull
	jsonFalse
	jsonTrue
	jsonNumber
	jsonString
	jsonObject
	jsonArray
)

// jsonValue is one member read by readMembers. str is the unescaped string
// of a jsonString, or the raw text of a jsonObject (to read its members).
type jsonValue struct {
	str  string
	num  float64
	kind jsonKind
}

func (v jsonValue) present() bool { return v.kind != jsonAbsent }

// asString is the value when it is a string, else "".
func (v jsonValue) asString() string {
	if v.kind == jsonString {
		return v.str
	}
	return ""
}

// truthy is JavaScript's Boolean(v).
func (v jsonValue) truthy() bool {
	switch v.kind {
	case jsonAbsent, jsonNull, jsonFalse:
		return false
	case jsonNumber:
		return v.num != 0
	case jsonString:
		return v.str != ""
	}
	return true
}

var errJSONNumber = errors.New("number out of range")

// readMembers reads the members named in names from s, which must be valid
// JSON (json.Valid): out[i] receives the last value of names[i], as
// JSON.parse keeps the last of duplicate keys. A top-level value that is not
// an object has no members. It fails where encoding/json would fail to
// decode s into an interface (a number beyond float64), for every number in
// s when checkAll is set, else only within the named members.
func readMembers(s string, names []string, out []jsonValue, checkAll bool) error {
	i := skipSpace(s, 0)
	if i >= len(s) {
		return nil
	}
	if s[i] != '{' {
		_, err := skipValue(s, i, checkAll)
		return err
	}
	i = skipSpace(s, i+1)
	if s[i] == '}' {
		return nil
	}
	for {
		end := stringEnd(s, i)
		key := unquote(s[i:end])
		i = skipSpace(s, end)
		i = skipSpace(s, i+1) // ':'
		slot := -1
		for n, name := range names {
			if name == key {
				slot = n
				break
			}
		}
		var err error
		if slot >= 0 {
			out[slot], i, err = readValue(s, i)
		} else {
			i, err = skipValue(s, i, checkAll)
		}
		if err != nil {
			return err
		}
		i = skipSpace(s, i)
		if s[i] == '}' {
			return nil
		}
		i = skipSpace(s, i+1) // ','
	}
}

// readValue reads the value at s[i:] and returns the index after it.
func readValue(s string, i int) (jsonValue, int, error) {
	switch c := s[i]; {
	case c == '"':
		end := stringEnd(s, i)
		return jsonValue{kind: jsonString, str: unquote(s[i:end])}, end, nil
	case c == '{':
		end, err := skipValue(s, i, true)
		return jsonValue{kind: jsonObject, str: s[i:end]}, end, err
	case c == '[':
		end, err := skipValue(s, i, true)
		return jsonValue{kind: jsonArray}, end, err
	case c == 't':
		return jsonValue{kind: jsonTrue}, i + 4, nil
	case c == 'f':
		return jsonValue{kind: jsonFalse}, i + 5, nil
	case c == 'n':
		return jsonValue{kind: jsonNull}, i + 4, nil
	default:
		end := numberEnd(s, i)
		f, err := strconv.ParseFloat(s[i:end], 64)
		if err != nil {
			return jsonValue{}, end, errJSONNumber
		}
		return jsonValue{kind: jsonNumber, num: f}, end, nil
	}
}

// skipValue returns the index after the value at s[i:], checking the range
// of every number in it when checkNums is set.
func skipValue(s string, i int, checkNums bool) (int, error) {
	depth := 0
	for {
		i = skipSpace(s, i)
		switch c := s[i]; {
		case c == '"':
			i = stringEnd(s, i)
		case c == '{' || c == '[':
			depth++
			i++
			continue
		case c == '}' || c == ']':
			depth--
			i++
		case c == ',' || c == ':':
			i++
			continue
		case c == 't' || c == 'n':
			i += 4
		case c == 'f':
			i += 5
		default:
			end := numberEnd(s, i)
			if checkNums {
				if _, err := strconv.ParseFloat(s[i:end], 64); err != nil {
					return end, errJSONNumber
				}
			}
			i = end
		}
		if depth == 0 {
			return i, nil
		}
	}
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the string literal starting at s[i].
func stringEnd(s string, i int) int {
	for i++; ; i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
}

func numberEnd(s string, i int) int {
	for i < len(s) && strings.IndexByte("+-.0123456789eE", s[i]) >= 0 {
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
