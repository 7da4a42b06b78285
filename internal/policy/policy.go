// Package policy is clerk_auth's authorization rules (docs/authorization.md):
// compiled once from their config (Spec), evaluated on a signed-in session
// in order, the first that refuses it named with its reason. The has()
// dimensions follow @clerk/shared's createCheckAuthorization.
package policy

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/machine"
	"github.com/clerk-edge/clerk_auth/internal/orgsync"
	"github.com/clerk-edge/clerk_auth/internal/session"
	"github.com/clerk-edge/clerk_auth/internal/users"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// Spec is one rule as configured: the root's Rule, its Within a plain
// duration. See the root's Rule for the fields.
type Spec struct {
	Kind   string
	Values []string
	Path   string
	Within time.Duration
	Level  string
}

// Rule kinds.
const (
	KindOrg            = "org"
	KindRole           = "role"
	KindPermission     = "permission"
	KindFeature        = "feature"
	KindPlan           = "plan"
	KindUser           = "user"
	KindClaim          = "claim"
	KindVerifiedWithin = "verified_within"
	KindEmailDomain    = "email_domain"
	KindMetadata       = "metadata"
	KindImpersonated   = "impersonated" // deny impersonated
	KindOrgFromURL     = "org_from_url" // organization_sync's URL (the root's orgsync.go)
	// KindScope and KindMachine are about machine tokens
	// (docs/machine-auth.md): a session has neither scopes nor a machine.
	KindScope   = "scope"
	KindMachine = "machine"
)

// Reverification levels of Clerk's SessionVerificationLevel.
var reverificationLevels = map[string]bool{"first_factor": true, "second_factor": true, "multi_factor": true}

// Rule is a compiled Spec: allow answers it for one session and, when
// needsUser, the user's details from the Backend API.
type Rule struct {
	Name      string // "require role", for logs and config errors
	Text      string // the whole rule, "require role admin", for clerk-diagnose
	Reason    string
	needsUser bool
	allow     func(s *session.Session, u *users.Details) bool
	// Reverify is the factor age a verified_within rule asks for: Clerk's
	// reverificationError reports it.
	Reverify *Reverification
	// allowURL, when set, answers instead of allow, from the organization
	// the request's URL names (require org_from_url).
	allowURL func(s *session.Session, t orgsync.Target) bool
	// allowMachine answers for a machine token; a rule without it is about
	// sessions and refuses every machine token, with its own reason (a
	// machine token has no role, no organization membership...). A rule
	// with it and without allow refuses every session.
	allowMachine func(m *machine.Result) bool
	// notForMachines: the rule does not apply to machine tokens (deny
	// impersonated: no one impersonates a machine token).
	notForMachines bool
}

// Reverification is Clerk's ReverificationConfig object.
type Reverification struct {
	Level        string `json:"level"`
	AfterMinutes int64  `json:"afterMinutes"`
}

// Policy is a handler's compiled rules: the ones the token answers first,
// then those that need a user lookup.
type Policy struct {
	rules     []Rule
	needsUser bool
	// needsURLOrg: a rule reads the URL's organization (org_from_url).
	needsURLOrg bool
}

// Denial says which rule refused a session.
type Denial struct {
	Rule   *Rule
	Reason string
}

// URLCheck answers require org_from_url from the organization the
// request's URL names (organization_sync's, in the root's orgsync.go).
type URLCheck func(s *session.Session, t orgsync.Target) bool

