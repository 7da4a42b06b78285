package clerkauth

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/authn"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// Organization sync (docs/organization-sync.md) through the handler's public
// surface: the Caddyfile block, the JSON config, and what a request gets.

const orgSyncBlock = `organization_sync {
	organization     /orgs/:slug /orgs/:slug/(.*) /o/:id
	personal_account /me /me/(.*)
}`

// orgSyncHandler is a handler configured from a Caddyfile body (the test
// instance's keys are added), with the clock at testNow.
func orgSyncHandler(t *testing.T, body string) *Handler {
	t.Helper()
	var h Handler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("clerk_auth {\n" + body + "\n}")); err != nil {
		t.Fatalf("caddyfile: %v", err)
	}
	a, _ := testkit.Keys(t)
	h.PublishableKey, h.SecretKey, h.JWTKey, h.AuthorizedParties = testPK, "sk_test_dummy", testkit.PublicPEM(t, a), []string{testOrigin}
	provision(t, &h)
	h.now = func() time.Time { return testNow }
	return &h
}

// orgToken is a session token whose active organization is given as v2 claims
// (o.id, o.slg) or, with v1, as org_id and org_slug; id "" means none.
func orgToken(t *testing.T, v1 bool, id, slug string, edit ...func(map[string]any)) string {
	return sessionToken(t, append([]func(map[string]any){func(m map[string]any) {
		if v1 {
			delete(m, "v")
			if id != "" {
				m["org_id"], m["org_slug"], m["org_role"] = id, slug, "org:admin"
			}
		} else if id != "" {
			m["o"] = map[string]any{"id": id, "slg": slug, "rol": "admin"}
		}
	}}, edit...)...)
}

type orgSyncReq struct {
	path      string
	token     string
	bearer    bool
	fetch     bool // a fetch() call, not a page load
	redirects string
}

func (c orgSyncReq) request() *http.Request {
	r := newRequest(http.MethodGet, testOrigin+c.path)
	if c.fetch {
		r.Header.Set("Sec-Fetch-Dest", "empty")
		r.Header.Set("Accept", "*/*")
	} else {
		r.Header.Set("Sec-Fetch-Dest", "document")
		r.Header.Set("Accept", "text/html")
	}
	if c.bearer {
		r.Header.Set("Authorization", "Bearer "+c.token)
		return r
	}
	cookies := "__session=" + c.token + "; __client_uat=" + uatFor(testNow.Unix()-100)
	if c.redirects != "" {
		cookies += "; __clerk_redirect_count=" + c.redirects
	}
	r.Header.Set("Cookie", cookies)
	return r
}

// handshakeParam is a query parameter of a handshake Location, and whether
// it is there.
func handshakeParam(t *testing.T, loc, name string) (string, bool) {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("location %q: %v", loc, err)
	}
	v, ok := u.Query()[name]
	if !ok {
		return "", false
	}
	return v[0], true
}

