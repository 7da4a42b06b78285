package clerkauth

import (
	"fmt"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/clerk-edge/clerk_auth/internal/orgsync"
	"github.com/clerk-edge/clerk_auth/internal/policy"
	"github.com/clerk-edge/clerk_auth/internal/session"
)

type nodeAuthResult struct {
	Name  string  `json:"name"`
	Error *string `json:"error"`
	Auth  *struct {
		OrgID          any `json:"orgId"`
		OrgRole        any `json:"orgRole"`
		OrgSlug        any `json:"orgSlug"`
		OrgPermissions any `json:"orgPermissions"`
	} `json:"auth"`
	Answers []any `json:"answers"`
}

// runClerkAuthorization asks @clerk/backend's signedInAuthObject(...).has().
func runClerkAuthorization(t *testing.T, cases []map[string]any) []nodeAuthResult {
	t.Helper()
	ensureConformanceRunner(t)
	var res struct {
		Results []nodeAuthResult `json:"results"`
	}
	testkit.RunNode(t, "conformance", "authorization.mjs", map[string]any{"cases": cases}, &res)
	if len(res.Results) != len(cases) {
		t.Fatalf("node answered %d cases, want %d", len(res.Results), len(cases))
	}
	return res.Results
}

// clerkQuestion is the has() argument for one of our questions.
func clerkQuestion(t *testing.T, c hasCase) map[string]any {
	if c.kind == "reverification" {
		return map[string]any{"reverification": parseReverificationQuestion(t, c.value)}
	}
	return map[string]any{c.kind: c.value}
}

// ruleDecision is what our rule for the same question decides: a compiled
// one-value rule evaluated through the policy, or a refusal at config load
// (a value Clerk's has() throws on).
func ruleDecision(t *testing.T, c hasCase) bool {
	r := Rule{Kind: c.kind, Values: []string{c.value}}
	if c.kind == "reverification" {
		rv := parseReverificationQuestion(t, c.value)
		r = Rule{Kind: policy.KindVerifiedWithin, Within: caddy.Duration(time.Duration(rv.AfterMinutes) * time.Minute), Level: rv.Level}
	}
	p, err := compilePolicy([]Rule{r}, false)
	if err != nil {
		return false
	}
	return p.Evaluate(session.New(jsonClaims(t, c.claims)), nil, orgsync.Target{}) == nil
}

// TestAuthorizationMatchesClerk asks @clerk/backend 3.25's has() every
// question of hasCases on the same claims, and compares with our rules; it
// also compares how both decode the organization claims of decodeCases.
func TestAuthorizationMatchesClerk(t *testing.T) {
	hc := hasCases()
	dc := decodeCases()
	var cases []map[string]any
	for _, c := range hc {
		cases = append(cases, map[string]any{"name": c.name, "claims": c.claims, "questions": []any{clerkQuestion(t, c)}})
	}
	for _, c := range dc {
		cases = append(cases, map[string]any{"name": "decode " + c.name, "claims": c.claims})
	}
	results := runClerkAuthorization(t, cases)

	for i, c := range hc {
		res := results[i]
		clerk := false
		switch {
		case res.Error != nil:
			// Clerk cannot build the auth object: nothing is granted.
		case len(res.Answers) != 1:
			t.Errorf("%s: node gave %d answers", c.name, len(res.Answers))
			continue
		default:
			clerk, _ = res.Answers[0].(bool) // "threw: ..." denies
		}
		if ours := ruleDecision(t, c); ours != clerk {
			t.Errorf("%s: require %s %q: ours %v, Clerk's has() %v (%v)", c.name, c.kind, c.value, ours, clerk, res.Answers)
		}
		if c.want != clerk {
			t.Errorf("%s: the table says %v, Clerk's has() %v", c.name, c.want, clerk)
		}
	}

	for j, c := range dc {
		res := results[len(hc)+j]
		if (res.Error != nil) != c.malformed {
			t.Errorf("decode %s: Clerk error %v, our malformed %v", c.name, res.Error, c.malformed)
			continue
		}
		if res.Error != nil {
			continue
		}
		text := func(v any) string {
			switch v := v.(type) {
			case nil:
				return ""
			case string:
				return v
			}
			return fmt.Sprint(v) // a wrong type must not read as "absent"
		}
		clerkPerms, isArray := res.Auth.OrgPermissions.([]any)
		var perms []string
		for _, p := range clerkPerms {
			perms = append(perms, text(p))
		}
		var ours []string
		ours = append(ours, session.New(jsonClaims(t, c.claims)).Entitlements().OrgPermissions...)
		same := text(res.Auth.OrgID) == c.orgID && text(res.Auth.OrgRole) == c.orgRole && text(res.Auth.OrgSlug) == c.orgSlug &&
			isArray == c.hasPerms && samePermissions(perms, ours)
		if c.deviation != "" {
			if same {
				t.Errorf("decode %s: documented deviation (%s) no longer differs from Clerk", c.name, c.deviation)
			}
			continue
		}
		if !same {
			t.Errorf("decode %s: Clerk org %v %v %v permissions %v; ours %q %q %q %v (array %v)", c.name,
				res.Auth.OrgID, res.Auth.OrgRole, res.Auth.OrgSlug, res.Auth.OrgPermissions, c.orgID, c.orgRole, c.orgSlug, ours, c.hasPerms)
		}
	}
}
