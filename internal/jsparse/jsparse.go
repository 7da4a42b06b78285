// Package jsparse parses text as JavaScript does, where Clerk's SDK leans on
// JavaScript's own parsing: parseInt, Number, String.prototype.trim and
// Date's millisecond range. A value Go would read differently must be read
// as Clerk reads it, or the two would decide differently on the same input.
package jsparse

import (
	"math"
	"strconv"
	"strings"
	"unicode"
)

// ParseInt is JavaScript's parseInt(s) without a radix: leading white
// space, a sign, "0x" for hex, then as many digits as there are. NaN is
// reported as ok=false.
func ParseInt(s string) (float64, bool) {
	s = strings.TrimLeft(s, " \t\n\r\v\f")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	base := 10
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		base = 16
		s = s[2:]
	}
	end := 0
	for end < len(s) && isDigitOfBase(s[end], base) {
		end++
	}
	if end == 0 {
		return 0, false
	}
	var v float64
	if u, err := strconv.ParseUint(s[:end], base, 64); err == nil {
		v = float64(u)
	} else {
		for _, c := range s[:end] {
			v = v*float64(base) + float64(digitValue(byte(c)))
		}
	}
	if neg {
		v = -v
	}
	return v, true
}

func isDigitOfBase(c byte, base int) bool {
	d := digitValue(c)
	return d >= 0 && d < base
}

func digitValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// Number is JavaScript's Number(s) for the redirect counter: white space
// trimmed, empty is 0, anything unparsable is NaN (ok=false).
func Number(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, true
	}
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		u, err := strconv.ParseUint(s[2:], 16, 64)
		return float64(u), err == nil
	}
	if strings.ContainsAny(s, "_") || strings.EqualFold(s, "inf") || strings.EqualFold(s, "+inf") || strings.EqualFold(s, "-inf") || strings.EqualFold(s, "nan") {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// isPlainASCII is a byte that is neither white space nor part of a
// multi-byte character: one that trimming stops at.
func isPlainASCII(c byte) bool { return c > ' ' && c < 0x7f }

// Trim is String.prototype.trim: JavaScript's white space and line
// terminators, which differ from Go's unicode.IsSpace (U+FEFF is one, U+0085
// is not).
func Trim(s string) string {
	if s == "" || isPlainASCII(s[0]) && isPlainASCII(s[len(s)-1]) {
		return s
	}
	return strings.TrimFunc(s, func(r rune) bool {
		switch r {
		case '\t', '\n', '\v', '\f', '\r', '\uFEFF', '\u2028', '\u2029':
			return true
		}
		return unicode.Is(unicode.Zs, r)
	})
}

// DateMs is what `new Date(0).setUTCSeconds(s)` gives in milliseconds: the
// seconds truncated toward zero, and no valid time beyond ±8.64e15 ms (then
// every comparison with it is false in JavaScript).
func DateMs(seconds float64) (float64, bool) {
	ms := math.Trunc(seconds) * 1000
	if math.IsNaN(ms) || math.Abs(ms) > 8.64e15 {
		return 0, false
	}
	return ms, true
}

// TrimBytes removes the leading and trailing bytes cut says to: by hand,
// because strings.Trim builds its character set on every call, and these
// run on every request.
func TrimBytes(s string, cut func(byte) bool) string {
	for s != "" && cut(s[0]) {
		s = s[1:]
	}
	for s != "" && cut(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// Truthy is JavaScript's truthiness of a value decoded by encoding/json:
// false for null, false, 0, NaN and "", true for everything else (objects
// and arrays, even empty).
func Truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0 && !math.IsNaN(x)
	case string:
		return x != ""
	}
	return true
}