// Compile compiles the rules in order, deny impersonated after those the
// token answers and before those that need the user; orgFromURL answers
// require org_from_url (without one, that rule denies).
func Compile(rules []Spec, denyImpersonated bool, orgFromURL URLCheck) (*Policy, error) {
	p := &Policy{}
	var userRules []Rule
	for _, r := range rules {
		c, err := compileRule(r)
		if err != nil {
			return nil, err
		}
		if c.allowURL != nil && orgFromURL != nil {
			c.allowURL = orgFromURL
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
		p.rules = append(p.rules, Rule{Name: "deny impersonated", Text: "deny impersonated", Reason: wire.ReasonImpersonationDenied, allow: notImpersonated, notForMachines: true})
	}
	p.rules = append(p.rules, userRules...)
	return p, nil
}

// text is the rule as a Caddyfile line.
func text(r Spec) string {
	parts := []string{"require", r.Kind}
	if r.Path != "" {
		parts = append(parts, r.Path)
	}
	if r.Within != 0 {
		parts = append(parts, r.Within.String())
	}
	if r.Level != "" {
		parts = append(parts, r.Level)
	}
	return strings.Join(append(parts, r.Values...), " ")
}

// Empty tells whether there is no rule to apply.
func (p *Policy) Empty() bool { return p == nil || len(p.rules) == 0 }

// NeedsURLOrg tells whether a rule reads the URL's organization
// (org_from_url): only then is it found for the rules.
func (p *Policy) NeedsURLOrg() bool { return p != nil && p.needsURLOrg }

// NeedsUser tells whether a rule reads the user's details from the Backend
// API (email_domain, metadata).
func (p *Policy) NeedsUser() bool { return p != nil && p.needsUser }

// Check checks one rule as Compile would; every error names it.
func Check(r Spec) error {
	_, err := compileRule(r)
	return err
}

// noURLCheck stands in for require org_from_url's check until Compile sets
// the caller's: a rule checked alone is never evaluated.
func noURLCheck(*session.Session, orgsync.Target) bool { return false }

// compileRule checks one rule; every error names it.
func compileRule(r Spec) (Rule, error) {
	name := "require " + r.Kind
	fail := func(format string, args ...any) (Rule, error) {
		return Rule{}, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...))
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
	if r.Path != "" && r.Kind != KindClaim && r.Kind != KindMetadata {
		return fail("takes no path")
	}
	if (r.Within != 0 || r.Level != "") && r.Kind != KindVerifiedWithin {
		return fail("takes no within or level")
	}
	values := r.Values
	c := Rule{Name: name, Text: text(r)}
	switch r.Kind {
	case KindOrg:
		c.Reason = wire.ReasonMissingOrganization
		c.allow = func(s *session.Session, _ *users.Details) bool { return inOrg(s, values) }
	case KindRole:
		c.Reason = wire.ReasonMissingRole
		c.allow = func(s *session.Session, _ *users.Details) bool {
			return anyOf(values, func(v string) bool { return HasRole(s, v) })
		}
	case KindPermission:
		c.Reason = wire.ReasonMissingPermission
		c.allow = func(s *session.Session, _ *users.Details) bool {
			return anyOf(values, func(v string) bool { return HasPermission(s, v) })
		}
	case KindFeature, KindPlan:
		for _, v := range values {
			if err := checkEntitlementScope(v); err != nil {
				return fail("%v", err)
			}
		}
		c.Reason = wire.ReasonMissingFeature
		pick := func(s *session.Session) string { return s.Entitlements().Features }
		if r.Kind == KindPlan {
			c.Reason = wire.ReasonMissingPlan
			pick = func(s *session.Session) string { return s.Entitlements().Plans }
		}
		c.allow = func(s *session.Session, _ *users.Details) bool {
			return anyOf(values, func(v string) bool { return HasEntitlement(s, pick(s), v) })
		}
	case KindUser:
		c.Reason = wire.ReasonUserNotAllowed
		c.allow = func(s *session.Session, _ *users.Details) bool {
			return s.UserID != "" && slices.Contains(values, s.UserID)
		}
	case KindClaim, KindMetadata:
		if r.Path == "" {
			return fail("needs a path and at least one value")
		}
		path := r.Path
		if r.Kind == KindClaim {
			c.Reason = wire.ReasonMissingClaim
			c.allow = func(s *session.Session, _ *users.Details) bool {
				return valueMatches(lookupPath(s.RawClaims(), path), values)
			}
		} else {
			c.Reason, c.needsUser = wire.ReasonMissingMetadata, true
			c.allow = func(_ *session.Session, u *users.Details) bool {
				return valueMatches(lookupPath(u.PublicMetadata, path), values)
			}
		}
	case KindVerifiedWithin:
		rv, err := compileReverification(r)
		if err != nil {
			return fail("%v", err)
		}
		c.Reason, c.Reverify = wire.ReasonReverificationRequired, rv
		c.allow = func(s *session.Session, _ *users.Details) bool { return HasReverification(s, rv) }
	case KindEmailDomain:
		domains := make([]string, len(values))
		for i, v := range values {
			domains[i] = strings.ToLower(v)
			if strings.Contains(v, "@") || strings.Trim(strings.TrimPrefix(domains[i], "*."), ".") == "" {
				return fail("%q is not a domain", v)
			}
		}
		c.Reason, c.needsUser = wire.ReasonEmailDomainNotAllowed, true
		c.allow = func(_ *session.Session, u *users.Details) bool { return emailDomainAllowed(u, domains) }
	case KindOrgFromURL:
		if len(values) > 0 {
			return fail("takes no values (the URL names the organization)")
		}
		c.Reason, c.allowURL = wire.ReasonOrganizationNotFromURL, noURLCheck
	case KindScope:
		c.Reason = wire.ReasonMissingScope
		c.allowMachine = func(m *machine.Result) bool {
			return anyOf(values, func(v string) bool { return slices.Contains(m.Scopes, v) })
		}
	case KindMachine:
		for _, v := range values {
			if !strings.HasPrefix(v, machine.M2MSubjectPrefix) {
				return fail("%q is not a machine id (mch_...)", v)
			}
		}
		c.Reason = wire.ReasonMachineNotAllowed
		c.allowMachine = func(m *machine.Result) bool {
			return strings.HasPrefix(m.Subject, machine.M2MSubjectPrefix) && slices.Contains(values, m.Subject)
		}
	default:
		return Rule{}, fmt.Errorf("require: unknown rule %q (want org, role, permission, feature, plan, user, claim, verified_within, email_domain, metadata, org_from_url, scope or machine)", r.Kind)
	}
	if r.Kind != KindOrg && r.Kind != KindVerifiedWithin && r.Kind != KindOrgFromURL {
		if err := needValues(); err != nil {
			return Rule{}, err
		}
	}
	return c, nil
}