func TestOrgSyncDecision(t *testing.T) {
	h := orgSyncHandler(t, orgSyncBlock)
	expired := func(m map[string]any) {
		m["exp"], m["iat"], m["nbf"] = testNow.Unix()-60, testNow.Unix()-100, testNow.Unix()-130
	}
	acme := orgToken(t, false, "org_1", "acme")
	cases := []struct {
		name string
		req  orgSyncReq
		// handshake is the expected handshake_reason ("" for none), orgID
		// the organization_id (orgIDAbsent when it must be missing).
		handshake, orgID, urlOrg string
	}{
		{"slug matches", orgSyncReq{path: "/orgs/acme", token: acme}, "", "", "acme"},
		{"slug matches, subpage", orgSyncReq{path: "/orgs/acme/settings", token: acme}, "", "", "acme"},
		{"slug differs", orgSyncReq{path: "/orgs/beta", token: acme}, wire.ReasonActiveOrganizationMismatch, "beta", "beta"},
		{"slug differs in case only", orgSyncReq{path: "/orgs/ACME", token: acme}, wire.ReasonActiveOrganizationMismatch, "ACME", "ACME"},
		{"no organization active", orgSyncReq{path: "/orgs/acme", token: orgToken(t, false, "", "")}, wire.ReasonActiveOrganizationMismatch, "acme", "acme"},
		{"v1 claims match", orgSyncReq{path: "/orgs/acme", token: orgToken(t, true, "org_1", "acme")}, "", "", "acme"},
		{"v1 claims differ", orgSyncReq{path: "/orgs/beta", token: orgToken(t, true, "org_1", "acme")}, wire.ReasonActiveOrganizationMismatch, "beta", "beta"},
		{"id matches", orgSyncReq{path: "/o/org_1", token: acme}, "", "", "org_1"},
		{"id differs", orgSyncReq{path: "/o/org_2", token: acme}, wire.ReasonActiveOrganizationMismatch, "org_2", "org_2"},
		{"personal account, organization active", orgSyncReq{path: "/me", token: acme}, wire.ReasonActiveOrganizationMismatch, "", ""},
		{"personal account, none active", orgSyncReq{path: "/me/profile", token: orgToken(t, false, "", "")}, "", "", ""},
		{"no target", orgSyncReq{path: "/dashboard", token: acme}, "", "", ""},
		{"encoded slug is sent encoded again", orgSyncReq{path: "/orgs/ac%20me", token: acme}, wire.ReasonActiveOrganizationMismatch, "ac%20me", "ac%20me"},
		{"mismatch on a fetch stays signed in", orgSyncReq{path: "/orgs/beta", token: acme, fetch: true}, "", "", "beta"},
		{"mismatch with a bearer token stays signed in", orgSyncReq{path: "/orgs/beta", token: acme, bearer: true}, "", "", "beta"},
		{"loop guard at 3", orgSyncReq{path: "/orgs/beta", token: acme, redirects: "3"}, "", "", "beta"},
		{"loop guard above 3", orgSyncReq{path: "/orgs/beta", token: acme, redirects: "7"}, "", "", "beta"},
		{"under the loop guard", orgSyncReq{path: "/orgs/beta", token: acme, redirects: "2"}, wire.ReasonActiveOrganizationMismatch, "beta", "beta"},
		{"expired token refresh carries organization_id", orgSyncReq{path: "/orgs/beta", token: orgToken(t, false, "org_1", "acme", expired)},
			wire.ReasonSessionTokenExpired + "-refresh-" + wire.RefreshNonEligibleNoCookie, "beta", "beta"},
		{"expired token, no target", orgSyncReq{path: "/dashboard", token: orgToken(t, false, "org_1", "acme", expired)},
			wire.ReasonSessionTokenExpired + "-refresh-" + wire.RefreshNonEligibleNoCookie, orgIDAbsent, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(h, tc.req.request())
			if got, _ := s.repl.GetString(placeholderURLOrg); got != tc.urlOrg {
				t.Errorf("{%s} = %q, want %q", placeholderURLOrg, got, tc.urlOrg)
			}
			if tc.handshake == "" {
				if s.status() != http.StatusOK || s.upstream == nil {
					t.Fatalf("status %d (%s %s), want signed in and passed on", s.status(),
						s.rec.Header().Get(wire.HeaderAuthStatus), s.rec.Header().Get(wire.HeaderAuthReason))
				}
				return
			}
			loc := s.rec.Header().Get("Location")
			if s.status() != http.StatusTemporaryRedirect || s.rec.Header().Get(wire.HeaderAuthReason) != tc.handshake {
				t.Fatalf("status %d reason %q, want a %s handshake", s.status(), s.rec.Header().Get(wire.HeaderAuthReason), tc.handshake)
			}
			if got, _ := handshakeParam(t, loc, wire.QueryHandshakeReason); got != tc.handshake {
				t.Errorf("handshake_reason %q, want %q", got, tc.handshake)
			}
			got, ok := handshakeParam(t, loc, "organization_id")
			switch {
			case tc.orgID == orgIDAbsent && ok:
				t.Errorf("organization_id=%q on a URL without a target", got)
			case tc.orgID != orgIDAbsent && (!ok || got != tc.orgID):
				t.Errorf("organization_id %q (present %v), want %q", got, ok, tc.orgID)
			}
			if tc.orgID != orgIDAbsent && !strings.HasSuffix(loc, "&organization_id="+authn.FormEncode(tc.orgID)) {
				t.Errorf("organization_id is not the last parameter, form-encoded: %s", loc)
			}
			if c := s.rec.Header().Values("Set-Cookie"); len(c) != 1 || !strings.HasPrefix(c[0], wire.CookieRedirectCount+"=") {
				t.Errorf("Set-Cookie %q, want the loop counter", c)
			}
		})
	}
}

const orgIDAbsent = "\x00absent"

// TestOrgSyncPendingNeverSyncs: Clerk's toAuth() treats a pending session
// as signed out, so it is never synced, even when allow_pending lets it in.
func TestOrgSyncPendingNeverSyncs(t *testing.T) {
	h := orgSyncHandler(t, orgSyncBlock+"\nallow_pending")
	tok := orgToken(t, false, "org_1", "acme", func(m map[string]any) { m["sts"] = "pending" })
	s := serve(h, orgSyncReq{path: "/orgs/beta", token: tok}.request())
	if s.status() != http.StatusOK || s.upstream == nil {
		t.Fatalf("status %d %q, want a pending session let in unsynced", s.status(), s.rec.Header().Get(wire.HeaderAuthReason))
	}
}

