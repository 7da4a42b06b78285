package clerkauth

import (
	"context"
	"testing"

	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/tokencache"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// A token verifies once and is then served from the cache, as the same
// session; a token of another instance's key is refused with Clerk's reason.
func TestVerifySessionCaches(t *testing.T) {
	h := newTestHandler(t)
	tok := sessionToken(t)
	d, err := tokencache.Decode(tok)
	if err != nil {
		t.Fatal(err)
	}
	s, verr := h.verifySession(context.Background(), d, testNow)
	if verr != nil || s.UserID != "user_1" {
		t.Fatalf("%v, %v", s, verr)
	}
	e := h.cache.Get(tok)
	if e == nil || &e.Session != s {
		t.Fatal("the verified token is not cached with its session")
	}
	if again, verr := h.verifySession(context.Background(), &e.JWT, testNow); verr != nil || again != s {
		t.Fatalf("cache hit: %v, %v", again, verr)
	}
	_, b := testkit.Keys(t)
	other, _ := tokencache.Decode(testkit.SignJWT(t, b, map[string]any{"alg": "RS256", "kid": "ins_a"}, sessionClaims()))
	if _, verr := h.verifySession(context.Background(), other, testNow); verr == nil || verr.Reason != wire.ReasonTokenInvalidSignature {
		t.Fatalf("another key's token: %v", verr)
	}
}
