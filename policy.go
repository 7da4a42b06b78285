package clerkauth

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/clerk-edge/clerk_auth/internal/orgsync"
	"github.com/clerk-edge/clerk_auth/internal/session"
	"github.com/clerk-edge/clerk_auth/internal/users"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// Rule is one authorization requirement on a signed-in session. All rules
// of a handler apply (AND); the values of one rule are alternatives (OR).
// JSON examples:
//
//	{"kind": "role", "values": ["admin", "org:billing"]}
//	{"kind": "claim", "path": "metadata.tier", "values": ["gold"]}
//	{"kind": "verified_within", "within": "10m", "level": "second_factor"}
//
// See docs/authorization.md for every kind.
type Rule struct {
	// Kind is one of org, role, permission, feature, plan, user, claim,
	// verified_within, email_domain, metadata, org_from_url (which needs
	// organization_sync and takes no values).
	Kind string `json:"kind"`

	// Values are the alternatives the session must match: organization ids
	// or slugs, role or permission keys (with or without Clerk's "org:"
	// prefix), feature or plan slugs (optionally scoped "user:" / "org:"),
	// user ids, claim or metadata values, email domains. Empty only for
	// "org" (any active organization) and "verified_within".
	Values []string `json:"values,omitempty"`

	// Path is the dot-separated claim path (kind claim) or public metadata
	// key (kind metadata).
	Path string `json:"path,omitempty"`

	// Within is how recently the factor must have been verified (kind
	// verified_within): a whole number of minutes, as Clerk counts them.
	Within caddy.Duration `json:"within,omitempty"`

	// Level is the factor for verified_within: first_factor,
	// second_factor (default) or multi_factor, as in Clerk's
	// reverification config.
	Level string `json:"level,omitempty"`
}

// Rule kinds.
const (
	ruleOrg            = "org"
	ruleRole           = "role"
	rulePermission     = "permission"
	ruleFeature        = "feature"
	rulePlan           = "plan"
	ruleUser           = "user"
	ruleClaim          = "claim"
	ruleVerifiedWithin = "verified_within"
	ruleEmailDomain    = "email_domain"
	ruleMetadata       = "metadata"
	ruleImpersonated   = "impersonated" // deny impersonated
	ruleOrgFromURL     = "org_from_url" // organization_sync's URL (orgsync.go)
)

// Reverification levels of Clerk's SessionVerificationLevel.
var reverificationLevels = map[string]bool{"first_factor": true, "second_factor": true, "multi_factor": true}

// rule is a compiled Rule: allow answers it for one session and, when
// needsUser, the user's details from the Backend API.
type rule struct {
	name      string // "require role", for logs and config errors
	text      string // the whole rule, "require role admin", for clerk-diagnose
	reason    string
	needsUser bool
	allow     func(s *session.Session, u *users.Details) bool
	reverify  *reverification
	// allowURL, when set, answers instead of allow, from the organization
	// the request's URL names (require org_from_url).
	allowURL func(s *session.Session, t orgsync.Target) bool
}

// reverification is Clerk's ReverificationConfig object.
type reverification struct {
	Level        string `json:"level"`
	AfterMinutes int64  `json:"afterMinutes"`
}

// policy is a handler's compiled rules: the ones the token answers first,
// then those that need a user lookup.
type policy struct {
	rules     []rule
	needsUser bool
	// needsURLOrg: a rule reads the URL's organization (org_from_url).
	needsURLOrg bool
}

// denial says which rule refused a session.
type denial struct {
	rule   *rule
	reason string
}

func compilePolicy(rules []Rule, denyImpersonated bool) (*policy, error) {
	p := &policy{}
	var userRules []rule
	for _, r := range rules {
		c, err := compileRule(r)
		if err != nil {
			return nil, err
		}
		p.needsURLOrg = p.needsURLOrg || c.allowURL != nil
		if c.needsUser {
			userRules = append(userRules, c)
			p.needsUser = true
		} else {
			p.rules = append(p.rules, c)
		}
	}
	if denyImpersonated {
		p.rules = append(p.rules, rule{name: "deny impersonated", text: "deny impersonated", reason: wire.ReasonImpersonationDenied, allow: notImpersonated})
	}
	p.rules = append(p.rules, userRules...)
	return p, nil
}

// ruleText is the rule as a Caddyfile line.
func ruleText(r Rule) string {
	parts := []string{"require", r.Kind}
	if r.Path != "" {
		parts = append(parts, r.Path)
	}
	if r.Within != 0 {
		parts = append(parts, time.Duration(r.Within).String())
	}
	if r.Level != "" {
		parts = append(parts, r.Level)
	}
	return strings.Join(append(parts, r.Values...), " ")
}

