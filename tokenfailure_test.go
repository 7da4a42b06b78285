package clerkauth

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// A session token that fails only on a time claim sends a page load through
// the handshake at the Frontend API, whichever carrier brought it
// (handleSessionTokenError in @clerk/backend tokens/request.ts). The redirect once pointed at the carrier's name ("cookie").
func TestTokenTimeFailureHandshakesToFrontendAPI(t *testing.T) {
	h := newTestHandler(t)
	now := testNow.Unix()
	for _, tc := range []struct {
		name   string
		edit   func(map[string]any)
		reason string
	}{
		{"expired", func(c map[string]any) { c["exp"], c["iat"], c["nbf"] = now-60, now-120, now-130 }, "session-token-expired-refresh-non-eligible-no-refresh-cookie"},
		{"nbf in the future", func(c map[string]any) { c["nbf"] = now + 30 }, wire.ReasonSessionTokenNBF},
		{"iat in the future", func(c map[string]any) { c["iat"] = now + 30 }, wire.ReasonSessionTokenIatInTheFuture},
	} {
		tok := sessionToken(t, tc.edit)
		for _, carrier := range []struct {
			name    string
			headers []string
		}{
			{"cookie", []string{"Cookie", "__session=" + tok + "; __client_uat=1"}},
			{"header", []string{"Authorization", "Bearer " + tok}},
		} {
			t.Run(tc.name+"/"+carrier.name, func(t *testing.T) {
				r := newRequest(http.MethodGet, testOrigin+"/page", append(carrier.headers, "Sec-Fetch-Dest", "document")...)
				s := serve(h, r)
				if s.status() != http.StatusTemporaryRedirect {
					t.Fatalf("status %d, want 307", s.status())
				}
				loc, err := url.Parse(s.rec.Header().Get("Location"))
				if err != nil {
					t.Fatal(err)
				}
				if got := loc.Scheme + "://" + loc.Host + loc.Path; got != testIssuer+"/v1/client/handshake" {
					t.Errorf("redirected to %q, want the handshake endpoint", got)
				}
				if got := loc.Query().Get(wire.QueryHandshakeReason); got != tc.reason {
					t.Errorf("%s = %q, want %q", wire.QueryHandshakeReason, got, tc.reason)
				}
			})
		}
	}
}
