package clerkauth

import (
	"net/http"
	"strings"
	"testing"
)

// A page load whose token failed only on time goes to the Frontend API's
// handshake endpoint. (The token's carrier was once passed where the
// location belongs, which sent browsers to the relative URL "cookie".)
func TestTimeFailureRedirectsToHandshake(t *testing.T) {
	h := newTestHandler(t)
	for _, tc := range []struct {
		name   string
		edit   func(map[string]any)
		reason string
	}{
		{"expired", func(c map[string]any) { c["exp"] = testNow.Unix() - 60 }, "session-token-expired-refresh-non-eligible-no-refresh-cookie"},
		{"not active yet", func(c map[string]any) { c["nbf"] = testNow.Unix() + 60 }, reasonSessionTokenNBF},
		{"issued in the future", func(c map[string]any) { c["iat"] = testNow.Unix() + 60 }, reasonSessionTokenIatInTheFuture},
	} {
		token := sessionToken(t, tc.edit)
		for _, carrier := range []struct {
			name    string
			headers []string
		}{
			{"cookie", []string{"Cookie", "__session=" + token + "; __client_uat=1", "Sec-Fetch-Dest", "document"}},
			{"header", []string{"Authorization", "Bearer " + token, "Sec-Fetch-Dest", "document"}},
		} {
			t.Run(tc.name+"/"+carrier.name, func(t *testing.T) {
				out := serve(h, newRequest(http.MethodGet, testOrigin+"/page", carrier.headers...))
				loc := out.rec.Header().Get("Location")
				if out.status() != http.StatusTemporaryRedirect || !strings.HasPrefix(loc, testIssuer+"/v1/client/handshake?") {
					t.Fatalf("got %d Location %q, want 307 to the handshake endpoint", out.status(), loc)
				}
				if got := out.rec.Header().Get(headerAuthReason); got != tc.reason {
					t.Errorf("reason: got %q, want %q", got, tc.reason)
				}
			})
		}
	}
}
