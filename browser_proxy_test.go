package clerkauth

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// TestBrowserRelativeProxyURL drives Chromium through a site configured as
// Clerk's docs configure a proxy: proxy_url /__clerk, and a reverse_proxy
// of /__clerk/* to the Frontend API. An expired session goes through one
// handshake on the proxied path and comes back signed in, with the
// suffixed cookies, as Clerk's SDK does for a proxied instance (whose iss is
// not its Frontend API host).
func TestBrowserRelativeProxyURL(t *testing.T) {
	chromium := findChromium(t)
	root := t.TempDir()
	writeSiteFiles(t, root)

	clerk := newFakeClerk(t, testPK, "sk_test_proxy")
	port := testkit.FreePort(t)
	site := &browserSite{origin: fmt.Sprintf("http://127.0.0.1:%d", port), clerk: clerk}
	clerk.proxiedIssuer = site.origin + "/__clerk"
	block := fmt.Sprintf(`%s {
	root * %s
	handle /__clerk/* {
		uri strip_prefix /__clerk
		reverse_proxy %s
	}
	handle {
		clerk_auth {
			publishable_key %s
			secret_key %s
			api_url %s
			proxy_url /__clerk
			authorized_parties %s
			sign_in_url %s
		}
		file_server
	}
}
`, site.origin, root, strings.TrimPrefix(clerk.fapi.URL, "http://"), testPK, clerk.secret, clerk.bapi.URL, site.origin, clerk.signInURL())
	startCaddy(t, root, []string{block})
	browser := startBrowser(t, chromium)

	tab := newTab(t, browser)
	old := time.Now().Add(-5 * time.Minute)
	setSessionCookies(t, tab, site, clerk.sessionToken(site.origin, old, time.Minute), old)
	clerk.setClient(clientSignedIn)

	page := site.url(protectedPath + "?tab=proxy")
	end := visit(t, tab, page)
	end.wantPage(t, page, protectedText)
	hs := clerk.handshakeRequests()
	if len(hs) != 1 {
		t.Fatalf("handshakes: got %d, want 1", len(hs))
	}
	if want := strings.TrimPrefix(site.origin, "http://"); hs[0].forwardedHost != want {
		t.Errorf("the handshake reached the Frontend API with X-Forwarded-Host %q, want %q: not through the site's /__clerk", hs[0].forwardedHost, want)
	}
	wantHandshakeQuery(t, hs[0].query, page, "session-token-expired-refresh-non-eligible-no-refresh-cookie", "nonce")
	if got := hs[0].query.Get(wire.QuerySuffixedCookies); got != "true" {
		t.Errorf("handshake %s=%q, want true (a proxied instance's iss is not its Frontend API host)", wire.QuerySuffixedCookies, got)
	}
	end.wantFreshSession(t, clerk)
	end.wantNoCookie(t, wire.CookieHandshakeNonce)

	// The fresh session signs the next visit in without a handshake.
	again := visit(t, tab, site.url(protectedPath))
	again.wantPage(t, site.url(protectedPath), protectedText)
	if n := len(clerk.handshakeRequests()); n != 1 {
		t.Errorf("the visit after the handshake went through %d more", n-1)
	}
}
