package clerkauth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/authn"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// TestHeaderTokenReasons covers every verification outcome with the token in
// the Authorization header, on an API request (never a handshake).
func TestHeaderTokenReasons(t *testing.T) {
	a, b := testkit.Keys(t)
	now := testNow.Unix()
	hdr := map[string]any{"alg": "RS256", "typ": "JWT", "kid": "ins_a"}
	with := func(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
	without := func(k string) func(map[string]any) { return func(c map[string]any) { delete(c, k) } }
	hdrWith := func(k string, v any) map[string]any {
		h := map[string]any{}
		for kk, vv := range hdr {
			h[kk] = vv
		}
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
		return h
	}
	valid := sessionToken(t)
	parts := strings.Split(valid, ".")
	cases := []struct {
		name, token, status, reason string
	}{
		{"valid", valid, wire.StatusSignedIn, ""},
		{"valid without typ", testkit.SignJWT(t, a, hdrWith("typ", nil), sessionClaims()), wire.StatusSignedIn, ""},
		{"ignore category", testkit.SignJWT(t, a, hdrWith("cat", wire.JWTCategoryIgnore), sessionClaims()), wire.StatusSignedIn, ""},
		{"expired", sessionToken(t, with("exp", now-10)), wire.StatusSignedOut, "session-token-expired-refresh-non-eligible-no-refresh-cookie"},
		{"expired within skew", sessionToken(t, with("exp", now-4)), wire.StatusSignedIn, ""},
		{"expired exactly at skew", sessionToken(t, with("exp", now-5)), wire.StatusSignedOut, "session-token-expired-refresh-non-eligible-no-refresh-cookie"},
		{"nbf in the future", sessionToken(t, with("nbf", now+60)), wire.StatusSignedOut, wire.ReasonSessionTokenNBF},
		{"nbf within skew", sessionToken(t, with("nbf", now+5)), wire.StatusSignedIn, ""},
		{"iat in the future", sessionToken(t, with("iat", now+60)), wire.StatusSignedOut, wire.ReasonSessionTokenIatInTheFuture},
		{"exp missing", sessionToken(t, without("exp")), wire.StatusSignedOut, wire.ReasonTokenVerificationFailed},
		{"exp a string", sessionToken(t, with("exp", "9999999999")), wire.StatusSignedOut, wire.ReasonTokenVerificationFailed},
		{"nbf null", sessionToken(t, with("nbf", nil)), wire.StatusSignedOut, wire.ReasonTokenVerificationFailed},
		{"sub missing", sessionToken(t, without("sub")), wire.StatusSignedOut, wire.ReasonTokenVerificationFailed},
		{"sub a number", sessionToken(t, with("sub", 5)), wire.StatusSignedOut, wire.ReasonTokenVerificationFailed},
		{"azp missing", sessionToken(t, without("azp")), wire.StatusSignedOut, wire.ReasonTokenInvalidAuthorizedParties},
		{"azp other origin", sessionToken(t, with("azp", "https://evil.example")), wire.StatusSignedOut, wire.ReasonTokenInvalidAuthorizedParties},
		{"issuer of another instance", sessionToken(t, with("iss", "https://clerk.other.com")), wire.StatusSignedOut, wire.ReasonTokenInvalidIssuer},
		{"issuer missing", sessionToken(t, without("iss")), wire.StatusSignedOut, wire.ReasonTokenInvalidIssuer},
		{"signed by another key", testkit.SignJWT(t, b, hdr, sessionClaims()), wire.StatusSignedOut, wire.ReasonTokenInvalidSignature},
		{"payload tampered", parts[0] + "." + strings.TrimRight(parts[1], "=") + "x." + parts[2], wire.StatusSignedOut, wire.ReasonTokenInvalid},
		{"signature stripped", parts[0] + "." + parts[1] + ".", wire.StatusSignedOut, wire.ReasonTokenInvalidSignature},
		{"two parts", parts[0] + "." + parts[1], wire.StatusSignedOut, wire.ReasonTokenInvalid},
		{"not base64", "a.b@.c", wire.StatusSignedOut, wire.ReasonTokenInvalid},
		{"garbage", "garbage", wire.StatusSignedOut, wire.ReasonTokenInvalid},
		{"alg none", parts[0][:0] + b64json(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + ".", wire.StatusSignedOut, wire.ReasonTokenInvalidAlgorithm},
		{"alg HS256", b64json(`{"alg":"HS256","typ":"JWT"}`) + "." + parts[1] + "." + parts[2], wire.StatusSignedOut, wire.ReasonTokenInvalidAlgorithm},
		{"alg RS384 on an RS256 key", testkit.SignJWT(t, a, hdrWith("alg", "RS384"), sessionClaims()), wire.StatusSignedOut, wire.ReasonTokenVerificationFailed},
		{"typ not JWT", testkit.SignJWT(t, a, hdrWith("typ", "at+jwt2"), sessionClaims()), wire.StatusSignedOut, wire.ReasonTokenInvalid},
		{"M2M category", testkit.SignJWT(t, a, hdrWith("cat", wire.JWTCategoryM2M), sessionClaims()), wire.StatusSignedOut, wire.ReasonTokenTypeMismatch},
		{"JWT template category", testkit.SignJWT(t, a, hdrWith("cat", "cl_B7d4PD222AAA"), sessionClaims()), wire.StatusSignedOut, wire.ReasonTokenTypeMismatch},
		{"OAuth access token", testkit.SignJWT(t, a, hdrWith("typ", "at+jwt"), sessionClaims()), wire.StatusSignedOut, wire.ReasonTokenTypeMismatch},
		{"machine subject", sessionToken(t, with("sub", "mch_123")), wire.StatusSignedOut, wire.ReasonTokenTypeMismatch},
		{"pending session", sessionToken(t, with("sts", "pending")), wire.StatusSignedOut, wire.ReasonSessionPending},
	}
	h := newTestHandler(t)
	for _, tc := range cases {
		for _, carrier := range []string{"Bearer ", ""} {
			name := tc.name
			if carrier == "" {
				name += " (bare)"
			}
			t.Run(name, func(t *testing.T) {
				r := newRequest("GET", testOrigin+"/api/data", "Authorization", carrier+tc.token, "Sec-Fetch-Dest", "empty")
				out := serve(h, r)
				gotStatus := out.rec.Header().Get(wire.HeaderAuthStatus)
				if tc.status == wire.StatusSignedIn {
					if out.upstream == nil || out.status() != 200 {
						t.Fatalf("want signed in, got %d %s %s", out.status(), gotStatus, out.rec.Header().Get(wire.HeaderAuthReason))
					}
					if got := out.upstream.Header.Get(wire.HeaderUserID); got != "user_1" {
						t.Errorf("upstream %s = %q", wire.HeaderUserID, got)
					}
					return
				}
				if out.upstream != nil {
					t.Fatalf("request reached the upstream")
				}
				if out.status() != http.StatusUnauthorized {
					t.Errorf("status %d, want 401", out.status())
				}
				if gotStatus != tc.status || out.rec.Header().Get(wire.HeaderAuthReason) != tc.reason {
					t.Errorf("got %s/%s, want %s/%s", gotStatus, out.rec.Header().Get(wire.HeaderAuthReason), tc.status, tc.reason)
				}
				if msg := out.rec.Header().Get(wire.HeaderAuthMessage); strings.Contains(msg, tc.token) && tc.token != "" {
					t.Errorf("message carries the token")
				}
			})
		}
	}
}

// TestAuthorizationSchemes is Clerk's header parsing: exact "Bearer", a bare
// token, and every other scheme ignored in favour of the cookies.
func TestAuthorizationSchemes(t *testing.T) {
	h := newTestHandler(t)
	tok := sessionToken(t)
	cases := []struct {
		header, reason string
	}{
		{"Bearer " + tok, ""},
		{tok, ""},
		{"bearer " + tok, wire.ReasonSessionTokenAndUATMissing},
		{"Basic " + tok, wire.ReasonSessionTokenAndUATMissing},
		{"Bearer " + tok + " trailing", ""},
		{"Bearer  " + tok, wire.ReasonTokenInvalid}, // split(' ', 2) gives an empty token: "Bearer" is the token
	}
	for _, tc := range cases {
		out := serve(h, newRequest("GET", testOrigin+"/", "Authorization", tc.header))
		if got := out.rec.Header().Get(wire.HeaderAuthReason); got != tc.reason {
			t.Errorf("%.20q...: reason %q, want %q", tc.header, got, tc.reason)
		}
	}
}

// TestCookieMatrix covers the __client_uat matrix and the cookie path's
// handshake decisions on a page load and on an API request.
func TestCookieMatrix(t *testing.T) {
	h := newTestHandler(t)
	now := testNow
	valid := sessionToken(t)
	expired := sessionToken(t, func(c map[string]any) { c["exp"] = now.Unix() - 60 })
	old := sessionToken(t, func(c map[string]any) { c["iat"] = now.Unix() - 600 })
	cases := []struct {
		name, cookies, doc, api string
	}{
		{"nothing", "", "signed-out/" + wire.ReasonSessionTokenAndUATMissing, "signed-out/" + wire.ReasonSessionTokenAndUATMissing},
		{"uat zero only", cookieHeader("__client_uat", "0"), "signed-out/" + wire.ReasonSessionTokenAndUATMissing, "signed-out/" + wire.ReasonSessionTokenAndUATMissing},
		{"session without uat", cookieHeader("__session", valid), "handshake/" + wire.ReasonSessionTokenButNoClientUAT, "signed-out/" + wire.ReasonSessionTokenButNoClientUAT},
		{"uat without session", cookieHeader("__client_uat", uatAt(now)), "handshake/" + wire.ReasonClientUATButNoSessionToken, "signed-out/" + wire.ReasonClientUATButNoSessionToken},
		{"valid", cookieHeader("__session", valid, "__client_uat", uatAt(now.Add(-time.Hour))), "signed-in/", "signed-in/"},
		{"expired", cookieHeader("__session", expired, "__client_uat", uatAt(now.Add(-time.Hour))), "handshake/session-token-expired-refresh-non-eligible-no-refresh-cookie", "signed-out/session-token-expired-refresh-non-eligible-no-refresh-cookie"},
		{"iat before client uat", cookieHeader("__session", old, "__client_uat", uatAt(now.Add(-time.Minute))), "handshake/" + wire.ReasonSessionTokenIATBeforeUAT, "signed-out/" + wire.ReasonSessionTokenIATBeforeUAT},
		{"malformed cookie", cookieHeader("__session", "not-a-jwt", "__client_uat", uatAt(now)), "signed-out/" + wire.ReasonTokenInvalid, "signed-out/" + wire.ReasonTokenInvalid},
		{"uat garbage", cookieHeader("__session", valid, "__client_uat", "abc"), "handshake/" + wire.ReasonSessionTokenButNoClientUAT, "signed-out/" + wire.ReasonSessionTokenButNoClientUAT},
	}
	for _, tc := range cases {
		for _, kind := range []string{"doc", "api"} {
			t.Run(tc.name+"/"+kind, func(t *testing.T) {
				hdrs := []string{"Cookie", tc.cookies}
				want := tc.api
				if kind == "doc" {
					hdrs = append(hdrs, "Sec-Fetch-Dest", "document", "Accept", "text/html")
					want = tc.doc
				} else {
					hdrs = append(hdrs, "Sec-Fetch-Dest", "empty")
				}
				out := serve(h, newRequest("GET", testOrigin+"/page?q=1", hdrs...))
				got := out.rec.Header().Get(wire.HeaderAuthStatus) + "/" + out.rec.Header().Get(wire.HeaderAuthReason)
				if out.upstream != nil {
					got = "signed-in/"
				}
				if got != want {
					t.Fatalf("got %s, want %s", got, want)
				}
				switch {
				case strings.HasPrefix(want, "handshake/"):
					assertHandshake(t, out, strings.TrimPrefix(want, "handshake/"))
				case strings.HasPrefix(want, "signed-out/") && kind == "doc":
					loc := out.rec.Header().Get("Location")
					if out.rec.Code != http.StatusTemporaryRedirect || !strings.HasPrefix(loc, "https://accounts.example.com/sign-in?redirect_url=") {
						t.Fatalf("signed-out page load: %d %q", out.rec.Code, loc)
					}
					if u, _ := url.Parse(loc); u.Query().Get("redirect_url") != testOrigin+"/page?q=1" {
						t.Errorf("redirect_url = %q", u.Query().Get("redirect_url"))
					}
				case strings.HasPrefix(want, "signed-out/"):
					if out.status() != http.StatusUnauthorized || !strings.HasPrefix(out.rec.Header().Get("WWW-Authenticate"), "Bearer") {
						t.Fatalf("signed-out API request: %d %q", out.status(), out.rec.Header().Get("WWW-Authenticate"))
					}
				}
			})
		}
	}
}

// TestSuffixedCookies follows Clerk's choice between __session and
// __session_<suffix>.
func TestSuffixedCookies(t *testing.T) {
	h := newTestHandler(t)
	sfx := "_" + authn.CookieSuffix(testPK)
	now := testNow
	valid := sessionToken(t)
	older := sessionToken(t, func(c map[string]any) { c["iat"] = now.Unix() - 30 })
	foreign := sessionToken(t, func(c map[string]any) { c["iss"] = "https://clerk.other.com" })
	expired := sessionToken(t, func(c map[string]any) { c["exp"] = now.Unix() - 60 })
	cases := []struct {
		name, cookies string
		suffixed      bool
		reason        string
	}{
		{"only unsuffixed", cookieHeader("__session", valid, "__client_uat", "1"), false, ""},
		{"only suffixed", cookieHeader("__session"+sfx, valid, "__client_uat"+sfx, "1"), true, ""},
		{"foreign unsuffixed, own suffixed", cookieHeader("__session", foreign, "__client_uat", "1", "__session"+sfx, valid, "__client_uat"+sfx, "1"), true, ""},
		{"foreign unsuffixed alone", cookieHeader("__session", foreign, "__client_uat", "1"), true, wire.ReasonSessionTokenAndUATMissing},
		{"unsuffixed newer", cookieHeader("__session", valid, "__client_uat", "1", "__session"+sfx, older, "__client_uat"+sfx, "1"), false, ""},
		{"suffixed signed out", cookieHeader("__session", valid, "__client_uat", "1", "__session"+sfx, expired, "__client_uat"+sfx, "0"), false, ""},
		{"suffixed session without suffixed uat", cookieHeader("__session", valid, "__client_uat", "1", "__session"+sfx, expired), false, ""},
		{"both, suffixed newer", cookieHeader("__session", older, "__client_uat", "1", "__session"+sfx, expired, "__client_uat"+sfx, "1"), true, "session-token-expired-refresh-non-eligible-no-refresh-cookie"},
		{"unsuffixed without iss", cookieHeader("__session", "x.y.z", "__session"+sfx, valid, "__client_uat"+sfx, "1"), false, wire.ReasonSessionTokenButNoClientUAT},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest("GET", testOrigin+"/", "Cookie", tc.cookies, "Sec-Fetch-Dest", "empty")
			a := h.newAuthRequest(r, now)
			if suffixed := strings.HasSuffix(h.engine.SessionCookieName(&a.Request), sfx); suffixed != tc.suffixed {
				t.Errorf("suffixed = %v, want %v", suffixed, tc.suffixed)
			}
			out := serve(h, r)
			if got := out.rec.Header().Get(wire.HeaderAuthReason); got != tc.reason {
				t.Errorf("reason %q, want %q", got, tc.reason)
			}
		})
	}
}