func (p *policy) empty() bool { return p == nil || len(p.rules) == 0 }

// compileRule checks one rule; every error names it.
func compileRule(r Rule) (rule, error) {
	name := "require " + r.Kind
	fail := func(format string, args ...any) (rule, error) {
		return rule{}, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...))
	}
	for _, v := range r.Values {
		if v == "" {
			return fail("empty value")
		}
	}
	needValues := func() error {
		if len(r.Values) == 0 {
			return fmt.Errorf("%s: needs at least one value", name)
		}
		return nil
	}
	if r.Path != "" && r.Kind != ruleClaim && r.Kind != ruleMetadata {
		return fail("takes no path")
	}
	if (r.Within != 0 || r.Level != "") && r.Kind != ruleVerifiedWithin {
		return fail("takes no within or level")
	}
	values := r.Values
	c := rule{name: name, text: ruleText(r)}
	switch r.Kind {
	case ruleOrg:
		c.reason = wire.ReasonMissingOrganization
		c.allow = func(s *session.Session, _ *users.Details) bool { return inOrg(s, values) }
	case ruleRole:
		c.reason = wire.ReasonMissingRole
		c.allow = func(s *session.Session, _ *users.Details) bool {
			return anyOf(values, func(v string) bool { return hasRole(s, v) })
		}
	case rulePermission:
		c.reason = wire.ReasonMissingPermission
		c.allow = func(s *session.Session, _ *users.Details) bool {
			return anyOf(values, func(v string) bool { return hasPermission(s, v) })
		}
	case ruleFeature, rulePlan:
		for _, v := range values {
			if err := checkEntitlementScope(v); err != nil {
				return fail("%v", err)
			}
		}
		c.reason = wire.ReasonMissingFeature
		pick := func(s *session.Session) string { return s.Entitlements().Features }
		if r.Kind == rulePlan {
			c.reason = wire.ReasonMissingPlan
			pick = func(s *session.Session) string { return s.Entitlements().Plans }
		}
		c.allow = func(s *session.Session, _ *users.Details) bool {
			return anyOf(values, func(v string) bool { return hasEntitlement(s, pick(s), v) })
		}
	case ruleUser:
		c.reason = wire.ReasonUserNotAllowed
		c.allow = func(s *session.Session, _ *users.Details) bool {
			return s.UserID != "" && slices.Contains(values, s.UserID)
		}
	case ruleClaim, ruleMetadata:
		if r.Path == "" {
			return fail("needs a path and at least one value")
		}
		path := r.Path
		if r.Kind == ruleClaim {
			c.reason = wire.ReasonMissingClaim
			c.allow = func(s *session.Session, _ *users.Details) bool {
				return valueMatches(lookupPath(s.RawClaims(), path), values)
			}
		} else {
			c.reason, c.needsUser = wire.ReasonMissingMetadata, true
			c.allow = func(_ *session.Session, u *users.Details) bool {
				return valueMatches(lookupPath(u.PublicMetadata, path), values)
			}
		}
	case ruleVerifiedWithin:
		rv, err := compileReverification(r)
		if err != nil {
			return fail("%v", err)
		}
		c.reason, c.reverify = wire.ReasonReverificationRequired, rv
		c.allow = func(s *session.Session, _ *users.Details) bool { return hasReverification(s, rv) }
	case ruleEmailDomain:
		domains := make([]string, len(values))
		for i, v := range values {
			domains[i] = strings.ToLower(v)
			if strings.Contains(v, "@") || strings.Trim(strings.TrimPrefix(domains[i], "*."), ".") == "" {
				return fail("%q is not a domain", v)
			}
		}
		c.reason, c.needsUser = wire.ReasonEmailDomainNotAllowed, true
		c.allow = func(_ *session.Session, u *users.Details) bool { return emailDomainAllowed(u, domains) }
	case ruleOrgFromURL:
		if len(values) > 0 {
			return fail("takes no values (the URL names the organization)")
		}
		c.reason, c.allowURL = wire.ReasonOrganizationNotFromURL, orgFromURL
	default:
		return rule{}, fmt.Errorf("require: unknown rule %q (want org, role, permission, feature, plan, user, claim, verified_within, email_domain, metadata or org_from_url)", r.Kind)
	}
	if r.Kind != ruleOrg && r.Kind != ruleVerifiedWithin && r.Kind != ruleOrgFromURL {
		if err := needValues(); err != nil {
			return rule{}, err
		}
	}
	return c, nil
}

