package clerkauth

import (
	"testing"

	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// decodeJWT decodes into a cache entry of its own, linked both ways, not
// yet verified; a token that does not decode gives no entry.
func TestDecodeJWTAllocatesItsEntry(t *testing.T) {
	d, err := decodeJWT(sessionToken(t))
	if err != nil {
		t.Fatal(err)
	}
	if d.entry == nil || &d.entry.jwt != d || d.verified {
		t.Fatalf("entry %p (jwt %p), verified %v: want the entry around the token, not verified", d.entry, d, d.verified)
	}
	if d.Claims[0].Str != "user_1" || d.Kid() != "ins_a" {
		t.Fatalf("sub %q kid %q", d.Claims[0].Str, d.Kid())
	}
	if d, err := decodeJWT(testkit.RawURL("{}") + ".x"); d != nil || err == nil || err.Reason != wire.ReasonTokenInvalid {
		t.Fatalf("a token of two parts: %v, %v", d, err)
	}
}
