package clerkauth

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/clerk-edge/clerk_auth/internal/jsonscan"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/orgsync"
	"github.com/clerk-edge/clerk_auth/internal/policy"
	"github.com/clerk-edge/clerk_auth/internal/session"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// Claims of the shapes Clerk mints, shared by the tests below and the
// conformance test against @clerk/backend.

// v1Claims is a v1 session token in an organization.
func v1Claims(c map[string]any) {
	delete(c, "v")
	c["org_id"] = "org_1"
	c["org_slug"] = "acme"
	c["org_role"] = "org:admin"
	c["org_permissions"] = []any{"org:sys_memberships:manage", "org:invoices:read"}
}

// v2Claims is a v2 session token: fea names org features dashboard and
// billing (and a user feature), per the permissions, fpm one bitmask per org
// feature: dashboard 3 = read+manage, billing 2 = manage.
func v2Claims(c map[string]any) {
	c["v"] = 2
	c["fea"] = "o:dashboard,o:billing,u:export"
	c["pla"] = "u:pro,o:team"
	c["o"] = map[string]any{"id": "org_2", "slg": "globex", "rol": "admin", "per": "read,manage", "fpm": "3,2"}
}

func with(edits ...func(map[string]any)) map[string]any { return sessionClaims(edits...) }

func set(key string, v any) func(map[string]any) {
	return func(c map[string]any) { c[key] = v }
}

func setOrg(key string, v any) func(map[string]any) {
	return func(c map[string]any) {
		o := c["o"].(map[string]any)
		if v == nil {
			delete(o, key)
		} else {
			o[key] = v
		}
	}
}

// jsonClaims reads claims as a verified token's payload is read: the typed
// claims and the payload JSON, for newSession.
func jsonClaims(t testing.TB, c map[string]any) (*jwt.Claims, string) {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.Claims
	if err := jsonscan.ReadMembers(string(b), jwt.ClaimNames, claims[:], true); err != nil {
		t.Fatal(err)
	}
	return &claims, string(b)
}

// seventyPerms is "p0,...,p69" and bit69 2^69 as a decimal: a bitmask
// wider than 64 bits, as Clerk's decimal-string parser allows.
var (
	seventyPerms = func() string {
		p := make([]string, 70)
		for i := range p {
			p[i] = "p" + string(rune('0'+i/10)) + string(rune('0'+i%10))
		}
		return strings.Join(p, ",")
	}()
	bit69 = "590295810358705651712"
)

// decodeCase is how one set of claims decodes; the conformance test has
// @clerk/backend decode the same claims. deviation, when set, says why we
// deliberately differ (a claim of the wrong JSON type, which we never take).
type decodeCase struct {
	name      string
	claims    map[string]any
	orgID     string
	orgRole   string
	orgSlug   string
	perms     []string
	hasPerms  bool
	malformed bool
	deviation string
}

