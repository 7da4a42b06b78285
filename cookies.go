package clerkauth

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/clerk-edge/clerk_auth/internal/jsparse"
)

// cookieJar is the request's cookies, parsed as @clerk/backend parses them
// (the npm cookie package 1.1.1): the first of a name wins, values are
// percent-decoded when they decode. A request's few cookies are kept in
// place, in order, and found by a linear search: no map to build on every
// request, and no allocation unless a request sends more than fit.
type cookieJar struct {
	n     int
	pairs [16]cookiePair
	more  []cookiePair
}

type cookiePair struct{ name, value string }

// get is the value of the first cookie called name, percent-decoded when
// it decodes (only the values asked for are decoded).
func (j *cookieJar) get(name string) (string, bool) {
	for i := 0; i < j.n; i++ {
		if j.pairs[i].name == name {
			return decodeCookieValue(j.pairs[i].value), true
		}
	}
	for _, p := range j.more {
		if p.name == name {
			return decodeCookieValue(p.value), true
		}
	}
	return "", false
}

func (j *cookieJar) add(name, value string) {
	if j.n < len(j.pairs) {
		j.pairs[j.n] = cookiePair{name, value}
		j.n++
		return
	}
	j.more = append(j.more, cookiePair{name, value})
}

// parseCookies reads every Cookie header into j. Several headers (HTTP/2
// sends one per cookie) are read as one, joined by "; ".
func parseCookies(j *cookieJar, h http.Header) {
	lines := h["Cookie"]
	switch len(lines) {
	case 0:
	case 1:
		parseCookieHeader(j, lines[0])
	default:
		parseCookieHeader(j, strings.Join(lines, "; "))
	}
}

func parseCookieHeader(j *cookieJar, str string) {
	n := len(str)
	if n < 2 {
		return
	}
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
		// Every pair is kept; get finds the first of a name, as the first
		// wins. Not checking for a repeat here keeps a header of thousands
		// of tiny cookies linear.
		j.add(trimSpaceTab(str[index:eq]), trimSpaceTab(str[eq+1:end]))
		index = end + 1
	}
}

func trimSpaceTab(s string) string {
	return jsparse.TrimBytes(s, func(c byte) bool { return c == ' ' || c == '\t' })
}

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
