package authn

import (
	"cmp"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clerk-edge/clerk_auth/internal/jsparse"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/machine"
	"github.com/clerk-edge/clerk_auth/internal/orgsync"
	"github.com/clerk-edge/clerk_auth/internal/tokencache"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// Request is Clerk's AuthenticateContext: what one request offers.
type Request struct {
	r             *http.Request
	now           time.Time
	clerkURL      url.URL
	query         url.Values
	cookies       cookieJar
	tokenInHeader string

	suffixed       bool
	sessionCookie  string
	clientUAT      float64
	refreshCookie  string
	devBrowser     string
	handshakeToken string
	handshakeNonce string
	redirectCount  float64

	// parsed remembers the tokens decoded for this request, so that the
	// cookie rules and the verification decode a token once.
	parsed [2]parsedToken

	// cookiesLoaded tells whether the cookie-borne values above are set: a
	// request with a header token needs them only when it fails.
	cookiesLoaded bool

	// signedIn is the decision of the signed-in path, kept here so that
	// it costs no allocation of its own.
	signedIn Outcome

	// key is what the last verification of this request learned of its
	// key (verifyRequestSession).
	key KeyUse
	// verified is the token that verification was about.
	verified string

	// machine is a machine JWT verified before (remembered), found when
	// the header token was classified; nil otherwise. Shared, read-only.
	machine *machine.Result
	// jwtHeader and jwtPayload are the header token decoded as Clerk's
	// decodeJwt does, when jwtDecoded (classifyHeaderToken): decoded once
	// for the type and the claim checks.
	jwtHeader, jwtPayload map[string]any
	jwtDecoded            bool

	// orgTarget is what organization_sync finds in the URL, once
	// orgTargetFound (URLOrgTarget, orgsync.go).
	orgTarget      orgsync.Target
	orgTargetFound bool
}

type parsedToken struct {
	token string
	d     *tokencache.Token
	err   *jwt.Error
}

// Init gathers the request's token sources into a
// (createAuthenticateContext in @clerk/backend tokens/authenticateContext.ts).
// clerkURL is Clerk's clerkUrl, the URL the client asked for, which the
// caller works out (forwarded headers count only from a trusted proxy:
// docs/architecture.md, "Decision: forwarded headers"). ServeHTTP keeps a on
// its stack: nothing may keep a pointer into a once the request is answered.
func (e *Engine) Init(a *Request, r *http.Request, now time.Time, clerkURL *url.URL) {
	*a = Request{r: r, now: now, clerkURL: *clerkURL}
	if a.clerkURL.RawQuery != "" {
		// A nil query reads as empty: most requests have none to parse.
		a.query = a.clerkURL.Query()
	}
	a.tokenInHeader = parseAuthorizationHeader(headerValue(r.Header, "Authorization"))
	if a.tokenInHeader == "" {
		e.loadCookieSources(a)
	}
}

// URL is the request's Clerk URL (clerkUrl).
func (a *Request) URL() *url.URL { return &a.clerkURL }

// KeyUse is what the last verification of a learned of its key.
func (a *Request) KeyUse() KeyUse { return a.key }

// loadCookieSources reads the cookie-borne values (the cookie members of
// AuthenticateContext, @clerk/backend tokens/authenticateContext.ts). A header token decides alone when it verifies, so its request reads
// them only on the way to a failure (tokenFailure, maybeHandshake).
func (e *Engine) loadCookieSources(a *Request) {
	if a.cookiesLoaded {
		return
	}
	a.cookiesLoaded = true
	parseCookies(&a.cookies, a.r.Header)
	a.suffixed = e.usesSuffixedCookies(a)
	a.sessionCookie = a.cookie(e.cookieName(wire.CookieSession, a.suffixed))
	if uat, ok := jsparse.ParseInt(a.cookie(e.cookieName(wire.CookieClientUAT, a.suffixed))); ok {
		a.clientUAT = uat
	}
	if e.inst != nil {
		a.refreshCookie = a.cookie(e.inst.suffixedCookie(wire.CookieRefresh))
	}
	a.devBrowser = cmp.Or(a.query.Get(wire.QueryDevBrowser), a.cookie(e.cookieName(wire.CookieDevBrowser, a.suffixed)))
	a.handshakeToken = cmp.Or(a.query.Get(wire.QueryHandshake), a.cookie(wire.CookieHandshake))
	a.handshakeNonce = cmp.Or(a.query.Get(wire.QueryHandshakeNonce), a.cookie(wire.CookieHandshakeNonce))
	if n, ok := jsparse.Number(a.cookie(wire.CookieRedirectCount)); ok {
		a.redirectCount = n
	}
}

func (a *Request) cookie(name string) string {
	v, _ := a.cookies.get(name)
	return v
}

// header is a request header as Clerk reads it, looked up when a decision
// needs it: a signed-in request reads none of these.
func (a *Request) header(name string) string { return headerValue(a.r.Header, name) }

// IsDocument tells whether the request is probably a page load. A request
// without a Host (HTTP/1.0 allows one) is never one: every redirect we send
// names a host, and without one there is no URL of this site to build.
func (a *Request) IsDocument() bool {
	return a.clerkURL.Host != "" && isDocumentRequest(a.r.Method, a.header("Sec-Fetch-Dest"), a.header("Accept"))
}

// headerValue is Headers.get of the Fetch API: each value trimmed of
// leading and trailing whitespace, as Headers.append normalizes it, and
// repeated headers joined with ", ", so a request cannot pick which copy we
// read. name must be in canonical form ("Sec-Fetch-Dest"): it is looked up
// as it is, on every request.
func headerValue(h http.Header, name string) string {
	v := h[name]
	switch len(v) {
	case 0:
		return ""
	case 1:
		return trimHTTPWhitespace(v[0])
	default:
		trimmed := make([]string, len(v))
		for i, s := range v {
			trimmed[i] = trimHTTPWhitespace(s)
		}
		return strings.Join(trimmed, ", ")
	}
}

func trimHTTPWhitespace(s string) string {
	return jsparse.TrimBytes(s, func(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' })
}

// parseAuthorizationHeader is Clerk's: "Bearer <token>" (scheme case
// sensitive), or a bare value with no space is the token itself; any other
// scheme is no token, and the cookie is consulted instead. Like the SDK's
// split(' ', 2), a token stops at the next space.
func parseAuthorizationHeader(v string) string {
	if v == "" {
		return ""
	}
	scheme, rest, found := strings.Cut(v, " ")
	token := rest
	if i := strings.IndexByte(rest, ' '); i >= 0 {
		token = rest[:i]
	}
	if !found || token == "" {
		return scheme
	}
	if scheme == "Bearer" {
		return token
	}
	return ""
}

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

// HeaderToken is the token of the Authorization header, if any.
func (a *Request) HeaderToken() string { return a.tokenInHeader }

// SessionCookie is the session cookie's token, once the cookies are read.
func (a *Request) SessionCookie() string { return a.sessionCookie }

// SessionCookieName is the name of the session cookie a was read from
// (__session or __session_<suffix>).
func (e *Engine) SessionCookieName(a *Request) string {
	return e.cookieName(wire.CookieSession, a.suffixed)
}

// TrimHTTPWhitespace trims HTTP whitespace as Headers.append normalizes a
// value (the Fetch API).
func TrimHTTPWhitespace(s string) string { return trimHTTPWhitespace(s) }

// ParseAuthorizationHeader is parseAuthorizationHeader: the token of an
// Authorization header value, as Clerk reads it.
func ParseAuthorizationHeader(v string) string { return parseAuthorizationHeader(v) }