func decodeCases() []decodeCase {
	return []decodeCase{
		{"v1", with(v1Claims), "org_1", "org:admin", "acme", []string{"org:sys_memberships:manage", "org:invoices:read"}, true, false, ""},
		{"v1 without org", with(set("v", 1)), "", "", "", nil, false, false, ""},
		{"v1 permissions not an array", with(v1Claims, set("org_permissions", "org:x:y")), "org_1", "org:admin", "acme", nil, false, false, ""},
		{"v1 org_id a number", with(v1Claims, set("org_id", 5)), "", "org:admin", "acme", []string{"org:sys_memberships:manage", "org:invoices:read"}, true, false,
			"Clerk takes the number 5 as the org id; we take no org"},
		{"v2 fpm bitmasks", with(v2Claims), "org_2", "org:admin", "globex",
			[]string{"org:dashboard:read", "org:dashboard:manage", "org:billing:manage"}, true, false, ""},
		{"v2 without o", with(set("v", 2)), "", "", "", nil, false, false, ""},
		{"v2 fpm zero", with(v2Claims, setOrg("fpm", "0,0")), "org_2", "org:admin", "globex", []string{}, true, false, ""},
		{"v2 fpm shorter than features", with(v2Claims, setOrg("fpm", "1")), "org_2", "org:admin", "globex", []string{"org:dashboard:read"}, true, false, ""},
		{"v2 fpm not digits", with(v2Claims, setOrg("fpm", "x,-2")), "org_2", "org:admin", "globex", []string{}, true, false, ""},
		{"v2 fpm padded", with(v2Claims, setOrg("fpm", " 2 ,\t1")), "org_2", "org:admin", "globex", []string{"org:dashboard:manage", "org:billing:read"}, true, false, ""},
		{"v2 fpm wider than 64 bits", with(v2Claims, setOrg("per", seventyPerms), setOrg("fpm", bit69+",1")), "org_2", "org:admin", "globex",
			[]string{"org:dashboard:p69", "org:billing:p00"}, true, false, ""},
		{"v2 fpm bits beyond per", with(v2Claims, setOrg("fpm", "4,8")), "org_2", "org:admin", "globex", []string{}, true, false, ""},
		{"v2 ou scope", with(v2Claims, set("fea", "u:x,ou:reports")), "org_2", "org:admin", "globex", []string{"org:reports:read", "org:reports:manage"}, true, false, ""},
		{"v2 no per", with(v2Claims, setOrg("per", "")), "org_2", "org:admin", "globex", []string{}, true, false, ""},
		{"v2 no role", with(v2Claims, setOrg("rol", nil)), "org_2", "", "globex", []string{"org:dashboard:read", "org:dashboard:manage", "org:billing:manage"}, true, false, ""},
		{"v2 fea element without scope", with(v2Claims, set("fea", "dashboard")), "org_2", "org:admin", "globex", nil, true, true, ""},
		{"v2 fea a number", with(v2Claims, set("fea", 7)), "org_2", "org:admin", "globex", nil, true, true, ""},
		{"v2 per a number", with(v2Claims, setOrg("per", 3)), "org_2", "org:admin", "globex", nil, true, true, ""},
		{"v2 o a string", with(v2Claims, set("o", "org_2")), "", "", "", []string{}, true, false, ""},
		{"v2 as string is v1", with(v1Claims, set("v", "2")), "org_1", "org:admin", "acme", []string{"org:sys_memberships:manage", "org:invoices:read"}, true, false, ""},
		{"v2 role a number", with(v2Claims, setOrg("rol", 7)), "org_2", "", "globex", []string{"org:dashboard:read", "org:dashboard:manage", "org:billing:manage"}, true, false,
			"Clerk makes the role org:7 from the number; we take no role"},
	}
}

func TestSessionDecodesOrganizationClaims(t *testing.T) {
	for _, tc := range decodeCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := session.New(jsonClaims(t, tc.claims))
			if s.OrgID != tc.orgID || s.OrgRole != tc.orgRole || s.OrgSlug != tc.orgSlug {
				t.Errorf("org = %q %q %q, want %q %q %q", s.OrgID, s.OrgRole, s.OrgSlug, tc.orgID, tc.orgRole, tc.orgSlug)
			}
			if s.Entitlements().HasOrgPermissions != tc.hasPerms || (tc.hasPerms && !tc.malformed && !samePermissions(s.Entitlements().OrgPermissions, tc.perms)) {
				t.Errorf("permissions = %v (array %v), want %v (array %v)", s.Entitlements().OrgPermissions, s.Entitlements().HasOrgPermissions, tc.perms, tc.hasPerms)
			}
			if (s.Entitlements().Malformed != "") != tc.malformed {
				t.Errorf("malformed = %q, want malformed %v", s.Entitlements().Malformed, tc.malformed)
			}
		})
	}
}

