package clerkauth

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// cookieHeader builds a Cookie header from name, value pairs.
func cookieHeader(pairs ...string) string {
	var b []string
	for i := 0; i+1 < len(pairs); i += 2 {
		b = append(b, pairs[i]+"="+pairs[i+1])
	}
	return strings.Join(b, "; ")
}

func uatAt(t time.Time) string { return formatCount(float64(t.Unix())) }

func b64json(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func assertHandshake(t *testing.T, out served, reason string) {
	t.Helper()
	if out.rec.Code != http.StatusTemporaryRedirect {
		t.Fatalf("handshake status %d", out.rec.Code)
	}
	if out.rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("handshake without Cache-Control: no-store")
	}
	loc, err := url.Parse(out.rec.Header().Get("Location"))
	if err != nil || loc.Scheme+"://"+loc.Host+loc.Path != testIssuer+"/v1/client/handshake" {
		t.Fatalf("handshake location %q", out.rec.Header().Get("Location"))
	}
	q := loc.Query()
	if q.Get("redirect_url") != testOrigin+"/page?q=1" || q.Get(wire.QueryHandshakeReason) != reason || q.Get(wire.QueryHandshakeFormat) != "nonce" || q.Get(wire.QueryAPIVersion) != wire.APIVersion {
		t.Errorf("handshake query %v", q)
	}
	if got := out.rec.Header().Get("Set-Cookie"); got != "__clerk_redirect_count=1; SameSite=Lax; HttpOnly; Max-Age=2" {
		t.Errorf("loop guard cookie %q", got)
	}
}

// TestRedirectLoopGuard stops handshaking at the third round trip.
func TestRedirectLoopGuard(t *testing.T) {
	h := newTestHandler(t)
	expired := sessionToken(t, func(c map[string]any) { c["exp"] = testNow.Unix() - 60 })
	for count, want := range map[string]int{"0": 307, "2": 307, "3": 307, "7": 307} {
		out := serve(h, newRequest("GET", testOrigin+"/", "Sec-Fetch-Dest", "document",
			"Cookie", cookieHeader("__session", expired, "__client_uat", "1", "__clerk_redirect_count", count)))
		status := out.rec.Header().Get(wire.HeaderAuthStatus)
		stopped := count == "3" || count == "7"
		if stopped && (status != wire.StatusSignedOut || strings.Contains(out.rec.Header().Get("Location"), "/v1/client/handshake")) {
			t.Errorf("count %s: want the loop stopped (signed-out, sign-in redirect), got %s %s", count, status, out.rec.Header().Get("Location"))
		}
		if !stopped && status != wire.StatusHandshake {
			t.Errorf("count %s: want a handshake, got %s", count, status)
		}
		if out.rec.Code != want {
			t.Errorf("count %s: code %d", count, out.rec.Code)
		}
	}
}

