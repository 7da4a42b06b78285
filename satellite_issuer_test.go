package clerkauth

import (
	"net/http"
	"testing"

	"github.com/clerk-edge/clerk_auth/internal/wire"
)

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