func samePermissions(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

// hasCase is one has() question on one set of claims; the conformance test
// asks @clerk/backend the same questions.
type hasCase struct {
	name   string
	claims map[string]any
	kind   string // role, permission, feature, plan, reverification
	value  string // for reverification: "<level>:<minutes>"
	want   bool
}

func hasCases() []hasCase {
	fva := func(a, b any) func(map[string]any) { return set("fva", []any{a, b}) }
	return []hasCase{
		{"v1 role", with(v1Claims), "role", "org:admin", true},
		{"v1 role without prefix", with(v1Claims), "role", "admin", true},
		{"v1 role repeated prefix", with(v1Claims), "role", "org:org:admin", true},
		{"v1 other role", with(v1Claims), "role", "member", false},
		{"v1 role issued without prefix", with(v1Claims, set("org_role", "admin")), "role", "org:admin", true},
		{"v1 role without org", with(v1Claims, set("org_id", "")), "role", "admin", false},
		{"v1 role a number", with(v1Claims, set("org_role", 1)), "role", "1", false},
		{"v1 permission", with(v1Claims), "permission", "org:invoices:read", true},
		{"v1 permission without prefix", with(v1Claims), "permission", "invoices:read", true},
		{"v1 missing permission", with(v1Claims), "permission", "org:invoices:write", false},
		{"v1 permissions not an array", with(v1Claims, set("org_permissions", "org:invoices:read")), "permission", "org:invoices:read", false},
		{"v1 no user", with(v1Claims, set("sub", "")), "role", "admin", false},
		{"v2 role", with(v2Claims), "role", "admin", true},
		{"v2 role with prefix", with(v2Claims), "role", "org:admin", true},
		{"v2 other role", with(v2Claims), "role", "org:member", false},
		{"v2 role without o", with(set("v", 2)), "role", "admin", false},
		{"v2 permission bit 0", with(v2Claims), "permission", "org:dashboard:read", true},
		{"v2 permission bit 1", with(v2Claims), "permission", "dashboard:manage", true},
		{"v2 permission bit not set", with(v2Claims), "permission", "org:billing:read", false},
		{"v2 permission of a user feature", with(v2Claims), "permission", "org:export:read", false},
		{"v2 permission fpm shorter", with(v2Claims, setOrg("fpm", "3")), "permission", "org:billing:manage", false},
		{"v2 permission fpm garbage", with(v2Claims, setOrg("fpm", "3,2x")), "permission", "org:billing:manage", false},
		{"v2 permission fpm padded", with(v2Claims, setOrg("fpm", "3, 2")), "permission", "org:billing:manage", true},
		{"v2 permission beyond 64 bits", with(v2Claims, setOrg("per", seventyPerms), setOrg("fpm", bit69+",0")), "permission", "org:dashboard:p69", true},
		{"v2 permission beyond 64 bits unset", with(v2Claims, setOrg("per", seventyPerms), setOrg("fpm", bit69+",0")), "permission", "org:dashboard:p68", false},
		{"v2 permission ou feature", with(v2Claims, set("fea", "ou:reports"), setOrg("fpm", "2")), "permission", "org:reports:manage", true},
		{"v2 feature org", with(v2Claims), "feature", "dashboard", true},
		{"v2 feature org scoped", with(v2Claims), "feature", "org:billing", true},
		{"v2 feature o scoped", with(v2Claims), "feature", "o:billing", true},
		{"v2 feature user asked as org", with(v2Claims), "feature", "org:export", false},
		{"v2 feature user", with(v2Claims), "feature", "user:export", true},
		{"v2 feature u scoped", with(v2Claims), "feature", "u:export", true},
		{"v2 feature missing", with(v2Claims), "feature", "sso", false},
		{"v2 feature bad scope", with(v2Claims), "feature", "team:dashboard", false},
		{"v2 feature scope only", with(v2Claims, set("fea", "o:o")), "feature", "o:", true},
		{"v2 feature three parts", with(v2Claims), "feature", "o:billing:extra", true},
		{"v2 feature claim malformed", with(set("fea", "dashboard")), "feature", "dashboard", false},
		{"v2 feature claim padded", with(set("fea", " u:export , o:x")), "feature", "export", true},
		{"feature claim a number", with(set("fea", 1)), "feature", "1", false},
		{"v2 plan user", with(v2Claims), "plan", "pro", true},
		{"v2 plan user scoped", with(v2Claims), "plan", "user:pro", true},
		{"v2 plan org", with(v2Claims), "plan", "org:team", true},
		{"v2 plan org asked as user", with(v2Claims), "plan", "u:team", false},
		{"v2 plan missing", with(v2Claims), "plan", "enterprise", false},
		{"v2 no plan claim", with(set("v", 2)), "plan", "pro", false},
		{"v1 plan", with(v1Claims, set("pla", "u:pro")), "plan", "pro", true},
		{"reverify fresh second factor", with(fva(3, 5)), "reverification", "second_factor:10", true},
		{"reverify stale second factor", with(fva(3, 10)), "reverification", "second_factor:10", false},
		{"reverify second factor falls back to first", with(fva(3, -1)), "reverification", "second_factor:10", true},
		{"reverify first factor", with(fva(9, 100)), "reverification", "first_factor:10", true},
		{"reverify first factor stale", with(fva(10, 0)), "reverification", "first_factor:10", false},
		{"reverify multi factor", with(fva(2, 2)), "reverification", "multi_factor:10", true},
		{"reverify multi factor one stale", with(fva(20, 2)), "reverification", "multi_factor:10", false},
		{"reverify multi factor no first", with(fva(-1, 2)), "reverification", "multi_factor:10", false},
		{"reverify multi factor no second", with(fva(2, -1)), "reverification", "multi_factor:10", true},
		{"reverify no factors", with(fva(-1, -1)), "reverification", "first_factor:10", false},
		{"reverify no fva", with(), "reverification", "second_factor:10", false},
		{"reverify fva wrong type", with(set("fva", "3,5")), "reverification", "second_factor:10", false},
		{"reverify fva string ages", with(fva("1", "1")), "reverification", "second_factor:10", false},
		{"reverify fva negative", with(fva(-2, 1)), "reverification", "second_factor:10", false},
		{"reverify fva three ages", with(set("fva", []any{1, 1, 1})), "reverification", "second_factor:10", false},
	}
}

// askHas answers one hasCase with our implementation.
func askHas(t testing.TB, c hasCase) bool {
	t.Helper()
	s := session.New(jsonClaims(t, c.claims))
	if s.Entitlements().Malformed != "" {
		return false
	}
	switch c.kind {
	case "role":
		return policy.HasRole(s, c.value)
	case "permission":
		return policy.HasPermission(s, c.value)
	case "feature":
		return policy.HasEntitlement(s, s.Entitlements().Features, c.value)
	case "plan":
		return policy.HasEntitlement(s, s.Entitlements().Plans, c.value)
	case "reverification":
		rv := parseReverificationQuestion(t, c.value)
		return policy.HasReverification(s, rv)
	}
	t.Fatalf("unknown kind %q", c.kind)
	return false
}

func parseReverificationQuestion(t testing.TB, v string) *policy.Reverification {
	level, minutes, _ := strings.Cut(v, ":")
	d, err := time.ParseDuration(minutes + "m")
	if err != nil {
		t.Fatal(err)
	}
	return &policy.Reverification{Level: level, AfterMinutes: int64(d / time.Minute)}
}

func TestHasAnswersAsClerk(t *testing.T) {
	for _, c := range hasCases() {
		t.Run(c.name, func(t *testing.T) {
			if got := askHas(t, c); got != c.want {
				t.Errorf("has(%s %q) = %v, want %v", c.kind, c.value, got, c.want)
			}
		})
	}
}

// Rules through the handler: each kind on v1 and v2 tokens, allow and deny.
func TestRequireRules(t *testing.T) {
	rule := func(kind string, values ...string) Rule { return Rule{Kind: kind, Values: values} }
	tests := []struct {
		name   string
		rules  []Rule
		deny   bool // deny impersonated
		claims []func(map[string]any)
		reason string // "" = allowed
	}{
		{"any org v1", []Rule{rule("org")}, false, []func(map[string]any){v1Claims}, ""},
		{"any org v2", []Rule{rule("org")}, false, []func(map[string]any){v2Claims}, ""},
		{"any org, none", []Rule{rule("org")}, false, nil, wire.ReasonMissingOrganization},
		{"org by slug", []Rule{rule("org", "globex")}, false, []func(map[string]any){v2Claims}, ""},
		{"org by id", []Rule{rule("org", "org_1", "org_9")}, false, []func(map[string]any){v1Claims}, ""},
		{"other org", []Rule{rule("org", "acme")}, false, []func(map[string]any){v2Claims}, wire.ReasonMissingOrganization},
		{"role v1", []Rule{rule("role", "member", "admin")}, false, []func(map[string]any){v1Claims}, ""},
		{"role v2", []Rule{rule("role", "org:admin")}, false, []func(map[string]any){v2Claims}, ""},
		{"role missing", []Rule{rule("role", "billing")}, false, []func(map[string]any){v2Claims}, wire.ReasonMissingRole},
		{"permission v1", []Rule{rule("permission", "invoices:read")}, false, []func(map[string]any){v1Claims}, ""},
		{"permission v2 fpm", []Rule{rule("permission", "org:billing:manage")}, false, []func(map[string]any){v2Claims}, ""},
		{"permission v2 fpm unset bit", []Rule{rule("permission", "org:billing:read")}, false, []func(map[string]any){v2Claims}, wire.ReasonMissingPermission},
		{"feature", []Rule{rule("feature", "sso", "dashboard")}, false, []func(map[string]any){v2Claims}, ""},
		{"feature missing", []Rule{rule("feature", "sso")}, false, []func(map[string]any){v2Claims}, wire.ReasonMissingFeature},
		{"plan", []Rule{rule("plan", "user:pro")}, false, []func(map[string]any){v2Claims}, ""},
		{"plan missing", []Rule{rule("plan", "enterprise")}, false, []func(map[string]any){v2Claims}, wire.ReasonMissingPlan},
		{"user", []Rule{rule("user", "user_9", "user_1")}, false, nil, ""},
		{"user other", []Rule{rule("user", "user_9")}, false, nil, wire.ReasonUserNotAllowed},
		{"claim string", []Rule{{Kind: "claim", Path: "metadata.tier", Values: []string{"gold"}}}, false,
			[]func(map[string]any){set("metadata", map[string]any{"tier": "gold"})}, ""},
		{"claim number", []Rule{{Kind: "claim", Path: "level", Values: []string{"3"}}}, false, []func(map[string]any){set("level", 3)}, ""},
		{"claim array", []Rule{{Kind: "claim", Path: "groups", Values: []string{"ops"}}}, false, []func(map[string]any){set("groups", []any{"dev", "ops"})}, ""},
		{"claim object", []Rule{{Kind: "claim", Path: "metadata", Values: []string{"gold"}}}, false,
			[]func(map[string]any){set("metadata", map[string]any{"tier": "gold"})}, wire.ReasonMissingClaim},
		{"claim absent", []Rule{{Kind: "claim", Path: "metadata.tier", Values: []string{"gold"}}}, false, nil, wire.ReasonMissingClaim},
		{"verified within", []Rule{{Kind: "verified_within", Within: caddy.Duration(10 * time.Minute)}}, false,
			[]func(map[string]any){set("fva", []any{0, 2})}, ""},
		{"verified too long ago", []Rule{{Kind: "verified_within", Within: caddy.Duration(10 * time.Minute)}}, false,
			[]func(map[string]any){set("fva", []any{0, 12})}, wire.ReasonReverificationRequired},
		{"impersonated", nil, true, []func(map[string]any){set("act", map[string]any{"sub": "user_admin"})}, wire.ReasonImpersonationDenied},
		{"act of the wrong type", nil, true, []func(map[string]any){set("act", "user_admin")}, wire.ReasonImpersonationDenied},
		{"not impersonated", nil, true, nil, ""},
		{"all rules hold", []Rule{rule("org", "globex"), rule("role", "admin"), rule("plan", "team")}, true, []func(map[string]any){v2Claims}, ""},
		{"second of three fails", []Rule{rule("org", "globex"), rule("role", "member"), rule("plan", "team")}, false, []func(map[string]any){v2Claims}, wire.ReasonMissingRole},
		{"malformed claims deny every rule", []Rule{rule("user", "user_1")}, false, []func(map[string]any){v2Claims, set("fea", "dashboard")}, wire.ReasonUserNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHandler(t, func(h *Handler) { h.Require, h.DenyImpersonated = tc.rules, tc.deny })
			r := newRequest("GET", "https://app.example.com/api/x", "Authorization", "Bearer "+sessionToken(t, tc.claims...))
			out := serve(h, r)
			if tc.reason == "" {
				if out.status() != http.StatusOK || out.upstream == nil {
					t.Fatalf("status %d (%v), want the request to go on", out.status(), out.err)
				}
				return
			}
			if out.status() != http.StatusForbidden || out.upstream != nil {
				t.Fatalf("status %d, upstream reached %v; want 403", out.status(), out.upstream != nil)
			}
			if got := out.rec.Header().Get(wire.HeaderAuthReason); got != tc.reason {
				t.Errorf("reason header %q, want %q", got, tc.reason)
			}
			if got := out.rec.Header().Get(wire.HeaderAuthStatus); got != wire.StatusSignedIn {
				t.Errorf("status header %q, want signed-in", got)
			}
			if got, _ := out.repl.GetString("http.auth.clerk.reason"); got != tc.reason {
				t.Errorf("reason placeholder %q, want %q", got, tc.reason)
			}
		})
	}
}

