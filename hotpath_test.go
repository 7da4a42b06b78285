package clerkauth

import (
	"net/http"
	"testing"

	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// A request with a header token reads its cookies only when the token
// fails; then they count as before.
func TestHeaderTokenFailureStillReadsCookies(t *testing.T) {
	h := newTestHandler(t)
	expired := sessionToken(t, func(c map[string]any) { c["exp"] = testNow.Unix() - 60 })
	refresh := h.inst.SuffixedCookie(wire.CookieRefresh)
	for _, tc := range []struct {
		name, cookie, accept, want string
		wantStatus                 int
	}{
		{"no refresh cookie", "", "*/*", wire.ReasonSessionTokenExpired + "-refresh-" + wire.RefreshNonEligibleNoCookie, 401},
		{"suffixed refresh cookie", refresh + "=r", "*/*", wire.ReasonSessionTokenExpired + "-refresh-" + wire.RefreshMissingAPIClient, 401},
		{"handshake loop counter spent", wire.CookieRedirectCount + "=3", "text/html", wire.ReasonSessionTokenExpired + "-refresh-" + wire.RefreshNonEligibleNoCookie, 307},
	} {
		t.Run(tc.name, func(t *testing.T) {
			headers := []string{"Authorization", "Bearer " + expired, "Accept", tc.accept}
			if tc.cookie != "" {
				headers = append(headers, "Cookie", tc.cookie)
			}
			out := serve(h, newRequest(http.MethodGet, "https://app.example.com/page", headers...))
			if got := out.rec.Header().Get(wire.HeaderAuthReason); out.status() != tc.wantStatus || got != tc.want {
				t.Fatalf("status %d reason %q, want %d %q", out.status(), got, tc.wantStatus, tc.want)
			}
			// A spent loop counter turns the handshake into signed-out (and
			// a page load into the sign-in redirect).
			if got := out.rec.Header().Get(wire.HeaderAuthStatus); got != wire.StatusSignedOut {
				t.Fatalf("status header %q, want %s", got, wire.StatusSignedOut)
			}
		})
	}
}
