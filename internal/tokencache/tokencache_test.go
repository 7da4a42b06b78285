package tokencache

import (
	"testing"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// Decode decodes into a cache entry of its own, linked both ways, not
// yet verified; a token that does not decode gives no entry.
func TestDecodeAllocatesItsEntry(t *testing.T) {
	d, err := Decode(token(t))
	if err != nil {
		t.Fatal(err)
	}
	if d.Entry == nil || &d.Entry.JWT != d || d.Verified {
		t.Fatalf("entry %p (jwt %p), verified %v: want the entry around the token, not verified", d.Entry, d, d.Verified)
	}
	if d.Claims[0].Str != "user_1" || d.Kid() != "ins_a" {
		t.Fatalf("sub %q kid %q", d.Claims[0].Str, d.Kid())
	}
	if d, err := Decode(testkit.RawURL("{}") + ".x"); d != nil || err == nil || err.Reason != wire.ReasonTokenInvalid {
		t.Fatalf("a token of two parts: %v, %v", d, err)
	}
}

// token is a session token signed by testkit's key A, kid ins_a.
func token(t *testing.T) string {
	a, _ := testkit.Keys(t)
	return testkit.SignJWT(t, a, map[string]any{"alg": "RS256", "kid": "ins_a"}, map[string]any{"sub": "user_1", "sid": "sess_1", "exp": 1767000050, "iat": 1767000000})
}

// A completed entry is found by any spelling of its token, until removed;
// a cache of size 0 is none.
func TestPutGetRemove(t *testing.T) {
	c := New(4)
	tok := token(t)
	d, err := Decode(tok)
	if err != nil {
		t.Fatal(err)
	}
	e := Complete(d, nil)
	if !d.Verified || e.Session.UserID != "user_1" || e.ExpiresMs != 1767000050000 {
		t.Fatalf("entry %+v", e)
	}
	now := time.Unix(1767000000, 0)
	c.Put(e, now, 0)
	if c.Get(tok) != e || c.Get(tok+"==") != e || c.Len() != 1 || c.Capacity() != 4 {
		t.Fatalf("get %p, len %d", c.Get(tok), c.Len())
	}
	c.Remove(e)
	if c.Get(tok) != nil || c.Len() != 0 {
		t.Fatal("removed entry still found")
	}
	if New(0) != nil {
		t.Fatal("a cache of size 0")
	}
	var none *Cache
	none.Put(e, now, 0)
	if none.Get(tok) != nil || none.Len() != 0 {
		t.Fatal("the nil cache holds something")
	}
}