func TestReverificationAnswers(t *testing.T) {
	h := newTestHandler(t, func(h *Handler) {
		h.Require = []Rule{{Kind: "verified_within", Within: caddy.Duration(10 * time.Minute), Level: "multi_factor"}}
	})
	token := sessionToken(t, set("fva", []any{30, 30}))

	t.Run("API request gets Clerk's reverification hint", func(t *testing.T) {
		out := serve(h, newRequest("POST", "https://app.example.com/api/pay", "Authorization", "Bearer "+token))
		if out.err != nil || out.rec.Code != http.StatusForbidden {
			t.Fatalf("err %v, status %d; want a written 403", out.err, out.rec.Code)
		}
		if ct := out.rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		want := `{"clerk_error":{"metadata":{"reverification":{"level":"multi_factor","afterMinutes":10}},"reason":"reverification-error","type":"forbidden"}}`
		if got := out.rec.Body.String(); got != want {
			t.Errorf("body %s\nwant %s", got, want)
		}
		if got := out.rec.Header().Get(wire.HeaderAuthReason); got != wire.ReasonReverificationRequired {
			t.Errorf("reason %q", got)
		}
	})
	t.Run("page load gets a 403 error for handle_errors", func(t *testing.T) {
		out := serve(h, newRequest("GET", "https://app.example.com/billing", "Authorization", "Bearer "+token, "Sec-Fetch-Dest", "document"))
		he, ok := out.err.(caddyhttp.HandlerError)
		if !ok || he.StatusCode != http.StatusForbidden {
			t.Fatalf("err %v; want a 403 caddyhttp.Error", out.err)
		}
		if out.rec.Body.Len() != 0 {
			t.Errorf("body written: %q", out.rec.Body.String())
		}
	})
}

