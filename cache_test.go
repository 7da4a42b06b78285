package clerkauth

import (
	"context"
	"crypto/rsa"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/clerk-edge/clerk_auth/internal/jsonscan"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/tokencache"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// countingKeys is the handler's jwt_key, counting how often a key is looked
// up: once per verification that is not served from the cache.
type countingKeys struct {
	keys.Static
	lookups atomic.Int64
}

func (c *countingKeys) KeyFor(ctx context.Context, kid string) (*keys.Key, *jwt.Error) {
	c.lookups.Add(1)
	return c.Static.KeyFor(ctx, kid)
}

func countKeyLookups(t *testing.T, h *Handler) *countingKeys {
	t.Helper()
	sk, ok := h.keys.(keys.Static)
	if !ok {
		t.Fatalf("keys are %T, want keys.Static", h.keys)
	}
	c := &countingKeys{Static: sk}
	h.useKeys(c)
	return c
}

func bearer(token string) *http.Request {
	return newRequest(http.MethodGet, "https://app.example.com/api/data", "Authorization", "Bearer "+token)
}

func TestCacheServesRepeatedTokenWithoutVerifying(t *testing.T) {
	h := newTestHandler(t)
	keys := countKeyLookups(t, h)
	token := sessionToken(t)
	for i := 0; i < 3; i++ {
		out := serve(h, bearer(token))
		if out.status() != http.StatusOK || out.upstream.Header.Get(wire.HeaderUserID) != "user_1" {
			t.Fatalf("request %d: status %d, user %q", i, out.status(), out.upstream.Header.Get(wire.HeaderUserID))
		}
	}
	if n := keys.lookups.Load(); n != 1 {
		t.Fatalf("%d verifications for 3 requests with one token, want 1", n)
	}
}

func TestCacheSizeZeroTurnsItOff(t *testing.T) {
	zero := 0
	h := newTestHandler(t, func(h *Handler) { h.CacheSize = &zero })
	keys := countKeyLookups(t, h)
	token := sessionToken(t)
	for i := 0; i < 2; i++ {
		if out := serve(h, bearer(token)); out.status() != http.StatusOK {
			t.Fatalf("request %d: status %d", i, out.status())
		}
	}
	if n := keys.lookups.Load(); n != 2 || h.cache != nil {
		t.Fatalf("cache_size 0: %d verifications for 2 requests (want 2), cache %v", n, h.cache)
	}
}

func TestCacheDoesNotStoreFailures(t *testing.T) {
	_, b := testkit.Keys(t)
	h := newTestHandler(t)
	forged := testkit.SignJWT(t, b, map[string]any{"alg": "RS256", "kid": "ins_a"}, sessionClaims())
	for i := 0; i < 2; i++ {
		out := serve(h, bearer(forged))
		if out.status() != http.StatusUnauthorized || out.rec.Header().Get(wire.HeaderAuthReason) != wire.ReasonTokenInvalidSignature {
			t.Fatalf("request %d: status %d reason %q", i, out.status(), out.rec.Header().Get(wire.HeaderAuthReason))
		}
	}
	if n := h.cache.Len(); n != 0 {
		t.Fatalf("a forged token left %d cache entries", n)
	}
}

// The time claims are checked again at every hit, with the skew: a cached
// token is never served past its expiry, nor when the clock goes back
// before its nbf.
func TestCacheRechecksTimeClaimsAtHit(t *testing.T) {
	for _, tc := range []struct {
		name       string
		later      time.Duration
		wantReason string
		wantKept   bool
	}{
		{"within exp and the skew", 54 * time.Second, "", true},
		{"past exp and the skew", 55 * time.Second, wire.ReasonSessionTokenExpired + "-refresh-" + wire.RefreshNonEligibleNoCookie, false},
		{"clock back before nbf", -26 * time.Second, wire.ReasonSessionTokenNBF, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHandler(t)
			token := sessionToken(t) // nbf now-20, iat now-10, exp now+50
			if out := serve(h, bearer(token)); out.status() != http.StatusOK {
				t.Fatalf("first request: status %d", out.status())
			}
			h.now = func() time.Time { return testNow.Add(tc.later) }
			out := serve(h, bearer(token))
			if tc.wantReason == "" {
				if out.status() != http.StatusOK {
					t.Fatalf("status %d, want 200", out.status())
				}
			} else if got := out.rec.Header().Get(wire.HeaderAuthReason); out.status() != http.StatusUnauthorized || got != tc.wantReason {
				t.Fatalf("status %d reason %q, want 401 %q", out.status(), got, tc.wantReason)
			}
			if kept := h.cache.Len() == 1; kept != tc.wantKept {
				t.Fatalf("entry kept: %v, want %v", kept, tc.wantKept)
			}
		})
	}
}

