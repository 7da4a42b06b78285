package clerkauth

import (
	"fmt"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"net/http"
	"strings"
	"testing"
)

// Conformance cases for organization sync (organizationSyncOptions), run by
// TestConformanceWithClerkBackend: id and slug patterns, personal account
// patterns, matching, mismatching and missing organizations in v1 and v2
// claims, page loads and API calls, cookies and bearer tokens, the loop
// counter, and the other handshakes of a matching URL, which carry
// organization_id too. Invalid patterns are the one deliberate difference
// (Clerk throws on every request, we refuse the configuration): they are
// kept out of the request comparison and checked by
// TestConformanceOrgSyncInvalidPatterns.

// clerkOptions is the organizationSyncOptions object Clerk is given.
func (o *OrganizationSync) clerkOptions() map[string]any {
	m := map[string]any{}
	if o.OrganizationPatterns != nil {
		m["organizationPatterns"] = o.OrganizationPatterns
	}
	if o.PersonalAccountPatterns != nil {
		m["personalAccountPatterns"] = o.PersonalAccountPatterns
	}
	return m
}

// orgClaims sets a token's active organization: v2's o (id and slg, either
// "" for absent) or v1's org_id and org_slug; raw values go in as given.
type orgClaims struct {
	name     string
	v1       bool
	id, slug any
}

func (o orgClaims) apply(m map[string]any) {
	if o.v1 {
		delete(m, "v")
		if o.id != nil {
			m["org_id"] = o.id
		}
		if o.slug != nil {
			m["org_slug"] = o.slug
		}
		return
	}
	if o.id == nil && o.slug == nil {
		return
	}
	org := map[string]any{"rol": "admin"}
	if o.id != nil {
		org["id"] = o.id
	}
	if o.slug != nil {
		org["slg"] = o.slug
	}
	m["o"] = org
}

// orgSyncToken is a valid (or expired, or pending) session token of c with
// the organization claims o.
func (g *confGenerator) orgSyncToken(c *confConfig, o orgClaims, variant string) string {
	now := testNow.Unix()
	claims := sessionClaims(func(m map[string]any) {
		m["iss"], m["azp"] = c.issuer, c.origin
		o.apply(m)
		switch variant {
		case "expired":
			m["exp"], m["iat"], m["nbf"] = now-60, now-100, now-130
		case "pending":
			m["sts"] = "pending"
		}
	})
	return testkit.SignJWT(g.t, g.keyA, map[string]any{"alg": "RS256", "typ": "JWT", "kid": "ins_a", "cat": wire.JWTCategorySession}, claims)
}

var orgSyncPatterns = &OrganizationSync{
	OrganizationPatterns:    []string{"/orgs/:slug", "/orgs/:slug/(.*)", "/id/:id", "/id/:id/(.*)", "/teams/:slug+"},
	PersonalAccountPatterns: []string{"/me", "/me/(.*)", "/orgs/:slug/personal"},
}

