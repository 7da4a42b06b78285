package clerkauth

import (
	"encoding/json"
	"fmt"

	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// Conformance cases for the audience option and for a relative proxy URL
// (proxyUrl: '/__clerk'), run by TestConformanceWithClerkBackend.

// audienceToken mints a valid session token of c whose aud is aud (absent
// when aud is audAbsent), expired when expired is set.
func (g *confGenerator) audienceToken(c *confConfig, aud any, expired bool) string {
	now := testNow.Unix()
	claims := sessionClaims(func(m map[string]any) {
		m["iss"], m["azp"] = c.issuer, c.origin
		if aud != audAbsent {
			m["aud"] = aud
		}
		if expired {
			m["exp"], m["iat"], m["nbf"] = now-60, now-120, now-130
		}
	})
	return testkit.SignJWT(g.t, g.keyA, map[string]any{"alg": "RS256", "typ": "JWT", "kid": "ins_a", "cat": wire.JWTCategorySession}, claims)
}

type audAbsentType struct{}

var audAbsent = audAbsentType{}

// audienceCases: every shape of aud against an audience given as a string
// and as a list, and against no audience; as a header token, and as an
// expired cookie (the aud check comes before exp in verifyJwt).
func (g *confGenerator) audienceCases() {
	one := &confConfig{name: "audience-string", pk: testPK, production: true, issuer: testIssuer, origin: testOrigin,
		parties: []string{testOrigin}, audience: []string{"https://api.example.com"}}
	many := &confConfig{name: "audience-list", pk: testPK, production: true, issuer: testIssuer, origin: testOrigin,
		parties: []string{testOrigin}, audience: []string{"aud_a", "aud_b"}}
	none := g.prod
	auds := []struct {
		aud any
		odd bool // neither a string nor a list of strings, and truthy
	}{
		{audAbsent, false}, {"https://api.example.com", false}, {"aud_a", false}, {"other", false}, {"", false},
		{nil, false}, {false, false}, {0, false}, {5, true}, {true, true}, {map[string]any{"x": 1}, true},
		{[]any{}, false}, {[]any{"aud_a"}, false}, {[]any{"x", "aud_b"}, false}, {[]any{"x"}, false},
		{[]any{"", "x"}, false}, {[]any{""}, false}, {[]any{nil}, false}, {[]any{0, nil}, false},
		{[]any{"https://api.example.com", "y"}, false},
		{[]any{nil, "aud_a"}, true}, {[]any{5}, true}, {[]any{[]any{"aud_a"}}, true}, {[]any{"x", 5}, true},
	}
	for _, cfg := range []*confConfig{one, many, none} {
		for _, a := range auds {
			label, _ := json.Marshal(a.aud)
			if a.aud == audAbsent {
				label = []byte("absent")
			}
			var tags []string
			if a.odd && len(cfg.audience) > 0 {
				tags = append(tags, "aud-odd")
			}
			tok := g.audienceToken(cfg, a.aud, false)
			g.add(&confCase{cfg: cfg, name: fmt.Sprintf("%s/header/aud=%s", cfg.name, label),
				headers: [][2]string{{"authorization", "Bearer " + tok}}, tags: tagSet(tags...)})
			expired := g.audienceToken(cfg, a.aud, true)
			g.add(&confCase{cfg: cfg, name: fmt.Sprintf("%s/cookie-expired/aud=%s", cfg.name, label), headers: shapes[0].headers(),
				cookies: []string{"__session=" + expired, "__client_uat=" + uatFor(testNow.Unix()-200)}, tags: tagSet(tags...)})
		}
	}
}

// relativeProxyCases: proxyUrl '/__clerk' (and '/__clerk/') on a production
// site, a development site, a satellite, and a token issued behind the
// proxy of another origin of the same instance.
func (g *confGenerator) relativeProxyCases() {
	now := testNow.Unix()
	rel := &confConfig{name: "proxy-relative", pk: testPK, production: true, issuer: testOrigin + "/__clerk", origin: testOrigin,
		parties: []string{testOrigin}, proxyURL: "/__clerk"}
	relDev := &confConfig{name: "dev-proxy-relative", pk: testDevPK, issuer: "http://localhost:3000/__clerk", origin: "http://localhost:3000",
		parties: []string{"http://localhost:3000"}, proxyURL: "/__clerk/"}
	relSat := &confConfig{name: "satellite-proxy-relative", pk: testPK, production: true, issuer: "https://sat.example.org/__clerk",
		origin: "https://sat.example.org", parties: []string{"https://sat.example.org"}, proxyURL: "/__clerk",
		satellite: true, signInURL: testOrigin + "/sign-in"}
	// The same instance on another origin: its tokens name the proxy of
	// app.example.com, which is not this origin's.
	relOther := &confConfig{name: "proxy-relative-other-origin", pk: testPK, production: true, issuer: testOrigin + "/__clerk",
		origin: "https://www.example.com", parties: []string{"https://www.example.com"}, proxyURL: "/__clerk"}
	for _, cfg := range []*confConfig{rel, relDev, relSat, relOther} {
		sfx := "_" + cfg.suffix()
		var extra []string
		if cfg == relOther {
			extra = []string{"iss-bad"}
		}
		variants := []string{"valid", "expired", "iss-wrong", "other-key", "nbf-future"}
		if cfg == relOther {
			// Our issuer check comes before the time claims, which Clerk
			// reaches: only tokens that are otherwise good show it alone.
			variants = []string{"valid", "other-key"}
		}
		for _, v := range variants {
			tok, tags := g.token(cfg, v)
			tags = append(tags, extra...)
			if v == "iss-wrong" || v == "other-key" {
				g.add(&confCase{cfg: cfg, name: fmt.Sprintf("%s/header/%s", cfg.name, v),
					headers: [][2]string{{"authorization", "Bearer " + tok}}, cookies: devCookies(cfg), tags: tagSet(tags...)})
			}
			for i, cookies := range [][]string{
				{"__session=" + tok, "__client_uat=" + uatFor(now-100)},
				{"__session=" + tok, "__client_uat=" + uatFor(now-100), "__session" + sfx + "=" + tok, "__client_uat" + sfx + "=" + uatFor(now-100)},
				{"__session" + sfx + "=" + tok, "__client_uat" + sfx + "=" + uatFor(now-100)},
			} {
				for _, s := range []shape{shapes[0], shapes[2]} {
					target := "/p?x=1"
					if cfg.satellite && i == 1 {
						target += "&__clerk_synced=false"
					}
					g.add(&confCase{cfg: cfg, name: fmt.Sprintf("%s/cookie/%s/%d/%s", cfg.name, v, i, s.dest), target: target,
						headers: s.headers(), cookies: append(devCookies(cfg), cookies...), tags: tagSet(tags...)})
				}
			}
		}
		g.add(&confCase{cfg: cfg, name: cfg.name + "/no-cookies", headers: shapes[0].headers(), cookies: devCookies(cfg)})
		g.add(&confCase{cfg: cfg, name: cfg.name + "/uat-without-session", headers: shapes[0].headers(),
			cookies: append(devCookies(cfg), "__client_uat="+uatFor(now-100))})
		// Referrers: the site's own host on another scheme is the proxy's
		// host (a known Clerk referrer); another site needs the sync.
		valid, tags := g.token(cfg, "valid")
		tags = append(tags, extra...)
		for _, ref := range []string{"http://" + cfg.origin[len("https://"):] + "/x", "https://evil.example.net/"} {
			if cfg == relDev {
				ref = map[bool]string{true: "https://localhost:3000/x", false: "https://evil.example.net/"}[ref != "https://evil.example.net/"]
			}
			g.add(&confCase{cfg: cfg, name: fmt.Sprintf("%s/referrer/%s", cfg.name, ref), headers: append(shapes[0].headers(), [2]string{"referer", ref}),
				cookies: append(devCookies(cfg), "__session="+valid, "__client_uat="+uatFor(now-100)), tags: tagSet(tags...)})
		}
	}
}