// A token verified by one handler is not trusted by another whose
// authorized parties differ: each handler config has its own cache.
func TestCachedTokenIsCheckedAgainstEachHandlersAuthorizedParties(t *testing.T) {
	app := newTestHandler(t)
	other := newTestHandler(t, func(h *Handler) { h.AuthorizedParties = []string{"https://other.example.com"} })
	token := sessionToken(t) // azp https://app.example.com
	for i, step := range []struct {
		h          *Handler
		wantStatus int
	}{{app, 200}, {other, 401}, {app, 200}, {other, 401}} {
		out := serve(step.h, bearer(token))
		if out.status() != step.wantStatus {
			t.Fatalf("step %d: status %d, want %d", i, out.status(), step.wantStatus)
		}
		if step.wantStatus == 401 && out.rec.Header().Get(wire.HeaderAuthReason) != wire.ReasonTokenInvalidAuthorizedParties {
			t.Fatalf("step %d: reason %q", i, out.rec.Header().Get(wire.HeaderAuthReason))
		}
	}
}

// The per-request checks run on a cached token as on a fresh one.
func TestCachedTokenStillGetsPerRequestChecks(t *testing.T) {
	h := newTestHandler(t)
	token := sessionToken(t)
	pending := sessionToken(t, func(c map[string]any) { c["sts"] = "pending"; c["sid"] = "sess_p" })
	cookies := "__session=" + token + "; __client_uat=1766999000"
	for _, tc := range []struct {
		name string
		req  func() *http.Request
		want string
	}{
		{"session param names another session", func() *http.Request {
			return newRequest(http.MethodGet, "https://app.example.com/api?_clerk_session_id=sess_2", "Authorization", "Bearer "+token)
		}, wire.ReasonSessionIDMismatch},
		{"cross-site POST with the cookie", func() *http.Request {
			return newRequest(http.MethodPost, "https://app.example.com/api", "Cookie", cookies, "Origin", "https://evil.example")
		}, wire.ReasonOriginMismatch},
		{"pending session", func() *http.Request { return bearer(pending) }, wire.ReasonSessionPending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Warm the cache with a request that passes, except for the
			// pending token, which verifies but never passes.
			serve(h, bearer(token))
			serve(h, bearer(pending))
			for i := 0; i < 2; i++ {
				out := serve(h, tc.req())
				if got := out.rec.Header().Get(wire.HeaderAuthReason); out.status() != http.StatusUnauthorized || got != tc.want {
					t.Fatalf("request %d: status %d reason %q, want 401 %q", i, out.status(), got, tc.want)
				}
			}
		})
	}
	if n := h.cache.Len(); n != 2 {
		t.Fatalf("%d cache entries, want the 2 tokens that verified", n)
	}
}

// A token verified by a key that then leaves the key set is verified
// again, and denied; a refresh that brings the same keys back keeps it.
func TestCacheDropsTokensOfRemovedKey(t *testing.T) {
	a, b := testkit.Keys(t)
	var jwks atomic.Pointer[[]byte]
	set := testkit.JWKS(map[string]*rsa.PublicKey{"ins_a": &a.PublicKey})
	jwks.Store(&set)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(*jwks.Load())
	}))
	defer srv.Close()
	h := newTestHandler(t, func(h *Handler) { h.JWTKey = ""; h.JWKSURL = srv.URL + "/jwks" })
	ks := h.keys.(*remoteKeySet)
	token := sessionToken(t)

	if out := serve(h, bearer(token)); out.status() != http.StatusOK {
		t.Fatalf("first request: status %d reason %q", out.status(), out.rec.Header().Get(wire.HeaderAuthReason))
	}
	if err := ks.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	if out := serve(h, bearer(token)); out.status() != http.StatusOK || h.cache.Len() != 1 {
		t.Fatalf("after a refresh with the same keys: status %d, %d entries", out.status(), h.cache.Len())
	}

	rotated := testkit.JWKS(map[string]*rsa.PublicKey{"ins_b": &b.PublicKey})
	jwks.Store(&rotated)
	if err := ks.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := serve(h, bearer(token))
	if got := out.rec.Header().Get(wire.HeaderAuthReason); out.status() != http.StatusUnauthorized || got != wire.ReasonJWKKidMismatch {
		t.Fatalf("after key removal: status %d reason %q, want 401 %q", out.status(), got, wire.ReasonJWKKidMismatch)
	}
	if h.cache.Len() != 0 {
		t.Fatalf("the entry of the removed key is still cached")
	}
}

func fakeEntry(token string, exp float64) *tokencache.Entry {
	e := new(tokencache.Entry)
	d := &e.JWT
	d.Entry, d.Raw = e, token
	d.Claims[jwt.ClaimExp] = jsonscan.Value{Kind: jsonscan.Number, Num: exp}
	return tokencache.Complete(d, nil)
}

