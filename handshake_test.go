package clerkauth

import (
	"net/http"
	"testing"

	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// A handshake token whose directives are not all strings does not resolve,
// as in Clerk's SDK (which throws on it); the stale cookies decide instead.
func TestHandshakeTokenWithNonStringDirectiveIsIgnored(t *testing.T) {
	h := newTestHandler(t)
	a, _ := testkit.Keys(t)
	valid := sessionToken(t)
	for _, tc := range []struct {
		name       string
		directives []any
		signedIn   bool
	}{
		{"strings", []any{"__session=" + valid + "; Path=/", "__client_uat=1; Path=/"}, true},
		{"a number among them", []any{1, "__session=" + valid + "; Path=/"}, false},
		{"a null among them", []any{"__session=" + valid + "; Path=/", nil}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := testkit.SignJWT(t, a, map[string]any{"alg": "RS256"}, map[string]any{"handshake": tc.directives})
			s := serve(h, newRequest(http.MethodGet, testOrigin+"/back?__clerk_handshake="+hs, "Sec-Fetch-Dest", "empty"))
			if got := s.upstream != nil; got != tc.signedIn {
				t.Fatalf("signed in: %v, want %v (reason %q)", got, tc.signedIn, s.rec.Header().Get(wire.HeaderAuthReason))
			}
		})
	}
}