func (g *confGenerator) orgSyncCases() {
	now := testNow.Unix()
	prod := &confConfig{name: "orgsync", pk: testPK, production: true, issuer: testIssuer, origin: testOrigin,
		parties: []string{testOrigin}, orgSync: orgSyncPatterns}
	dev := &confConfig{name: "dev-orgsync", pk: testDevPK, issuer: confDevIssuer, origin: "http://localhost:3000",
		parties: []string{"http://localhost:3000"}, orgSync: orgSyncPatterns}
	personalOnly := &confConfig{name: "orgsync-personal-only", pk: testPK, production: true, issuer: testIssuer, origin: testOrigin,
		parties: []string{testOrigin}, orgSync: &OrganizationSync{PersonalAccountPatterns: []string{"/me{/(.*)}?", "/account/(.*)"}}}
	idOnly := &confConfig{name: "orgsync-id-custom", pk: testPK, production: true, issuer: testIssuer, origin: testOrigin,
		parties: []string{testOrigin}, orgSync: &OrganizationSync{OrganizationPatterns: []string{"/:id(org_[a-zA-Z0-9]+)/(.*)", "/:slug"}}}

	orgs := []orgClaims{
		{"v2-acme", false, "org_1", "acme"},
		{"v2-beta", false, "org_2", "beta"},
		{"v2-none", false, nil, nil},
		{"v2-id-only", false, "org_1", nil},
		{"v2-id-number", false, 5, "acme"},
		{"v1-acme", true, "org_1", "acme"},
		{"v1-none", true, nil, nil},
		{"v1-empty", true, "", ""},
	}
	paths := []string{
		"/orgs/acme", "/orgs/acme/", "/orgs/acme/settings?tab=2", "/orgs/beta", "/orgs/ACME", "/orgs/ac%20me",
		"/orgs/acme/personal", "/id/org_1", "/id/org_2/x", "/teams/acme", "/teams/a/b", "/me", "/me/profile",
		"/dashboard", "/", "/orgs", "/ORGS/acme", "/org_1/x", "/org_9/x", "/acme", "/account/x", "/me/a/b",
	}
	type carrier struct {
		name    string
		shape   shape
		bearer  bool
		counter string
	}
	carriers := []carrier{
		{"page", shapes[0], false, ""},
		{"page-count-2", shapes[0], false, "2"},
		{"page-count-3", shapes[0], false, "3"},
		{"iframe", shapes[1], false, ""},
		{"html-accept", shapes[3], false, ""},
		{"fetch", shapes[2], false, ""},
		{"post", shapes[5], false, ""},
		{"bearer-page", shapes[0], true, ""},
	}
	for _, cfg := range []*confConfig{prod, dev, personalOnly, idOnly} {
		for _, o := range orgs {
			tok := g.orgSyncToken(cfg, o, "valid")
			for _, p := range paths {
				for _, c := range carriers {
					// The full product for the main configuration; a
					// sample of it for the others.
					if cfg != prod && g.rng.Intn(4) != 0 {
						continue
					}
					cookies := devCookies(cfg)
					h := c.shape.headers()
					if c.bearer {
						h = append(h, [2]string{"authorization", "Bearer " + tok})
					} else {
						cookies = append(cookies, "__session="+tok, "__client_uat="+uatFor(now-100))
					}
					if c.counter != "" {
						cookies = append(cookies, wire.CookieRedirectCount+"="+c.counter)
					}
					method := c.shape.method
					if method == http.MethodPost {
						// A same-origin form post: our CSRF check lets it in.
						h = append(h, [2]string{"origin", cfg.origin})
					}
					g.add(&confCase{cfg: cfg, name: fmt.Sprintf("%s/%s/%s/%s", cfg.name, o.name, c.name, p), method: method,
						target: p, headers: h, cookies: cookies})
				}
			}
		}
	}
	// The other handshakes of a matching URL carry organization_id too: an
	// expired token, a client without a session cookie, a cross-origin
	// page load; a pending session is never synced, even when
	// allow_pending lets it in.
	pendingOK := &confConfig{name: "orgsync-allow-pending", pk: testPK, production: true, issuer: testIssuer, origin: testOrigin,
		parties: []string{testOrigin}, orgSync: orgSyncPatterns, allowPending: true}
	for _, cfg := range []*confConfig{prod, dev, pendingOK} {
		acme := orgClaims{"v2-acme", false, "org_1", "acme"}
		expired := g.orgSyncToken(cfg, acme, "expired")
		valid := g.orgSyncToken(cfg, acme, "valid")
		pending := g.orgSyncToken(cfg, acme, "pending")
		for _, p := range []string{"/orgs/beta", "/orgs/acme", "/me", "/dashboard", "/orgs/ac%20me", "/teams/a/b"} {
			for _, s := range []shape{shapes[0], shapes[2]} {
				g.add(&confCase{cfg: cfg, name: fmt.Sprintf("%s/expired/%s/%s", cfg.name, s.dest, p), target: p, headers: s.headers(),
					cookies: append(devCookies(cfg), "__session="+expired, "__client_uat="+uatFor(now-100))})
				g.add(&confCase{cfg: cfg, name: fmt.Sprintf("%s/uat-without-session/%s/%s", cfg.name, s.dest, p), target: p, headers: s.headers(),
					cookies: append(devCookies(cfg), "__client_uat="+uatFor(now-100))})
				tags := tagSet("pending")
				if cfg.allowPending {
					tags = nil
				}
				g.add(&confCase{cfg: cfg, name: fmt.Sprintf("%s/pending/%s/%s", cfg.name, s.dest, p), target: p, headers: s.headers(),
					cookies: append(devCookies(cfg), "__session="+pending, "__client_uat="+uatFor(now-100)), tags: tags})
			}
			g.add(&confCase{cfg: cfg, name: fmt.Sprintf("%s/cross-origin/%s", cfg.name, p), target: p,
				headers: append(shapes[0].headers(), [2]string{"referer", "https://news.example.net/a"}),
				cookies: append(devCookies(cfg), "__session="+valid, "__client_uat="+uatFor(now-100))})
			if !cfg.production {
				g.add(&confCase{cfg: cfg, name: fmt.Sprintf("%s/dev-browser-missing/%s", cfg.name, p), target: p, headers: shapes[0].headers(),
					cookies: []string{"__session=" + valid, "__client_uat=" + uatFor(now-100)}})
			}
		}
	}
}