// TestOrgSyncOffByDefault: without organization_sync, nothing syncs and
// the placeholder is known and empty.
func TestOrgSyncOffByDefault(t *testing.T) {
	h := orgSyncHandler(t, "")
	s := serve(h, orgSyncReq{path: "/orgs/beta", token: orgToken(t, false, "org_1", "acme")}.request())
	if s.status() != http.StatusOK {
		t.Fatalf("status %d, want 200", s.status())
	}
	if v, ok := s.repl.GetString(placeholderURLOrg); !ok || v != "" {
		t.Errorf("{%s} = %q (known %v), want known and empty", placeholderURLOrg, v, ok)
	}
	expired := orgToken(t, false, "org_1", "acme", func(m map[string]any) { m["exp"] = testNow.Unix() - 60 })
	s = serve(h, orgSyncReq{path: "/orgs/beta", token: expired}.request())
	if _, ok := handshakeParam(t, s.rec.Header().Get("Location"), "organization_id"); ok {
		t.Errorf("organization_id without organization_sync")
	}
}

// TestOrgSyncSignedOutPlaceholder: the placeholder names the URL's
// organization on a signed-out request too.
func TestOrgSyncSignedOutPlaceholder(t *testing.T) {
	h := orgSyncHandler(t, orgSyncBlock+"\nmode optional")
	r := newRequest(http.MethodGet, testOrigin+"/orgs/acme/x")
	s := serve(h, r)
	if v, _ := s.repl.GetString(placeholderURLOrg); v != "acme" {
		t.Errorf("{%s} = %q, want acme", placeholderURLOrg, v)
	}
}

func TestOrgSyncRequireOrgFromURL(t *testing.T) {
	h := orgSyncHandler(t, orgSyncBlock+"\nrequire org_from_url")
	acme := orgToken(t, false, "org_1", "acme")
	cases := []struct {
		name   string
		req    orgSyncReq
		status int
	}{
		{"matching slug", orgSyncReq{path: "/orgs/acme", token: acme}, http.StatusOK},
		{"matching id", orgSyncReq{path: "/o/org_1", token: acme}, http.StatusOK},
		{"v1 claims", orgSyncReq{path: "/orgs/acme/x", token: orgToken(t, true, "org_1", "acme")}, http.StatusOK},
		{"mismatch after the loop guard", orgSyncReq{path: "/orgs/beta", token: acme, redirects: "3"}, http.StatusForbidden},
		{"mismatch on a page load handshakes first", orgSyncReq{path: "/orgs/beta", token: acme}, http.StatusTemporaryRedirect},
		{"mismatch on a fetch", orgSyncReq{path: "/orgs/beta", token: acme, fetch: true}, http.StatusForbidden},
		{"mismatch with a bearer token", orgSyncReq{path: "/orgs/beta", token: acme, bearer: true}, http.StatusForbidden},
		{"bearer token of the URL's organization", orgSyncReq{path: "/orgs/acme", token: acme, bearer: true}, http.StatusOK},
		{"case differs", orgSyncReq{path: "/orgs/Acme", token: acme, fetch: true}, http.StatusForbidden},
		{"no organization active", orgSyncReq{path: "/orgs/acme", token: orgToken(t, false, "", ""), fetch: true}, http.StatusForbidden},
		{"personal account, none active", orgSyncReq{path: "/me", token: orgToken(t, false, "", "")}, http.StatusOK},
		{"personal account, organization active", orgSyncReq{path: "/me", token: acme, fetch: true}, http.StatusForbidden},
		{"URL names nothing", orgSyncReq{path: "/dashboard", token: acme}, http.StatusForbidden},
		// Paths the handler behind could read as another organization's.
		{"dot segments", orgSyncReq{path: "/orgs/acme/../beta", token: acme}, http.StatusForbidden},
		{"encoded dot segments", orgSyncReq{path: "/orgs/acme/%2E%2e/beta", token: acme}, http.StatusForbidden},
		{"encoded slash", orgSyncReq{path: "/orgs/acme/x%2F..%2Fbeta", token: acme}, http.StatusForbidden},
		{"empty segment", orgSyncReq{path: "/orgs/acme//x", token: acme}, http.StatusForbidden},
		{"path parameter", orgSyncReq{path: "/orgs/acme/x;y", token: acme}, http.StatusForbidden},
		{"backslash", orgSyncReq{path: "/orgs/acme/x%5C..", token: acme}, http.StatusForbidden},
		{"a dot in a name is fine", orgSyncReq{path: "/orgs/acme/v1.2", token: acme}, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(h, tc.req.request())
			if s.status() != tc.status {
				t.Fatalf("status %d (%q), want %d", s.status(), s.rec.Header().Get(wire.HeaderAuthReason), tc.status)
			}
			if tc.status == http.StatusForbidden {
				if got := s.rec.Header().Get(wire.HeaderAuthReason); got != wire.ReasonOrganizationNotFromURL {
					t.Errorf("reason %q, want %q", got, wire.ReasonOrganizationNotFromURL)
				}
				if got := s.rec.Header().Get(wire.HeaderAuthStatus); got != wire.StatusSignedIn {
					t.Errorf("status header %q, want signed-in", got)
				}
			}
		})
	}
}