// TestIdentityHeaders: spoofed identity headers never reach the upstream,
// signed in or not, and ours are set from the token.
func TestIdentityHeaders(t *testing.T) {
	tok := sessionToken(t, func(c map[string]any) { c["o"] = map[string]any{"id": "org_1", "slg": "acme", "rol": "admin"} })
	for _, mode := range []string{"require", "optional"} {
		h := newTestHandler(t, func(h *Handler) { h.Mode = mode })
		spoof := []string{"X-Clerk-User-Id", "user_admin", "X-Clerk-Org-Role", "org:admin", "x-clerk_session-id", "sess_x", "X-Clerk-Anything", "1"}
		signedIn := serve(h, newRequest("GET", testOrigin+"/", append([]string{"Authorization", "Bearer " + tok}, spoof...)...))
		if signedIn.upstream == nil {
			t.Fatalf("%s: signed-in request did not pass", mode)
		}
		up := signedIn.upstream.Header
		if up.Get(wire.HeaderUserID) != "user_1" || up.Get(wire.HeaderSessionID) != "sess_1" || up.Get(wire.HeaderOrgID) != "org_1" || up.Get(wire.HeaderOrgRole) != "org:admin" || up.Get(wire.HeaderOrgSlug) != "acme" {
			t.Errorf("%s: identity headers %v", mode, up)
		}
		if up.Get("X-Clerk-Anything") != "" || up.Get("X-Clerk_session-Id") != "" {
			t.Errorf("%s: spoofed header reached upstream", mode)
		}
		if id, _ := signedIn.repl.GetString("http.auth.user.id"); id != "user_1" {
			t.Errorf("%s: {http.auth.user.id} = %q", mode, id)
		}
		if mode == "optional" {
			anon := serve(h, newRequest("GET", testOrigin+"/", spoof...))
			if anon.upstream == nil {
				t.Fatalf("optional: anonymous request did not pass")
			}
			for k := range anon.upstream.Header {
				if strings.HasPrefix(strings.ToLower(k), "x-clerk") {
					t.Errorf("optional: spoofed %s reached upstream", k)
				}
			}
			if st, _ := anon.repl.GetString("http.auth.clerk.status"); st != wire.StatusSignedOut {
				t.Errorf("optional: status placeholder %q", st)
			}
			if rs, _ := anon.repl.GetString("http.auth.clerk.reason"); rs != wire.ReasonSessionTokenAndUATMissing {
				t.Errorf("optional: reason placeholder %q", rs)
			}
		}
	}
}

// TestSignInRedirect: page loads go to the sign-in URL with the page asked
// for; the sign-in page itself and "off" give 401.
func TestSignInRedirect(t *testing.T) {
	cases := []struct {
		signIn, target, wantLocation string
	}{
		{"", testOrigin + "/docs/a?b=c", "https://accounts.example.com/sign-in?redirect_url=https%3A%2F%2Fapp.example.com%2Fdocs%2Fa%3Fb%3Dc"},
		{"/login", testOrigin + "/x", "/login?redirect_url=https%3A%2F%2Fapp.example.com%2Fx"},
		{"/login", testOrigin + "/login", ""},
		{"https://auth.example.com/in?lang=en", testOrigin + "/x", "https://auth.example.com/in?lang=en&redirect_url=https%3A%2F%2Fapp.example.com%2Fx"},
		{"off", testOrigin + "/x", ""},
	}
	for _, tc := range cases {
		h := newTestHandler(t, func(h *Handler) { h.SignInURL = tc.signIn })
		out := serve(h, newRequest("GET", tc.target, "Accept", "text/html,application/xhtml+xml"))
		if got := out.rec.Header().Get("Location"); got != tc.wantLocation {
			t.Errorf("sign_in_url %q, %s: Location %q, want %q", tc.signIn, tc.target, got, tc.wantLocation)
		}
		if tc.wantLocation == "" && out.status() != http.StatusUnauthorized {
			t.Errorf("sign_in_url %q, %s: status %d, want 401", tc.signIn, tc.target, out.status())
		}
	}
}

// TestForwardedHeadersNeedTrust: X-Forwarded-Host changes the redirect only
// from a trusted proxy.
func TestForwardedHeadersNeedTrust(t *testing.T) {
	h := newTestHandler(t)
	for _, trusted := range []bool{false, true} {
		r := newRequest("GET", testOrigin+"/x", "Accept", "text/html", "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "http")
		ctx := context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.TrustedProxyVarKey: trusted})
		u := h.requestURL(r.WithContext(ctx))
		want := testOrigin + "/x"
		if trusted {
			want = "http://evil.example/x"
		}
		if u.String() != want {
			t.Errorf("trusted=%v: %s, want %s", trusted, u, want)
		}
	}
	out := serve(h, newRequest("GET", testOrigin+"/x", "Accept", "text/html", "X-Forwarded-Host", "evil.example"))
	if loc := out.rec.Header().Get("Location"); strings.Contains(loc, "evil.example") {
		t.Errorf("untrusted X-Forwarded-Host reached the redirect: %s", loc)
	}
}