// TestSessionParam is a check we add (docs/architecture.md, "Decision: checks we add"): _clerk_session_id asserts the session.
func TestSessionParam(t *testing.T) {
	h := newTestHandler(t)
	tok := sessionToken(t)
	cases := map[string]string{
		"":                          "",
		"?_clerk_session_id=sess_1": "",
		"?_clerk_session_id=sess_2": wire.ReasonSessionIDMismatch,
		"?_clerk_session_id=":       wire.ReasonSessionIDMismatch,
		"?_clerk_session_id=sess_1&_clerk_session_id=sess_1": wire.ReasonSessionIDMismatch,
	}
	for query, want := range cases {
		for _, carrier := range []string{"header", "cookie"} {
			hdrs := []string{"Authorization", "Bearer " + tok}
			if carrier == "cookie" {
				hdrs = []string{"Cookie", cookieHeader("__session", tok, "__client_uat", "1")}
			}
			out := serve(h, newRequest("GET", testOrigin+"/api"+query, hdrs...))
			if got := out.rec.Header().Get(wire.HeaderAuthReason); got != want {
				t.Errorf("%s %q: reason %q, want %q", carrier, query, got, want)
			}
		}
	}
	custom := newTestHandler(t, func(h *Handler) { h.SessionParam = "sid" })
	out := serve(custom, newRequest("GET", testOrigin+"/api?sid=sess_9", "Authorization", "Bearer "+tok))
	if got := out.rec.Header().Get(wire.HeaderAuthReason); got != wire.ReasonSessionIDMismatch {
		t.Errorf("custom session_param: reason %q", got)
	}
}

