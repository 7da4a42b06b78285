package authn

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/clerk-edge/clerk_auth/internal/orgsync"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// A signed-in page load whose token has another organization active than
// the URL names goes through the handshake that activates it, with
// organization_id; a bearer token never syncs.
func TestOrgSyncHandshake(t *testing.T) {
	e := testEngine(t, withOrgSync(t, "/orgs/:slug", "/orgs/:slug/(.*)"))
	tok := sessionToken(t, func(c map[string]any) { c["o"] = map[string]any{"id": "org_a", "slg": "alpha", "rol": "admin"} })
	a, out := decide(t, e, http.MethodGet, testOrigin+"/orgs/beta/x", "Cookie", "__session="+tok+"; __client_uat=1", "Sec-Fetch-Dest", "document")
	if out.Kind != Handshake || out.Reason != wire.ReasonActiveOrganizationMismatch {
		t.Fatalf("outcome %+v", out)
	}
	if u, _ := url.Parse(out.Location); u.Query().Get(QueryOrganizationID) != "beta" {
		t.Fatalf("location %q", out.Location)
	}
	if tg := e.URLOrgTarget(a); tg.Kind != orgsync.OrganizationTarget {
		t.Fatalf("target %+v", tg)
	}
	_, out = decide(t, e, http.MethodGet, testOrigin+"/orgs/alpha/x", "Cookie", "__session="+tok+"; __client_uat=1", "Sec-Fetch-Dest", "document")
	if out.Kind != SignedIn {
		t.Fatalf("the active organization: %+v", out)
	}
	_, out = decide(t, e, http.MethodGet, testOrigin+"/orgs/beta/x", "Authorization", "Bearer "+tok, "Sec-Fetch-Dest", "document")
	if out.Kind != SignedIn {
		t.Fatalf("bearer: %+v", out)
	}
}

// SessionOrganization reads the session's active organization.
func TestSessionOrganization(t *testing.T) {
	_, out := decide(t, testEngine(t), http.MethodGet, testOrigin+"/", "Authorization", "Bearer "+sessionToken(t, func(c map[string]any) {
		c["o"] = map[string]any{"id": "org_a", "slg": "alpha"}
	}))
	if id, slug, ok := SessionOrganization(out.Session); id != "org_a" || slug != "alpha" || !ok {
		t.Fatalf("%q %q %v", id, slug, ok)
	}
}
