package clerkauth

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// TestProxyURLForms: proxy_url takes an absolute http(s) URL or a path on
// the site; anything else fails at adapt and at validate naming proxy_url.
func TestProxyURLForms(t *testing.T) {
	for _, v := range []string{"/__clerk", "/__clerk/", "/", "https://app.example.com/__clerk", "http://localhost:3000/__clerk"} {
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("clerk_auth {\n proxy_url " + v + "\n}")); err != nil {
			t.Errorf("proxy_url %s: %v", v, err)
		}
		if err := (&Handler{ProxyURL: v}).Validate(); err != nil {
			t.Errorf("proxy_url %s: Validate: %v", v, err)
		}
	}
	for _, v := range []string{"__clerk", "clerk.example.com", "//evil.example.net/__clerk", "/__clerk?x=1", "/__clerk#f", "ftp://x.example/__clerk", "https://"} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("clerk_auth {\n proxy_url " + v + "\n}"))
		if err == nil || !strings.Contains(err.Error(), "proxy_url") {
			t.Errorf("proxy_url %s: Caddyfile error %v, want one naming proxy_url", v, err)
		}
		if err := (&Handler{ProxyURL: v}).Validate(); err == nil || !strings.Contains(err.Error(), "proxy_url") {
			t.Errorf("proxy_url %s: Validate error %v, want one naming proxy_url", v, err)
		}
	}
	// A path has no URL for the public JWKS before a request: it needs a key
	// source of its own.
	h := &Handler{PublishableKey: testPK, ProxyURL: "/__clerk", AuthorizedParties: []string{testOrigin}}
	if err := h.Provision(testContext()); err == nil || !strings.Contains(err.Error(), "proxy_url") || !strings.Contains(err.Error(), "secret_key or jwt_key") {
		t.Errorf("proxy_url path without secret_key or jwt_key: %v", err)
	}
}

// TestRelativeProxyURLPerRequest: with proxy_url /__clerk the expected
// issuer and the handshake base are the path on the request's origin, and
// a token cached for one origin does not pass on another.
func TestRelativeProxyURLPerRequest(t *testing.T) {
	h := newTestHandler(t, func(h *Handler) {
		h.ProxyURL = "/__clerk"
		h.AuthorizedParties = []string{testOrigin, "https://www.example.com"}
	})
	tok := sessionToken(t, func(c map[string]any) { c["iss"] = testOrigin + "/__clerk" })
	for i := 0; i < 2; i++ { // a miss, then a cache hit
		s := serve(h, newRequest("GET", testOrigin+"/x", "Authorization", "Bearer "+tok))
		if s.upstream == nil {
			t.Fatalf("request %d on the token's own origin: %s %s", i, s.rec.Header().Get(wire.HeaderAuthReason), s.rec.Header().Get(wire.HeaderAuthMessage))
		}
	}
	if h.cache.Len() != 1 {
		t.Fatalf("cache holds %d entries, want the token", h.cache.Len())
	}
	s := serve(h, newRequest("GET", "https://www.example.com/x", "Authorization", "Bearer "+tok))
	// The expected issuer names the site's proxy: it goes to the debug log,
	// never into the client's message.
	if s.upstream != nil || s.rec.Header().Get(wire.HeaderAuthReason) != wire.ReasonTokenInvalidIssuer ||
		strings.Contains(s.rec.Header().Get(wire.HeaderAuthMessage), "Expected") {
		t.Errorf("the cached token of another origin: passed %v, reason %q, message %q", s.upstream != nil,
			s.rec.Header().Get(wire.HeaderAuthReason), s.rec.Header().Get(wire.HeaderAuthMessage))
	}
	// An absolute iss of Clerk's own Frontend API is not the proxy's.
	s = serve(h, newRequest("GET", testOrigin+"/x", "Authorization", "Bearer "+sessionToken(t)))
	if s.upstream != nil || s.rec.Header().Get(wire.HeaderAuthReason) != wire.ReasonTokenInvalidIssuer {
		t.Errorf("iss of the Frontend API itself: passed %v, reason %q", s.upstream != nil, s.rec.Header().Get(wire.HeaderAuthReason))
	}

	// The handshake goes through the path on the request's origin, port kept,
	// default port left out as URL.origin does.
	for origin, base := range map[string]string{
		"http://localhost:8080":     "http://localhost:8080/__clerk/v1/client/handshake?",
		"https://app.example.com":   "https://app.example.com/__clerk/v1/client/handshake?",
		"http://app.example.com:80": "http://app.example.com/__clerk/v1/client/handshake?",
	} {
		// A proxied instance's iss is not its Frontend API host: the
		// browser holds the suffixed cookies, which Clerk then reads.
		sfx := "_" + h.inst.Suffix()
		iss := strings.TrimSuffix(base, "/v1/client/handshake?")
		expired := sessionToken(t, func(c map[string]any) { c["iss"], c["iat"], c["exp"] = iss, testNow.Unix()-120, testNow.Unix()-60 })
		r := newRequest("GET", origin+"/page", "Sec-Fetch-Dest", "document",
			"Cookie", wire.CookieSession+sfx+"="+expired+"; "+wire.CookieClientUAT+sfx+"=1")
		s := serve(h, r)
		if loc := s.rec.Header().Get("Location"); s.rec.Code != 307 || !strings.HasPrefix(loc, base) {
			t.Errorf("handshake from %s: %d to %q, want %s...", origin, s.rec.Code, loc, base)
		}
	}
}

// TestRelativeProxyURLSatellite: a production satellite behind /__clerk
// hands its sync to the proxy on its own origin.
func TestRelativeProxyURLSatellite(t *testing.T) {
	h := newTestHandler(t, func(h *Handler) {
		h.ProxyURL = "/__clerk"
		h.Satellite = true
		h.SignInURL = testOrigin + "/sign-in"
		h.AuthorizedParties = []string{"https://sat.example.org"}
	})
	s := serve(h, newRequest("GET", "https://sat.example.org/p?__clerk_synced=false", "Sec-Fetch-Dest", "document"))
	if loc := s.rec.Header().Get("Location"); s.rec.Code != 307 || !strings.HasPrefix(loc, "https://sat.example.org/__clerk/v1/client/handshake?") ||
		s.rec.Header().Get(wire.HeaderAuthReason) != wire.ReasonSatelliteNeedsSyncing {
		t.Errorf("satellite sync: %d %s to %q", s.rec.Code, s.rec.Header().Get(wire.HeaderAuthReason), loc)
	}
}