// orgSyncInvalidPatterns are pattern lists Clerk's OrganizationMatcher
// throws on (on every request) and that we refuse at configuration time.
var orgSyncInvalidPatterns = []*OrganizationSync{
	{OrganizationPatterns: []string{"/orgs/*"}},
	{OrganizationPatterns: []string{"/orgs/:slug", "/orgs/(.*"}},
	{PersonalAccountPatterns: []string{"/me/:"}},
	{OrganizationPatterns: []string{"/orgs/:slug"}, PersonalAccountPatterns: []string{"/me/((x))"}},
}

// TestConformanceOrgSyncInvalidPatterns: the deliberate difference. Clerk
// throws on a request to any URL with these options; our configuration
// refuses to load, naming the subdirective and the pattern.
func TestConformanceOrgSyncInvalidPatterns(t *testing.T) {
	ensureConformanceRunner(t)
	bapi := newFakeBackendAPI()
	defer bapi.Close()
	g := newConfGenerator(t, bapi)
	var cases []*confCase
	for i, o := range orgSyncInvalidPatterns {
		cfg := &confConfig{name: fmt.Sprintf("invalid-%d", i), pk: testPK, production: true, issuer: testIssuer, origin: testOrigin,
			parties: []string{testOrigin}, orgSync: o}
		tok := g.orgSyncToken(cfg, orgClaims{"v2-acme", false, "org_1", "acme"}, "valid")
		for _, p := range []string{"/dashboard", "/orgs/acme"} {
			cases = append(cases, &confCase{cfg: cfg, name: cfg.name + p, method: http.MethodGet, target: p, headers: shapes[0].headers(),
				cookies: []string{"__session=" + tok, "__client_uat=" + uatFor(testNow.Unix()-100)}})
		}
	}
	clerk := runClerkReference(t, bapi.URL, cases)
	for i, c := range cases {
		if clerk[i].status != "error" || !strings.Contains(clerk[i].reason, "Invalid pattern") {
			t.Errorf("%s: Clerk %s, want it to throw on the pattern", c.name, clerk[i])
		}
		a, _ := testkit.Keys(t)
		h := &Handler{PublishableKey: testPK, JWTKey: testkit.PublicPEM(t, a), OrganizationSync: c.cfg.orgSync}
		err := provisionErr(h)
		if err == nil || !strings.Contains(err.Error(), "organization_sync: ") || !strings.Contains(err.Error(), "invalid pattern") {
			t.Errorf("%s: our configuration gave %v, want it refused naming organization_sync and the pattern", c.name, err)
		}
	}
}