func TestRulesRequireASessionInOptionalMode(t *testing.T) {
	plain := newTestHandler(t, func(h *Handler) { h.Mode = "optional" })
	if out := serve(plain, newRequest("GET", "https://app.example.com/api/x")); out.status() != http.StatusOK {
		t.Fatalf("optional without rules: status %d, want 200", out.status())
	}
	ruled := newTestHandler(t, func(h *Handler) { h.Mode = "optional"; h.DenyImpersonated = true })
	out := serve(ruled, newRequest("GET", "https://app.example.com/api/x"))
	if out.status() != http.StatusUnauthorized || out.rec.Header().Get(wire.HeaderAuthStatus) != wire.StatusSignedOut {
		t.Fatalf("optional with rules: status %d (%s), want 401 signed-out", out.status(), out.rec.Header().Get(wire.HeaderAuthStatus))
	}
}

// TestUpstreamHeaders checks which headers each upstream_headers setting
// passes on: the placeholders are set whatever the setting, and a client's
// forged X-Clerk-* headers never get through.
func TestUpstreamHeaders(t *testing.T) {
	wantPlaceholders := map[string]string{
		"http.auth.user.id":              "user_1",
		"http.auth.user.org_id":          "org_2",
		"http.auth.user.org_role":        "org:admin",
		"http.auth.user.org_slug":        "globex",
		"http.auth.user.org_permissions": "org:dashboard:read,org:dashboard:manage,org:billing:manage",
		"http.auth.user.plan":            "pro,team",
		"http.auth.user.features":        "export,dashboard,billing",
	}
	identity := map[string]string{wire.HeaderUserID: "user_1", wire.HeaderSessionID: "sess_1", wire.HeaderOrgID: "org_2", wire.HeaderOrgRole: "org:admin", wire.HeaderOrgSlug: "globex"}
	entitlements := map[string]string{
		wire.HeaderOrgPermissions: wantPlaceholders["http.auth.user.org_permissions"],
		wire.HeaderPlan:           "pro,team",
		wire.HeaderFeatures:       "export,dashboard,billing",
	}
	for _, tc := range []struct {
		setting                string
		identity, entitlements bool
	}{
		{"", true, false},
		{"identity", true, false},
		{"all", true, true},
		{"off", false, false},
	} {
		t.Run("upstream_headers="+tc.setting, func(t *testing.T) {
			h := newTestHandler(t, func(h *Handler) { h.UpstreamHeaders = tc.setting })
			r := newRequest("GET", "https://app.example.com/", "Authorization", "Bearer "+sessionToken(t, v2Claims),
				wire.HeaderPlan, "forged", wire.HeaderOrgPermissions, "org:all:all", wire.HeaderUserID, "user_forged", "X_Clerk_Org_Role", "org:owner")
			out := serve(h, r)
			if out.upstream == nil {
				t.Fatalf("status %d", out.status())
			}
			for k, v := range wantPlaceholders {
				if got, _ := out.repl.GetString(k); got != v {
					t.Errorf("{%s} = %q, want %q", k, got, v)
				}
			}
			for _, group := range []struct {
				headers map[string]string
				want    bool
			}{{identity, tc.identity}, {entitlements, tc.entitlements}} {
				for name, v := range group.headers {
					got := out.upstream.Header.Values(name)
					switch {
					case group.want && (len(got) != 1 || got[0] != v):
						t.Errorf("upstream %s = %q, want %q", name, got, v)
					case !group.want && len(got) != 0:
						t.Errorf("upstream %s = %q, want none", name, got)
					}
				}
			}
			for name := range out.upstream.Header {
				if isIdentityHeaderName(name) && !tc.identity {
					t.Errorf("upstream_headers %q passed %s on", tc.setting, name)
				}
			}
			if got := out.upstream.Header.Values("X_Clerk_Org_Role"); len(got) != 0 {
				t.Errorf("the client's X_Clerk_Org_Role reached the upstream: %q", got)
			}
		})
	}
}

