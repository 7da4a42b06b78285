package authn

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// An expired cookie session on a page load is sent through the handshake:
// the Frontend API's endpoint, told where to come back to and why, and the
// loop guard's counter set.
func TestHandshakeURL(t *testing.T) {
	e := testEngine(t, func(c *Config) { c.SecretKey = "sk_test_x" })
	tok := sessionToken(t, func(c map[string]any) { c["exp"] = testNow.Unix() - 60; c["iat"] = testNow.Unix() - 120 })
	_, out := decide(t, e, http.MethodGet, testOrigin+"/page?x=1&__clerk_db_jwt=d", "Cookie", "__session="+tok+"; __client_uat=1", "Sec-Fetch-Dest", "document")
	if out.Kind != Handshake || out.Status != wire.StatusHandshake {
		t.Fatalf("outcome %+v", out)
	}
	u, err := url.Parse(out.Location)
	if err != nil || u.Host != testFAPIHost || u.Path != "/v1/client/handshake" {
		t.Fatalf("location %q", out.Location)
	}
	q := u.Query()
	if q.Get(wire.QueryRedirectURL) != testOrigin+"/page?x=1" || q.Get(wire.QueryHandshakeFormat) != "nonce" || q.Get(wire.QuerySession) != tok ||
		!strings.HasPrefix(q.Get(wire.QueryHandshakeReason), wire.ReasonSessionTokenExpired) {
		t.Fatalf("query %v", q)
	}
	if len(out.SetCookies) != 1 || !strings.HasPrefix(out.SetCookies[0], wire.CookieRedirectCount+"=1;") {
		t.Fatalf("set-cookies %q", out.SetCookies)
	}
	// The loop guard: at 3 redirects the request is answered signed out.
	_, out = decide(t, e, http.MethodGet, testOrigin+"/page", "Cookie", "__session="+tok+"; __client_uat=1; "+wire.CookieRedirectCount+"=3", "Sec-Fetch-Dest", "document")
	if out.Kind != SignedOut || out.Location != "" {
		t.Fatalf("after 3 redirects: %+v", out)
	}
}

// A handshake token signed by the instance's key resolves: its directives
// become Set-Cookie values and its session signs in; one with a directive
// for another domain keeps only the others.
func TestResolveHandshakeToken(t *testing.T) {
	e := testEngine(t)
	a, _ := testkit.Keys(t)
	tok := sessionToken(t)
	hs := testkit.SignJWT(t, a, map[string]any{"alg": "RS256"}, map[string]any{"handshake": []any{
		"__session=" + tok + "; Path=/", "__client_uat=1; Path=/", "x=y; Domain=evil.com",
	}})
	_, out := decide(t, e, http.MethodGet, testOrigin+"/back?"+wire.QueryHandshake+"="+hs, "Sec-Fetch-Dest", "empty")
	if out.Kind != SignedIn || len(out.SetCookies) != 2 || out.ExtraHeaders.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("outcome %+v", out)
	}
}

// The query helpers are URLSearchParams': form encoding, delete keeping
// the order, set replacing the first.
func TestQueryHelpers(t *testing.T) {
	if got := FormEncode("a b*~/é"); got != "a+b*%7E%2F%C3%A9" {
		t.Errorf("FormEncode = %q", got)
	}
	if got := removeQueryParams("a=1&b=2&a=3&c", "a"); got != "b=2&c=" {
		t.Errorf("removeQueryParams = %q", got)
	}
	if got := setQueryParam("a=1&b=2&a=3", "a", "x"); got != "a=x&b=2" {
		t.Errorf("setQueryParam = %q", got)
	}
	if got := AppendQueryParam("a=1", "b", "2 3"); got != "a=1&b=2+3" {
		t.Errorf("AppendQueryParam = %q", got)
	}
}

// A directive is passed on only for the request's host (RFC 6265
// domain-matching), and never with a control character.
func TestDirectiveDomainMatches(t *testing.T) {
	for _, tc := range []struct {
		directive string
		ok        bool
	}{
		{"__session=x; Path=/", true},
		{"__session=x; Domain=example.com", true},
		{"__session=x; Domain=.APP.example.com", true},
		{"__session=x; Domain=evil.com", false},
		{"__session=x; Domain=example.com; Domain=evil.com", false},
		{"__session=x\r\nSet-Cookie: a=b", false},
	} {
		if _, ok := DirectiveDomainMatches(tc.directive, "app.example.com"); ok != tc.ok {
			t.Errorf("%q: %v, want %v", tc.directive, ok, tc.ok)
		}
	}
}

// TestHandshakeURLLeavesMachineTokensOut: a __session cookie holding an
// API key (or another machine token) starts the handshake as a session
// would (session-token-but-no-client-uat), but the URL, which the browser
// keeps in its history and the Frontend API logs, does not carry it.
func TestHandshakeURLLeavesMachineTokensOut(t *testing.T) {
	e := testEngine(t)
	for _, tok := range []string{"ak_live_0123456789abcdef", "mt_0123456789abcdef", "oat_0123456789abcdef"} {
		_, o := decide(t, e, "GET", testOrigin+"/", "Cookie", "__session="+tok, "Accept", "text/html", "Sec-Fetch-Dest", "document")
		if o.Kind != Handshake || o.Reason != wire.ReasonSessionTokenButNoClientUAT {
			t.Fatalf("%s: kind %d reason %q", tok[:3], o.Kind, o.Reason)
		}
		if strings.Contains(o.Location, tok) || strings.Contains(o.Location, wire.QuerySession+"=") {
			t.Errorf("%s: the handshake URL carries the machine token: %s", tok[:3], o.Location)
		}
	}
	session := sessionToken(t)
	_, o := decide(t, e, "GET", testOrigin+"/", "Cookie", "__session="+session, "Accept", "text/html", "Sec-Fetch-Dest", "document")
	if o.Kind != Handshake || !strings.Contains(o.Location, wire.QuerySession+"="+session) {
		t.Errorf("a session cookie is no longer sent along: %s", o.Location)
	}
}
