package clerkauth

import (
	"net/http"
	"testing"

	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// A production satellite's Frontend API is clerk.<domain>, and so is the
// issuer Clerk matches tokens against to choose between suffixed and plain
// cookies (originalFrontendApi); the Account Portal stays the primary's.
func TestProductionSatelliteInstance(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		proxy                      string
		fapiHost, frontendAPI, iss string
	}{
		{"domain", "", "clerk.sat.example.org", "clerk.sat.example.org", "https://clerk.sat.example.org"},
		{"domain and proxy", "https://sat.example.org/__clerk", "clerk.sat.example.org", "https://sat.example.org/__clerk", "https://sat.example.org/__clerk"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := newInstance(testPK, tc.proxy, "sat.example.org", true)
			if err != nil {
				t.Fatal(err)
			}
			if in.fapiHost != tc.fapiHost || in.frontendAPI != tc.frontendAPI || in.issuer(tc.proxy) != tc.iss {
				t.Errorf("fapiHost %q, frontendAPI %q, issuer %q; want %q, %q, %q", in.fapiHost, in.frontendAPI, in.issuer(tc.proxy), tc.fapiHost, tc.frontendAPI, tc.iss)
			}
			if got := in.defaultSignInURL(); got != "https://accounts.example.com/sign-in" {
				t.Errorf("default sign-in URL %q, want the primary's Account Portal", got)
			}
		})
	}
	// A development key ignores the domain, as @clerk/shared does.
	in, err := newInstance(testDevPK, "", "sat.example.org", true)
	if err != nil {
		t.Fatal(err)
	}
	if in.fapiHost != "foo-bar-13.clerk.accounts.dev" {
		t.Errorf("development satellite fapiHost %q", in.fapiHost)
	}
}

// The satellite's own session cookie signs in: its token names the
// satellite's Frontend API, so the plain __session cookie is the one read.
func TestProductionSatelliteCookieSignsIn(t *testing.T) {
	const satOrigin = "https://sat.example.org"
	h := newTestHandler(t, func(h *Handler) {
		h.Satellite, h.Domain, h.AuthorizedParties = true, "sat.example.org", []string{satOrigin}
	})
	tok := sessionToken(t, func(c map[string]any) { c["iss"], c["azp"] = "https://clerk.sat.example.org", satOrigin })
	r := newRequest(http.MethodGet, satOrigin+"/page", "Cookie", "__session="+tok+"; __client_uat=1", "Sec-Fetch-Dest", "empty")
	s := serve(h, r)
	if s.upstream == nil {
		t.Fatalf("not signed in: %d %s", s.status(), s.rec.Header().Get(wire.HeaderAuthReason))
	}
}