// TestCrossSiteUnsafeMethods is a check we add (docs/architecture.md, "Decision: checks we add"): cookie-borne unsafe requests
// from another origin are refused; bearer tokens are not affected.
func TestCrossSiteUnsafeMethods(t *testing.T) {
	h := newTestHandler(t)
	tok := sessionToken(t)
	cookie := cookieHeader("__session", tok, "__client_uat", "1")
	cases := []struct {
		name    string
		headers []string
		method  string
		reason  string
	}{
		{"same origin POST", []string{"Cookie", cookie, "Origin", testOrigin}, "POST", ""},
		{"authorized party POST", []string{"Cookie", cookie, "Origin", testOrigin}, "DELETE", ""},
		{"no Origin POST", []string{"Cookie", cookie}, "POST", ""},
		{"cross origin POST", []string{"Cookie", cookie, "Origin", "https://evil.example"}, "POST", wire.ReasonOriginMismatch},
		{"cross-site fetch metadata", []string{"Cookie", cookie, "Sec-Fetch-Site", "cross-site"}, "PUT", wire.ReasonOriginMismatch},
		{"cross origin GET", []string{"Cookie", cookie, "Origin", "https://evil.example"}, "GET", ""},
		{"cross origin POST with bearer", []string{"Authorization", "Bearer " + tok, "Origin", "https://evil.example"}, "POST", ""},
	}
	for _, tc := range cases {
		out := serve(h, newRequest(tc.method, testOrigin+"/api", tc.headers...))
		if got := out.rec.Header().Get(wire.HeaderAuthReason); got != tc.reason {
			t.Errorf("%s: reason %q, want %q", tc.name, got, tc.reason)
		}
	}
}

// TestPendingSessions is a check we add (docs/architecture.md, "Decision: checks we add").
func TestPendingSessions(t *testing.T) {
	tok := sessionToken(t, func(c map[string]any) { c["sts"] = "pending" })
	for allow, want := range map[bool]string{false: wire.ReasonSessionPending, true: ""} {
		h := newTestHandler(t, func(h *Handler) { h.AllowPending = allow })
		out := serve(h, newRequest("GET", testOrigin+"/api", "Authorization", "Bearer "+tok))
		if got := out.rec.Header().Get(wire.HeaderAuthReason); got != want {
			t.Errorf("allow_pending=%v: reason %q, want %q", allow, got, want)
		}
	}
}
