package authn

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/tokencache"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// A verified token is cached: the next request finds it decoded and
// verified, and only the time claims are checked again.
func TestVerifyCachesAndRechecksTime(t *testing.T) {
	hits, misses := 0, 0
	e := testEngine(t, func(c *Config) { c.CacheHit, c.CacheMiss = func() { hits++ }, func() { misses++ } })
	tok := sessionToken(t)
	d, _ := tokencache.Decode(tok)
	if _, err := e.VerifySession(context.Background(), d, testNow); err != nil {
		t.Fatal(err)
	}
	if e.cache.Get(tok) == nil {
		t.Fatal("not cached")
	}
	_, out := decide(t, e, http.MethodGet, testOrigin+"/", "Authorization", "Bearer "+tok)
	if out.Kind != SignedIn || hits != 1 || misses != 0 {
		t.Fatalf("outcome %v, %d hits, %d misses", out.Kind, hits, misses)
	}
	ent := e.cache.Get(tok)
	if _, err := e.VerifySession(context.Background(), &ent.JWT, testNow.Add(10*time.Minute)); err != jwt.ErrExpired {
		t.Fatalf("ten minutes later: %v, want expired", err)
	}
	if e.cache.Get(tok) != nil {
		t.Fatal("an expired token stays cached")
	}
}

// Without a key source nothing verifies; a key that left the set does not
// serve its cached tokens.
func TestVerifyKeySource(t *testing.T) {
	tok := sessionToken(t)
	d, _ := tokencache.Decode(tok)
	e := testEngine(t, func(c *Config) { c.Keys = nil })
	if _, err := e.VerifySession(context.Background(), d, testNow); err == nil || err.Reason != wire.ReasonJWKFailedToResolve {
		t.Fatalf("no keys: %v", err)
	}
	e = testEngine(t)
	if _, err := e.VerifySession(context.Background(), d, testNow); err != nil {
		t.Fatal(err)
	}
	ent := e.cache.Get(tok)
	if !e.keyStillHeld(ent.Key) || e.keyStillHeld(keys.NewKey("other", "RS256", ent.Key.Pub, "")) {
		t.Fatal("KeyStillHeld")
	}
}

// A relative proxy URL's issuer is resolved against the request's origin.
func TestExpectedIssuerOfRelativeProxy(t *testing.T) {
	in, err := NewInstance(testPK, "/__clerk", "", false)
	if err != nil {
		t.Fatal(err)
	}
	e := testEngine(t, func(c *Config) { c.Instance, c.IssuerPerRequest, c.Verify.Issuer = in, true, "" })
	tok := sessionToken(t, func(c map[string]any) { c["iss"] = testOrigin + "/__clerk" })
	a, out := decide(t, e, http.MethodGet, testOrigin+"/", "Authorization", "Bearer "+tok)
	if got := e.expectedIssuer(a); got != testOrigin+"/__clerk" || out.Kind != SignedIn {
		t.Fatalf("issuer %q, outcome %+v", got, out)
	}
	d, _ := tokencache.Decode(tok)
	if _, err := e.VerifySession(context.Background(), d, testNow); err == nil || err.Reason != wire.ReasonTokenInvalidIssuer {
		t.Fatalf("without a request: %v", err)
	}
}