func TestOrgSyncConfigErrors(t *testing.T) {
	caddyfileCases := []struct{ body, want string }{
		{"organization_sync {\n organization /orgs/*\n}", `organization_sync: organization: invalid pattern "/orgs/*": Unexpected MODIFIER at 6, expected END`},
		{"organization_sync {\n personal_account /me /me/(?=x)\n}", `organization_sync: personal_account: invalid pattern "/me/(?=x)"`},
		{"organization_sync {\n organization\n}", "organization_sync: organization: needs at least one pattern"},
		{"organization_sync {\n teams /t/:slug\n}", `organization_sync: unknown subdirective "teams"`},
		{"organization_sync {\n}", "organization_sync: needs organization or personal_account patterns"},
		{"organization_sync /orgs/:slug", "organization_sync: takes a block"},
		{"require org_from_url acme", "require org_from_url: takes no values"},
	}
	for _, tc := range caddyfileCases {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("clerk_auth {\n" + tc.body + "\n}"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.body, err, tc.want)
		}
	}
	a, _ := testkit.Keys(t)
	jsonCases := []struct{ config, want string }{
		{`{"organization_sync": {"organization_patterns": ["/orgs/:slug", "/orgs/*"]}}`,
			`organization_sync: organization (organization_patterns): invalid pattern "/orgs/*": Unexpected MODIFIER at 6, expected END`},
		{`{"organization_sync": {"personal_account_patterns": ["/me/(.*"]}}`, `organization_sync: personal_account (personal_account_patterns): invalid pattern "/me/(.*"`},
		{`{"organization_sync": {}}`, "organization_sync: needs organization or personal_account patterns"},
		{`{"require": [{"kind": "org_from_url"}]}`, "require org_from_url: needs organization_sync"},
	}
	for _, tc := range jsonCases {
		var h Handler
		if err := json.Unmarshal([]byte(tc.config), &h); err != nil {
			t.Fatal(err)
		}
		h.PublishableKey, h.JWTKey = testPK, testkit.PublicPEM(t, a)
		err := provisionErr(&h)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.config, err, tc.want)
		}
	}
}

// checkMultiTenantExample is TestExamples' check of examples/multi-tenant.
func checkMultiTenantExample(t *testing.T, s *exampleSite) {
	withOrg := func(slug string) string {
		return "Bearer " + sessionToken(t, liveTimes, func(c map[string]any) {
			c["o"] = map[string]any{"id": "org_" + slug, "slg": slug, "rol": "member"}
		})
	}
	resp, _ := s.get(t, "app.example.com", "/orgs/acme/projects", "Authorization", withOrg("acme"))
	if resp.StatusCode != 200 || s.upstream.last.Get("X-Url-Org") != "acme" {
		t.Errorf("own organization: %d, upstream X-Url-Org %q", resp.StatusCode, s.upstream.last.Get("X-Url-Org"))
	}
	resp, _ = s.get(t, "app.example.com", "/orgs/acme/projects", "Authorization", withOrg("beta"))
	if resp.StatusCode != 403 || resp.Header.Get(wire.HeaderAuthReason) != wire.ReasonOrganizationNotFromURL {
		t.Errorf("another organization's token: %d %q", resp.StatusCode, resp.Header.Get(wire.HeaderAuthReason))
	}
	token := sessionToken(t, liveTimes, func(c map[string]any) { c["o"] = map[string]any{"id": "org_beta", "slg": "beta"} })
	var d jwt.Token
	jwt.DecodeInto(&d, token)
	cookie := wire.CookieSession + "=" + token + "; " + wire.CookieClientUAT + "=" + formatCount(d.Claims[jwt.ClaimIat].Num)
	resp, _ = s.get(t, "app.example.com", "/orgs/acme", "Cookie", cookie, "Accept", "text/html", "Sec-Fetch-Dest", "document")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 307 || loc == nil || loc.Query().Get(authn.QueryOrganizationID) != "acme" ||
		loc.Query().Get(wire.QueryHandshakeReason) != wire.ReasonActiveOrganizationMismatch {
		t.Errorf("page load with another organization active: %d to %v", resp.StatusCode, loc)
	}
	if resp, _ := s.get(t, "app.example.com", "/home", "Authorization", withOrg("beta")); resp.StatusCode != 200 {
		t.Errorf("outside the tenant pages: %d", resp.StatusCode)
	}
}