func compileReverification(r Spec) (*Reverification, error) {
	if len(r.Values) > 0 {
		return nil, fmt.Errorf("takes a duration and a level, not values")
	}
	d := r.Within
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
	return &Reverification{Level: level, AfterMinutes: int64(d / time.Minute)}, nil
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

// Evaluate runs the rules in order on a signed-in session, and returns the
// first that refuses it, or nil. user is called at most once, and only
// when a rule needs it; a lookup failure denies that rule. urlOrg is the
// organization target of the request's URL (the zero Target: none), which
// org_from_url reads.
func (p *Policy) Evaluate(s *session.Session, user func() (*users.Details, error), urlOrg orgsync.Target) *Denial {
	if p == nil {
		return nil
	}
	return p.evaluateSession(s, user, urlOrg)
}

// EvaluateMachine runs the rules in order on a verified machine token: the
// scope and machine rules answer for it, deny impersonated does not apply,
// and every other rule (about sessions) refuses it with its reason. No
// rule looks a user up for a machine token.
func (p *Policy) EvaluateMachine(m *machine.Result) *Denial {
	if p == nil {
		return nil
	}
	for i := range p.rules {
		r := &p.rules[i]
		switch {
		case r.notForMachines:
		case r.allowMachine == nil || !r.allowMachine(m):
			return &Denial{Rule: r, Reason: r.Reason}
		}
	}
	return nil
}

func (p *Policy) evaluateSession(s *session.Session, user func() (*users.Details, error), urlOrg orgsync.Target) *Denial {
	var u *users.Details
	var lookupErr error
	looked := false
	for i := range p.rules {
		r := &p.rules[i]
		if s.Entitlements().Malformed != "" {
			return &Denial{Rule: r, Reason: r.Reason}
		}
		if r.needsUser {
			if !looked {
				u, lookupErr = user()
				looked = true
			}
			if lookupErr != nil || u == nil {
				return &Denial{Rule: r, Reason: wire.ReasonUserLookupFailed}
			}
		}
		if r.allowURL != nil {
			if !r.allowURL(s, urlOrg) {
				return &Denial{Rule: r, Reason: r.Reason}
			}
		} else if r.allow == nil || !r.allow(s, u) {
			return &Denial{Rule: r, Reason: r.Reason}
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

func HasRole(s *session.Session, role string) bool {
	return s.UserID != "" && s.OrgID != "" && s.OrgRole != "" && prefixWithOrg(s.OrgRole) == prefixWithOrg(role)
}

func HasPermission(s *session.Session, permission string) bool {
	return s.UserID != "" && s.OrgID != "" && s.Entitlements().HasOrgPermissions && slices.Contains(s.Entitlements().OrgPermissions, prefixWithOrg(permission))
}

// HasEntitlement is has({feature}) or has({plan}) on the fea or pla claim.
func HasEntitlement(s *session.Session, claim, asked string) bool {
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

// HasReverification is checkReverificationAuthorization: fva is [first
// factor age, second factor age] in minutes, -1 for a factor group that is
// not enabled.
func HasReverification(s *session.Session, rv *Reverification) bool {
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