func TestRuleConfigErrorsNameTheRule(t *testing.T) {
	tests := []struct {
		caddyfile string
		want      string
	}{
		{"require", "require: missing rule kind"},
		{"require colour red", `unknown rule "colour"`},
		{"require role", "require role: needs at least one value"},
		{"require permission", "require permission: needs at least one value"},
		{"require plan", "require plan: needs at least one value"},
		{"require feature team:sso", `require feature: "team:sso": scope "team"`},
		{"require claim tier", "require claim: needs a path and at least one value"},
		{"require metadata", "require metadata: needs a path and at least one value"},
		{"require verified_within", "require verified_within: needs a duration"},
		{"require verified_within soon", `require verified_within: "soon" is not a duration`},
		{"require verified_within 90s", "require verified_within: 1m30s is not a positive whole number of minutes"},
		{"require verified_within 10m third_factor", `require verified_within: level "third_factor"`},
		{"require email_domain user@example.com", `require email_domain: "user@example.com" is not a domain`},
		{"deny", "deny: the only form is 'deny impersonated'"},
		{"deny admins", "deny: the only form is 'deny impersonated'"},
		{"user_details {\n cache_ttl soon\n}", `user_details: cache_ttl: "soon" is not a positive duration`},
		{"user_details {\n metadata a.b\n}", `user_details: metadata: "a.b"`},
	}
	for _, tc := range tests {
		t.Run(tc.caddyfile, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("clerk_auth {\n" + tc.caddyfile + "\n}"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestRulesFromCaddyfile(t *testing.T) {
	var h Handler
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`clerk_auth {
		require org
		require role admin org:billing
		require claim metadata.tier gold silver
		require verified_within 10m multi_factor
		require email_domain example.com *.example.org
		deny impersonated
		user_details {
			cache_ttl 30s
			timeout 1s
			metadata tier plan
		}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Rule{
		{Kind: "org"},
		{Kind: "role", Values: []string{"admin", "org:billing"}},
		{Kind: "claim", Path: "metadata.tier", Values: []string{"gold", "silver"}},
		{Kind: "verified_within", Within: caddy.Duration(10 * time.Minute), Level: "multi_factor"},
		{Kind: "email_domain", Values: []string{"example.com", "*.example.org"}},
	}
	if !reflect.DeepEqual(h.Require, want) {
		t.Errorf("rules\n%+v\nwant\n%+v", h.Require, want)
	}
	if !h.DenyImpersonated {
		t.Error("deny impersonated not set")
	}
	wantUD := &UserDetails{CacheTTL: caddy.Duration(30 * time.Second), Timeout: caddy.Duration(time.Second), Metadata: []string{"tier", "plan"}}
	if !reflect.DeepEqual(h.UserDetails, wantUD) {
		t.Errorf("user_details %+v, want %+v", h.UserDetails, wantUD)
	}
}

// JSON config is checked at provision, with the same messages.
func TestRuleJSONConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		rules []Rule
		want  string
	}{
		{[]Rule{{Kind: "roles", Values: []string{"admin"}}}, `unknown rule "roles"`},
		{[]Rule{{Kind: "role"}}, "require role: needs at least one value"},
		{[]Rule{{Kind: "role", Values: []string{""}}}, "require role: empty value"},
		{[]Rule{{Kind: "verified_within"}}, "require verified_within: 0s is not a positive whole number of minutes"},
		{[]Rule{{Kind: "role", Values: []string{"a"}, Path: "x"}}, "require role: takes no path"},
	} {
		_, err := compilePolicy(tc.rules, false)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.rules, err, tc.want)
		}
	}
}

func benchRules() []Rule {
	return []Rule{
		{Kind: "org", Values: []string{"globex"}},
		{Kind: "role", Values: []string{"admin"}},
		{Kind: "permission", Values: []string{"org:billing:manage"}},
		{Kind: "plan", Values: []string{"team"}},
	}
}

func BenchmarkDecodeV2Session(b *testing.B) {
	claims, payload := jsonClaims(b, with(v2Claims))
	for b.Loop() {
		session.New(claims, payload).Entitlements()
	}
}

func BenchmarkPolicyEvaluate(b *testing.B) {
	p, err := compilePolicy(benchRules(), true)
	if err != nil {
		b.Fatal(err)
	}
	s := session.New(jsonClaims(b, with(v2Claims)))
	for b.Loop() {
		if p.Evaluate(s, nil, orgsync.Target{}) != nil {
			b.Fatal("denied")
		}
	}
}

// BenchmarkServe compares a signed-in request through the handler with and
// without four rules.
func BenchmarkServe(b *testing.B) {
	token := sessionToken(b, v2Claims)
	for name, rules := range map[string][]Rule{"no rules": nil, "four rules": benchRules()} {
		b.Run(name, func(b *testing.B) {
			h := newTestHandler(b, func(h *Handler) { h.Require = rules })
			for b.Loop() {
				if out := serve(h, newRequest("GET", "https://app.example.com/api/x", "Authorization", "Bearer "+token)); out.upstream == nil {
					b.Fatalf("status %d", out.status())
				}
			}
		})
	}
}

// Claims of the wrong JSON type deny the rule that reads them, and nothing
// panics, whatever claim holds whatever value.
func TestWrongClaimTypesDeny(t *testing.T) {
	weird := []any{nil, 0, 1, true, false, "", []any{}, []any{1}, map[string]any{}, map[string]any{"a": 1}}
	p, err := compilePolicy(benchRules(), true)
	if err != nil {
		t.Fatal(err)
	}
	reverify, err := compilePolicy([]Rule{{Kind: "verified_within", Within: caddy.Duration(time.Hour)}}, false)
	if err != nil {
		t.Fatal(err)
	}
	// Which rule each claim feeds; replacing it with a value of another
	// type must make that rule deny.
	feeds := map[string]string{
		"o.id": wire.ReasonMissingOrganization, "o.slg": wire.ReasonMissingOrganization, "o.rol": wire.ReasonMissingRole,
		"o.per": wire.ReasonMissingPermission, "o.fpm": wire.ReasonMissingPermission, "fea": wire.ReasonMissingPermission,
		"pla": wire.ReasonMissingPlan, "o": wire.ReasonMissingOrganization, "v": wire.ReasonMissingOrganization,
	}
	for claim, reason := range feeds {
		for _, v := range weird {
			c := with(v2Claims, set("fva", []any{1, 1}))
			if org, key, nested := strings.Cut(claim, "."); nested {
				c[org].(map[string]any)[key] = v
			} else {
				c[claim] = v
			}
			s := session.New(jsonClaims(t, c))
			dn := p.Evaluate(s, nil, orgsync.Target{})
			if claim == "o.slg" {
				// The org rule also matches by id: only a wrong id denies.
				continue
			}
			if dn == nil || (dn.Reason != reason && s.Entitlements().Malformed == "") {
				t.Errorf("%s = %#v: denial %+v, want %s", claim, v, dn, reason)
			}
		}
	}
	for _, v := range weird {
		if dn := reverify.Evaluate(session.New(jsonClaims(t, with(set("fva", v)))), nil, orgsync.Target{}); dn == nil {
			t.Errorf("fva = %#v: allowed", v)
		}
	}
}