func TestCacheIsBounded(t *testing.T) {
	for _, size := range []int{1, 100, 5000} {
		c := tokencache.New(size)
		for i := 0; i < 10*size; i++ {
			c.Put(fakeEntry(fmt.Sprintf("token-%d", i), 2e9), testNow, 0)
		}
		if c.Len() != size || c.Capacity() != size {
			t.Fatalf("size %d: %d entries after %d insertions, capacity %d", size, c.Len(), 10*size, c.Capacity())
		}
	}
}

// A flood of distinct tokens, each seen once, evicts itself, not the
// tokens in use.
func TestCacheKeepsHotSetUnderFlood(t *testing.T) {
	c := tokencache.New(100)
	hot := make([]string, 50)
	for i := range hot {
		hot[i] = fmt.Sprintf("hot-%d", i)
		c.Put(fakeEntry(hot[i], 2e9), testNow, 0)
	}
	for i := 0; i < 5000; i++ {
		if i%10 == 0 {
			for _, tok := range hot {
				if c.Get(tok) == nil {
					t.Fatalf("hot token %s evicted after %d flood insertions", tok, i)
				}
			}
		}
		c.Put(fakeEntry(fmt.Sprintf("flood-%d", i), 2e9), testNow, 0)
	}
}

// Expired entries are evicted before entries in use, whatever their bit.
func TestCacheEvictsExpiredFirst(t *testing.T) {
	c := tokencache.New(2)
	c.Put(fakeEntry("expired", float64(testNow.Unix()-60)), testNow, 0)
	c.Put(fakeEntry("live", 2e9), testNow, 0)
	c.Get("expired")
	c.Get("live")
	c.Put(fakeEntry("new", 2e9), testNow, 0)
	if c.Get("expired") != nil || c.Get("live") == nil || c.Get("new") == nil {
		t.Fatal("the expired entry was not the one evicted")
	}
}

func TestCacheConcurrentUse(t *testing.T) {
	size := 8
	h := newTestHandler(t, func(h *Handler) { h.CacheSize = &size })
	tokens := make([]string, 24)
	for i := range tokens {
		tokens[i] = sessionToken(t, func(c map[string]any) { c["sub"] = fmt.Sprintf("user_%d", i) })
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 150; i++ {
				n := (g*7 + i*(g+1)) % len(tokens)
				if i%3 == 0 {
					n %= 4 // a hot set
				}
				out := serve(h, bearer(tokens[n]))
				if want := fmt.Sprintf("user_%d", n); out.status() != http.StatusOK || out.upstream.Header.Get(wire.HeaderUserID) != want {
					errs <- fmt.Sprintf("token %d: status %d user %q", n, out.status(), out.upstream.Header.Get(wire.HeaderUserID))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if h.cache.Len() > size {
		t.Fatalf("%d entries, bound %d", h.cache.Len(), size)
	}
}

func TestSessionRawClaimsAreDecodedOnDemand(t *testing.T) {
	h := newTestHandler(t)
	token := sessionToken(t, func(c map[string]any) { c["plan"] = map[string]any{"tier": "pro"} })
	d, err := tokencache.Decode(token)
	if err != nil {
		t.Fatal(err)
	}
	s, verr := h.verifySession(context.Background(), d, testNow)
	if verr != nil {
		t.Fatal(verr)
	}
	plan, _ := s.RawClaims()["plan"].(map[string]any)
	if plan["tier"] != "pro" || s.RawClaims()["sub"] != "user_1" {
		t.Fatalf("raw claims %v", s.RawClaims())
	}
}

func TestCaddyfileCacheSize(t *testing.T) {
	for _, tc := range []struct {
		input   string
		want    int
		wantErr string
	}{
		{"clerk_auth {\n cache_size 0\n}", 0, ""},
		{"clerk_auth {\n cache_size 50000\n}", 50000, ""},
		{"clerk_auth {\n cache_size -1\n}", 0, "cache_size"},
		{"clerk_auth {\n cache_size lots\n}", 0, "cache_size"},
		{"clerk_auth {\n cache_size\n}", 0, "cache_size"},
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want one naming %s", tc.input, err, tc.wantErr)
			}
			continue
		}
		if err != nil || h.CacheSize == nil || *h.CacheSize != tc.want {
			t.Errorf("%q: err %v, cache_size %v", tc.input, err, h.CacheSize)
		}
	}
	neg := -1
	if err := (&Handler{CacheSize: &neg}).Validate(); err == nil || !strings.Contains(err.Error(), "cache_size") {
		t.Errorf("Validate with cache_size -1: %v", err)
	}
}
