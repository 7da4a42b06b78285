package clerkauth

import (
	"crypto/rsa"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// jwksServer is a Clerk-style JWKS endpoint whose keys a test can switch.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    map[string]*rsa.PublicKey
	status  int
	fetches atomic.Int64
	auth    atomic.Value // last Authorization header seen
}

func newJWKSServer(t testing.TB, keys map[string]*rsa.PublicKey) *jwksServer {
	s := &jwksServer{keys: keys, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.auth.Store(r.Header.Get("Authorization"))
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.status != http.StatusOK {
			w.WriteHeader(s.status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(testkit.JWKS(s.keys))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setKeys(keys map[string]*rsa.PublicKey) {
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
}

// recordingUpstream stands for the app or API behind reverse_proxy: it
// answers 200 and remembers the headers and path it received.
type recordingUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	last http.Header
	path string
	hits int
}

func newRecordingUpstream(t testing.TB) *recordingUpstream {
	u := &recordingUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.last, u.path, u.hits = r.Header.Clone(), r.URL.Path, u.hits+1
		u.mu.Unlock()
		fmt.Fprint(w, "upstream saw user "+r.Header.Get(wire.HeaderUserID))
	}))
	t.Cleanup(u.Close)
	return u
}

// runCaddy adapts a Caddyfile and runs it in-process until the test ends.
func runCaddy(t testing.TB, caddyfile string) {
	t.Helper()
	cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	for _, w := range warnings {
		t.Logf("adapt warning: %v", w)
	}
	loadCaddyJSON(t, cfg)
}

func get(t testing.TB, url string, headers ...string) *http.Response {
	t.Helper()
	resp, _ := do(t, "GET", url, headers...)
	return resp
}

// TestCaddyInProcess runs real Caddy with clerk_auth before reverse_proxy, a
// JWKS server that rotates its key, and an upstream that records headers.
func TestCaddyInProcess(t *testing.T) {
	a, b := testkit.Keys(t)
	jwks := newJWKSServer(t, map[string]*rsa.PublicKey{"k1": &a.PublicKey})
	up := newRecordingUpstream(t)
	const unknownKidInterval = 50 * time.Millisecond
	withKeyTiming(t, func(k *keys.Timing) { k.UnknownKid = unknownKidInterval })

	port := testkit.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	runCaddy(t, fmt.Sprintf(`{
	admin off
	auto_https off
}
http://127.0.0.1:%d {
	clerk_auth /api/* {
		publishable_key %s
		secret_key sk_test_integration
		jwks_url %s
		api_url %s
		authorized_parties %s
	}
	reverse_proxy %s
}
`, port, testPK, jwks.URL, jwks.URL, testOrigin, up.URL))

	// Tokens are minted for the real wall clock: Caddy runs with time.Now.
	mint := func(key *rsa.PrivateKey, kid string, edit ...func(map[string]any)) string {
		now := time.Now().Unix()
		c := sessionClaims(append([]func(map[string]any){func(c map[string]any) {
			c["iat"], c["nbf"], c["exp"] = now-1, now-1, now+60
		}}, edit...)...)
		return testkit.SignJWT(t, key, map[string]any{"alg": "RS256", "kid": kid, "typ": "JWT"}, c)
	}

	t.Run("signed in, spoofed identity removed", func(t *testing.T) {
		resp := get(t, base+"/api/x", "Authorization", "Bearer "+mint(a, "k1"), "X-Clerk-User-Id", "user_admin", "X-Clerk-Org-Role", "org:admin")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d, reason %s", resp.StatusCode, resp.Header.Get(wire.HeaderAuthReason))
		}
		up.mu.Lock()
		defer up.mu.Unlock()
		if up.last.Get(wire.HeaderUserID) != "user_1" || up.last.Get(wire.HeaderOrgRole) != "" {
			t.Errorf("upstream headers: %v", up.last)
		}
		if got := jwks.auth.Load(); got != "Bearer sk_test_integration" {
			t.Errorf("JWKS fetched with Authorization %q", got)
		}
	})
	t.Run("unmatched path passes without auth", func(t *testing.T) {
		if resp := get(t, base+"/public"); resp.StatusCode != 200 {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
	t.Run("no token is 401 with Clerk's headers", func(t *testing.T) {
		resp := get(t, base+"/api/x")
		if resp.StatusCode != 401 || resp.Header.Get(wire.HeaderAuthStatus) != wire.StatusSignedOut || resp.Header.Get(wire.HeaderAuthReason) != wire.ReasonSessionTokenAndUATMissing || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("got %d %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("key rotation", func(t *testing.T) {
		jwks.setKeys(map[string]*rsa.PublicKey{"k2": &b.PublicKey})
		time.Sleep(2 * unknownKidInterval)
		if resp := get(t, base+"/api/x", "Authorization", "Bearer "+mint(b, "k2")); resp.StatusCode != 200 {
			t.Fatalf("token of the new key: status %d, reason %s", resp.StatusCode, resp.Header.Get(wire.HeaderAuthReason))
		}
		// The retired key left the set with that fetch: its tokens stop.
		resp := get(t, base+"/api/x", "Authorization", "Bearer "+mint(a, "k1"))
		if resp.StatusCode != 401 || resp.Header.Get(wire.HeaderAuthReason) != wire.ReasonJWKKidMismatch {
			t.Errorf("retired key: status %d, reason %s", resp.StatusCode, resp.Header.Get(wire.HeaderAuthReason))
		}
		// Another key claiming the new kid never verifies.
		resp = get(t, base+"/api/x", "Authorization", "Bearer "+mint(a, "k2"))
		if resp.StatusCode != 401 || resp.Header.Get(wire.HeaderAuthReason) != wire.ReasonTokenInvalidSignature {
			t.Errorf("forged kid: status %d, reason %s", resp.StatusCode, resp.Header.Get(wire.HeaderAuthReason))
		}
	})
	t.Run("unknown kids are fetched at most once per interval", func(t *testing.T) {
		before, start := jwks.fetches.Load(), time.Now()
		for i := 0; i < 50; i++ {
			resp := get(t, base+"/api/x", "Authorization", "Bearer "+mint(b, fmt.Sprintf("random-%d", i)))
			if resp.StatusCode != 401 || resp.Header.Get(wire.HeaderAuthReason) != wire.ReasonJWKKidMismatch {
				t.Fatalf("unknown kid: %d %s", resp.StatusCode, resp.Header.Get(wire.HeaderAuthReason))
			}
		}
		allowed := int64(time.Since(start)/unknownKidInterval) + 1
		if n := jwks.fetches.Load() - before; n > allowed {
			t.Errorf("%d fetches for 50 unknown kids; at most %d intervals passed", n, allowed)
		}
	})
	t.Run("JWKS down keeps the last good keys", func(t *testing.T) {
		jwks.mu.Lock()
		jwks.status = http.StatusInternalServerError
		jwks.mu.Unlock()
		time.Sleep(2 * unknownKidInterval)
		get(t, base+"/api/x", "Authorization", "Bearer "+mint(b, "k-unknown")) // forces a failing fetch
		if resp := get(t, base+"/api/x", "Authorization", "Bearer "+mint(b, "k2")); resp.StatusCode != 200 {
			t.Errorf("cached key stopped verifying while the JWKS is down: %d %s", resp.StatusCode, resp.Header.Get(wire.HeaderAuthReason))
		}
	})
	if !strings.HasPrefix(jwks.URL, "http://127.0.0.1") {
		t.Fatalf("JWKS server not on loopback")
	}
}
