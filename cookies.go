package clerkauth

import (
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// cookieJar is the request's cookies, parsed as @clerk/backend parses them
// (the npm cookie package 1.1.1): the first of a name wins, values are
// percent-decoded when they decode.
type cookieJar map[string]string

// parseCookies reads every Cookie header. Several headers (HTTP/2 sends one
// per cookie) are read as one, joined by "; ".
func parseCookies(h http.Header) cookieJar {
	lines := h["Cookie"]
	switch len(lines) {
	case 0:
		return nil
	case 1:
		return parseCookieHeader(lines[0])
	default:
		return parseCookieHeader(strings.Join(lines, "; "))
	}
}

func parseCookieHeader(str string) cookieJar {
	n := len(str)
	if n < 2 {
		return nil
	}
	jar := cookieJar{}
	index := 0
	for index < n {
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
			// The '=' belongs to a later pair: resume after the last ';'
			// before it.
			index = strings.LastIndexByte(str[:eq], ';') + 1
			continue
		}
		key := trimSpaceTab(str[index:eq])
		if _, seen := jar[key]; !seen {
			jar[key] = decodeCookieValue(trimSpaceTab(str[eq+1 : end]))
		}
		index = end + 1
	}
	return jar
}

func trimSpaceTab(s string) string { return strings.Trim(s, " \t") }

// decodeCookieValue is decodeURIComponent, keeping the raw value when it
// does not decode.
func decodeCookieValue(v string) string {
	if !strings.Contains(v, "%") {
		return v
	}
	d, err := url.PathUnescape(v)
	if err != nil || !utf8.ValidString(d) {
		return v
	}
	return d
}

// jsParseInt is JavaScript's parseInt(s) without a radix: leading white
// space, a sign, "0x" for hex, then as many digits as there are. NaN is
// reported as ok=false.
func jsParseInt(s string) (float64, bool) {
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

// jsNumber is JavaScript's Number(s) for the redirect counter: white space
// trimmed, empty is 0, anything unparsable is NaN (ok=false).
func jsNumber(s string) (float64, bool) {
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
