package clerkauth

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/authn"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"

	"github.com/chromedp/chromedp"
)

// TestBrowserOrgSyncSwitchesOrganization drives Chromium through a
// multi-tenant site (organization_sync, as examples/multi-tenant): on the
// page of organization acme, the user follows a link to the page of
// organization beta. The session token still has acme active, so the page
// load goes through one handshake with organization_id=beta; the Frontend
// API activates beta, and the browser lands on beta's page signed in with
// beta active. On the page of an organization the user is not in, the
// handshake leaves beta active, and require org_from_url refuses the page.
func TestBrowserOrgSyncSwitchesOrganization(t *testing.T) {
	chromium := findChromium(t)
	root := t.TempDir()

	clerk := newFakeClerk(t, testPK, "sk_test_orgsync")
	clerk.orgs = map[string]string{"acme": "org_acme", "beta": "org_beta"}
	clerk.activeOrg = "org_acme"
	site := &browserSite{origin: fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t)), clerk: clerk}
	block := fmt.Sprintf(`%s {
	clerk_auth {
		publishable_key %s
		secret_key %s
		api_url %s
		proxy_url %s
		authorized_parties %s
		sign_in_url %s
		organization_sync {
			organization     /orgs/:slug /orgs/:slug/(.*)
			personal_account /me /me/(.*)
		}
		require org_from_url
	}
	header Content-Type "text/html; charset=utf-8"
	respond `+"`"+`<!doctype html><title>{http.auth.clerk.url_org}</title>
<h1>Organization <span id="active">{http.auth.user.org_slug}</span></h1>
<p>URL: <span id="url">{http.auth.clerk.url_org}</span></p>
<a id="next" href="/orgs/beta/projects">beta</a>`+"`"+` 200
	handle_errors {
		respond "{err.status_code} {http.auth.clerk.reason}"
	}
}
`, site.origin, testPK, clerk.secret, clerk.bapi.URL, clerk.issuer(), site.origin, clerk.signInURL())
	startCaddy(t, root, []string{block})
	browser := startBrowser(t, chromium)
	tab := newTab(t, browser)
	setSessionCookies(t, tab, site, clerk.sessionToken(site.origin, time.Now(), time.Minute), time.Now())
	clerk.setClient(clientSignedIn)

	start := visit(t, tab, site.url("/orgs/acme"))
	start.wantPage(t, site.url("/orgs/acme"), "Organization acme")
	if n := len(clerk.handshakeRequests()); n != 0 {
		t.Fatalf("the page of the active organization went through %d handshakes", n)
	}

	// Follow the link, as a user would.
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.getElementById("next").click(), true`)); err != nil {
		t.Fatalf("clicking the link: %v", err)
	}
	want := site.url("/orgs/beta/projects")
	var end *browserEnd
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		loc, err := chromedp.Run(tab, chromedp.Location())
		text, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		if err == nil && loc == want && strings.Contains(text, "Organization beta") {
			end = &browserEnd{url: loc, status: 200, text: text, cookies: browserCookies(t, tab, "http://127.0.0.1/")}
			break
		}
	}
	if end == nil {
		loc, _ := chromedp.Run(tab, chromedp.Location())
		text, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("after the link: on %s showing %q; want %s showing beta active", loc, text, want)
	}
	if !strings.Contains(end.text, "URL: beta") {
		t.Errorf("{http.auth.clerk.url_org} on beta's page: %q", end.text)
	}
	hs := clerk.handshakeRequests()
	if len(hs) != 1 {
		t.Fatalf("handshakes: got %d, want 1", len(hs))
	}
	wantHandshakeQuery(t, hs[0].query, want, wire.ReasonActiveOrganizationMismatch, "nonce")
	if got := hs[0].query.Get(authn.QueryOrganizationID); got != "beta" {
		t.Errorf("handshake organization_id %q, want beta", got)
	}
	end.wantFreshSession(t, clerk)

	// An organization the user is not in: the Frontend API leaves beta
	// active; the resolved handshake signs the request in as it is (Clerk's
	// resolveHandshake does not sync again), and the rule refuses the page.
	other := visit(t, tab, site.url("/orgs/gamma"))
	if other.status != 403 || !strings.Contains(other.text, wire.ReasonOrganizationNotFromURL) {
		t.Errorf("the page of a foreign organization: %d %q, want 403 %s", other.status, other.text, wire.ReasonOrganizationNotFromURL)
	}
	if hs := clerk.handshakeRequests(); len(hs) != 2 || hs[1].query.Get(authn.QueryOrganizationID) != "gamma" {
		t.Errorf("handshakes for the foreign organization: %d, want 1 with organization_id=gamma", len(hs)-1)
	}
}