func compileReverification(r Rule) (*reverification, error) {
	if len(r.Values) > 0 {
		return nil, fmt.Errorf("takes a duration and a level, not values")
	}
	d := time.Duration(r.Within)
	if d <= 0 || d%time.Minute != 0 {
		return nil, fmt.Errorf("%v is not a positive whole number of minutes (Clerk counts factor age in minutes)", d)
	}
	level := r.Level
	if level == "" {
		level = "second_factor"
	}
	if !reverificationLevels[level] {
		return nil, fmt.Errorf("level %q: want first_factor, second_factor or multi_factor", level)
	}
	return &reverification{Level: level, AfterMinutes: int64(d / time.Minute)}, nil
}

// checkEntitlementScope rejects what Clerk's has() would throw on (and so
// never grant): an explicit scope other than o/org/organization/u/user.
func checkEntitlementScope(v string) error {
	scope, _, explicit := strings.Cut(v, ":")
	if explicit && !orgScopes[scope] && !userScopes[scope] {
		return fmt.Errorf("%q: scope %q is not one of user, u, org, o, organization", v, scope)
	}
	return nil
}

// evaluate runs the rules in order. user is called at most once, and only
// when a rule needs it; a lookup failure denies that rule.
func (p *policy) evaluate(s *session.Session, user func() (*users.Details, error)) *denial {
	return p.evaluateAt(s, user, orgsync.Target{})
}

// evaluateAt is evaluate with the organization target of the request's URL
// (the zero Target: none), which org_from_url reads.
func (p *policy) evaluateAt(s *session.Session, user func() (*users.Details, error), urlOrg orgsync.Target) *denial {
	if p == nil {
		return nil
	}
	var u *users.Details
	var lookupErr error
	looked := false
	for i := range p.rules {
		r := &p.rules[i]
		if s.Entitlements().Malformed != "" {
			return &denial{rule: r, reason: r.reason}
		}
		if r.needsUser {
			if !looked {
				u, lookupErr = user()
				looked = true
			}
			if lookupErr != nil || u == nil {
				return &denial{rule: r, reason: wire.ReasonUserLookupFailed}
			}
		}
		if r.allowURL != nil {
			if !r.allowURL(s, urlOrg) {
				return &denial{rule: r, reason: r.reason}
			}
		} else if !r.allow(s, u) {
			return &denial{rule: r, reason: r.reason}
		}
	}
	return nil
}

// The has() dimensions of @clerk/shared's createCheckAuthorization, one
// question at a time. Each first requires a user id, as has() does.

var (
	orgScopes  = map[string]bool{"o": true, "org": true, "organization": true}
	userScopes = map[string]bool{"u": true, "user": true}
)

// prefixWithOrg is value.replace(/^(org:)*/, 'org:').
func prefixWithOrg(v string) string {
	for strings.HasPrefix(v, "org:") {
		v = v[len("org:"):]
	}
	return "org:" + v
}

func hasRole(s *session.Session, role string) bool {
	return s.UserID != "" && s.OrgID != "" && s.OrgRole != "" && prefixWithOrg(s.OrgRole) == prefixWithOrg(role)
}

func hasPermission(s *session.Session, permission string) bool {
	return s.UserID != "" && s.OrgID != "" && s.Entitlements().HasOrgPermissions && slices.Contains(s.Entitlements().OrgPermissions, prefixWithOrg(permission))
}

// hasEntitlement is has({feature}) or has({plan}) on the fea or pla claim.
func hasEntitlement(s *session.Session, claim, asked string) bool {
	if s.UserID == "" || claim == "" {
		return false
	}
	if session.CheckScopes(claim) != nil {
		return false
	}
	orgValues, userValues := session.ScopedParts(claim, session.IsOrgClaimScope), session.ScopedParts(claim, session.IsUserClaimScope)
	// featureOrPlan.split(':') destructured into two: "o:a:b" asks for "a".
	parts := strings.Split(asked, ":")
	scope := parts[0]
	id := scope
	if len(parts) > 1 && parts[1] != "" {
		id = parts[1]
	}
	if len(parts) > 1 {
		switch {
		case orgScopes[scope]:
			return session.Yields(orgValues, id)
		case userScopes[scope]:
			return session.Yields(userValues, id)
		}
		return false
	}
	return session.Yields(orgValues, id) || session.Yields(userValues, id)
}

