package clerkauth

import (
	"crypto/rsa"
	"fmt"
	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// rotateKey makes the fake Clerk sign with key under kid from now on, and
// publish only it in its JWKS, as a key rotation at Clerk does.
func (f *fakeClerk) rotateKey(key *rsa.PrivateKey, kid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.key, f.kid = key, kid
}

// instanceJWKS stands between one Caddy instance and the fake Clerk's JWKS,
// counting the fetches of that instance.
type instanceJWKS struct {
	srv     *httptest.Server
	fetches atomic.Int64
}

func newInstanceJWKS(t *testing.T, upstream string) *instanceJWKS {
	c := &instanceJWKS{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.fetches.Add(1)
		resp, err := http.Get(upstream)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// TestFleetBrowser runs two instances of Caddy with clerk_auth behind a
// third Caddy's reverse_proxy (round robin, no stickiness) and drives
// Chromium through them: a sign-in whose handshake starts on one instance
// and ends on the other, an expired session refreshed the same way, and a
// key rotation at Clerk that each instance picks up on its own. The
// instances share nothing but the browser's cookies and Clerk (here all
// three servers run in this process, so each is given its own JWKS URL: the
// key set is shared per process and URL, and two machines share nothing).
// See docs/many-instances.md.
func TestFleetBrowser(t *testing.T) {
	chromium := findChromium(t)
	withKeyTiming(t, func(k *keys.Timing) { k.UnknownKid = 100 * time.Millisecond })
	root := t.TempDir()
	for name, body := range map[string]string{
		"page.html": "<!doctype html><link rel=icon href=\"data:,\"><title>Docs</title><h1>" + protectedText + "</h1>",
	} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	clerk := newFakeClerk(t, testPK, "")
	lb := &browserSite{origin: fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t)), clerk: clerk}
	jwks := map[string]*instanceJWKS{}
	var blocks, upstreams []string
	for _, name := range []string{"a", "b"} {
		port := testkit.FreePort(t)
		jwks[name] = newInstanceJWKS(t, clerk.fapi.URL+"/.well-known/jwks.json")
		upstreams = append(upstreams, fmt.Sprintf("127.0.0.1:%d", port))
		blocks = append(blocks, fmt.Sprintf(`http://127.0.0.1:%d {
	header X-Instance %s
	root * %s
	clerk_auth {
		publishable_key %s
		proxy_url %s
		jwks_url %s
		authorized_parties %s
		sign_in_url %s
	}
	file_server
}
`, port, name, root, testPK, clerk.issuer(), jwks[name].srv.URL, lb.origin, clerk.signInURL()))
	}
	blocks = append(blocks, fmt.Sprintf(`%s {
	reverse_proxy %s {
		lb_policy round_robin
	}
}
`, lb.origin, strings.Join(upstreams, " ")))
	startCaddy(t, root, blocks)
	browser := startBrowser(t, chromium)
	page := lb.url("/page.html")

	// crossing checks that a navigation went instance → Clerk → the other
	// instance, and returns the instance it ended on.
	crossing := func(t *testing.T, docs []watchedDocument, reason string) string {
		t.Helper()
		var first, last string
		var sawHandshake bool
		for _, d := range docs {
			switch {
			case d.url == page && d.status == 307 && first == "":
				first = d.headers["X-Instance"]
			case strings.HasPrefix(d.url, clerk.fapi.URL+"/v1/client/handshake"):
				sawHandshake = true
			case d.url == page && d.status == 200:
				last = d.headers["X-Instance"]
			}
		}
		if first == "" || last == "" || first == last || !sawHandshake {
			t.Errorf("%s: want a handshake that starts on one instance and ends on the other; the documents were %v", reason, docs)
		}
		return last
	}

	tab, seen := newWatchedTab(t, browser)

	t.Run("signed out: sign-in page", func(t *testing.T) {
		clerk.setClient(clientSignedOut)
		end := visit(t, tab, page)
		end.wantSignIn(t, clerk, page)
	})

	t.Run("sign-in comes back through a handshake on the other instance", func(t *testing.T) {
		// Signing in at Clerk sets __client_uat on the site's domain; the
		// next page load fetches the session through the handshake.
		clerk.setClient(clientSignedIn)
		for _, sfx := range []string{"", "_" + clerk.suffix} {
			setCookie(t, tab, lb, wire.CookieClientUAT+sfx, fmt.Sprint(time.Now().Unix()))
		}
		seen.reset()
		end := visit(t, tab, page)
		end.wantPage(t, page, protectedText)
		crossing(t, seen.documents(), "sign-in")
		end.wantFreshSession(t, clerk)
	})

	t.Run("expired session: the handshake crosses instances", func(t *testing.T) {
		old := time.Now().Add(-5 * time.Minute)
		setSessionCookies(t, tab, lb, clerk.sessionToken(lb.origin, old, time.Minute), old)
		seen.reset()
		end := visit(t, tab, page)
		end.wantPage(t, page, protectedText)
		crossing(t, seen.documents(), "expired session")
		end.wantFreshSession(t, clerk)
	})

	t.Run("key rotation at Clerk is seen by both instances", func(t *testing.T) {
		_, newKey := testkit.Keys(t)
		before := map[string]int64{"a": jwks["a"].fetches.Load(), "b": jwks["b"].fetches.Load()}
		clerk.rotateKey(newKey, "ins_rotated")
		// A session token of the new key, from a handshake.
		old := time.Now().Add(-5 * time.Minute)
		setSessionCookies(t, tab, lb, clerk.sessionToken(lb.origin, old, time.Minute), old)
		seen.reset()
		end := visit(t, tab, page)
		end.wantPage(t, page, protectedText)
		served := map[string]bool{crossing(t, seen.documents(), "expired session after the rotation"): true}
		// Signed-in page loads, until both instances have served one with
		// the new key's token.
		for i := 0; i < 6 && len(served) < 2; i++ {
			seen.reset()
			end := visit(t, tab, page)
			end.wantPage(t, page, protectedText)
			for _, d := range seen.documents() {
				if d.url == page && d.status == 200 {
					served[d.headers["X-Instance"]] = true
				}
			}
		}
		if !served["a"] || !served["b"] {
			t.Errorf("instances that served a token of the new key: %v, want a and b", served)
		}
		for _, name := range []string{"a", "b"} {
			if n := jwks[name].fetches.Load() - before[name]; n < 1 {
				t.Errorf("instance %s did not fetch the rotated key set (%d fetches)", name, n)
			}
		}
		if hs := len(clerk.handshakeRequests()); hs != 3 {
			t.Errorf("handshakes at Clerk: %d, want 3 (sign-in, expiry, expiry after the rotation)", hs)
		}
	})
}