// hasReverification is checkReverificationAuthorization: fva is [first
// factor age, second factor age] in minutes, -1 for a factor group that is
// not enabled.
func hasReverification(s *session.Session, rv *reverification) bool {
	if s.UserID == "" {
		return false
	}
	f1, f2, ok := factorAges(s.RawClaims()["fva"])
	if !ok || (f1 == -1 && f2 == -1) {
		return false
	}
	after := float64(rv.AfterMinutes)
	fresh1 := f1 != -1 && after > f1
	fresh2 := f2 != -1 && after > f2
	switch rv.Level {
	case "first_factor":
		return fresh1
	case "second_factor":
		if f2 == -1 {
			return fresh1
		}
		return fresh2
	case "multi_factor":
		if f2 == -1 {
			return fresh1
		}
		if f1 == -1 {
			return false
		}
		return fresh1 && fresh2
	}
	return false
}

func factorAges(fva any) (f1, f2 float64, ok bool) {
	arr, isArr := fva.([]any)
	if !isArr || len(arr) != 2 {
		return 0, 0, false
	}
	valid := func(x any) (float64, bool) {
		n, isNum := x.(float64)
		return n, isNum && !math.IsInf(n, 0) && !math.IsNaN(n) && (n == -1 || n >= 0)
	}
	f1, ok1 := valid(arr[0])
	f2, ok2 := valid(arr[1])
	return f1, f2, ok1 && ok2
}

// inOrg: any active organization, or one of the given ids or slugs.
func inOrg(s *session.Session, idsOrSlugs []string) bool {
	if s.UserID == "" || s.OrgID == "" {
		return false
	}
	if len(idsOrSlugs) == 0 {
		return true
	}
	return slices.Contains(idsOrSlugs, s.OrgID) || (s.OrgSlug != "" && slices.Contains(idsOrSlugs, s.OrgSlug))
}

// isImpersonated: any act claim at all, whatever its shape.
func isImpersonated(s *session.Session) bool { return s.Entitlements().Impersonated }

func notImpersonated(s *session.Session, _ *users.Details) bool { return !isImpersonated(s) }

// lookupPath follows a dot-separated path through JSON objects.
func lookupPath(m map[string]any, path string) any {
	var cur any = m
	for _, key := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[key]
	}
	return cur
}

// valueMatches: a string, number or boolean whose text is one of values, or
// an array holding one. Objects and null never match.
func valueMatches(v any, values []string) bool {
	if arr, ok := v.([]any); ok {
		for _, e := range arr {
			if t, ok := scalarText(e); ok && slices.Contains(values, t) {
				return true
			}
		}
		return false
	}
	t, ok := scalarText(v)
	return ok && slices.Contains(values, t)
}

func scalarText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// emailDomainAllowed: the primary email address, verified, in one of the
// domains; "*.example.com" stands for its subdomains.
func emailDomainAllowed(u *users.Details, domains []string) bool {
	if u.Email == "" || !u.EmailVerified {
		return false
	}
	at := strings.LastIndexByte(u.Email, '@')
	if at < 0 {
		return false
	}
	domain := strings.ToLower(u.Email[at+1:])
	for _, d := range domains {
		if sub, ok := strings.CutPrefix(d, "*."); ok {
			if strings.HasSuffix(domain, "."+sub) {
				return true
			}
		} else if domain == d {
			return true
		}
	}
	return false
}

func anyOf(values []string, pred func(string) bool) bool {
	for _, v := range values {
		if pred(v) {
			return true
		}
	}
	return false
}

// parseRequire reads one "require <kind> ..." line and checks it, so that a
// bad rule fails at load with its line.
func parseRequire(d *caddyfile.Dispenser) (Rule, error) {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return Rule{}, d.Errf("require: missing rule kind")
	}
	r := Rule{Kind: args[0]}
	rest := args[1:]
	switch r.Kind {
	case ruleClaim, ruleMetadata:
		if len(rest) < 2 {
			return Rule{}, d.Errf("require %s: needs a path and at least one value", r.Kind)
		}
		r.Path, rest = rest[0], rest[1:]
	case ruleVerifiedWithin:
		if len(rest) == 0 || len(rest) > 2 {
			return Rule{}, d.Errf("require verified_within: needs a duration and optionally a level")
		}
		dur, err := caddy.ParseDuration(rest[0])
		if err != nil {
			return Rule{}, d.Errf("require verified_within: %q is not a duration: %v", rest[0], err)
		}
		r.Within = caddy.Duration(dur)
		if len(rest) == 2 {
			r.Level = rest[1]
		}
		rest = nil
	}
	if len(rest) > 0 {
		r.Values = rest
	}
	if _, err := compileRule(r); err != nil {
		return Rule{}, d.Err(err.Error())
	}
	return r, nil
}
