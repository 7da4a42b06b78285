package clerkauth

import (
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/clerk-edge/clerk_auth/internal/policy"
)

// Rule is one authorization requirement on a signed-in session. All rules
// of a handler apply (AND); the values of one rule are alternatives (OR).
// JSON examples:
//
//	{"kind": "role", "values": ["admin", "org:billing"]}
//	{"kind": "claim", "path": "metadata.tier", "values": ["gold"]}
//	{"kind": "verified_within", "within": "10m", "level": "second_factor"}
//
// See docs/authorization.md for every kind. internal/policy compiles and
// evaluates it (policy.Spec: the same, without caddy.Duration).
type Rule struct {
	// Kind is one of org, role, permission, feature, plan, user, claim,
	// verified_within, email_domain, metadata, org_from_url (which needs
	// organization_sync and takes no values), and, for machine tokens,
	// scope and machine (docs/machine-auth.md). Session rules refuse
	// machine tokens; scope and machine refuse sessions.
	Kind string `json:"kind"`

	// Values are the alternatives the session must match: organization ids
	// or slugs, role or permission keys (with or without Clerk's "org:"
	// prefix), feature or plan slugs (optionally scoped "user:" / "org:"),
	// user ids, claim or metadata values, email domains, scopes, machine
	// ids (mch_...). Empty only for
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

// spec is r for internal/policy.
func (r Rule) spec() policy.Spec {
	return policy.Spec{Kind: r.Kind, Values: r.Values, Path: r.Path, Within: time.Duration(r.Within), Level: r.Level}
}

// compilePolicy compiles the handler's rules; require org_from_url reads
// organization_sync's URL (orgFromURL, orgsync.go).
func compilePolicy(rules []Rule, denyImpersonated bool) (*policy.Policy, error) {
	specs := make([]policy.Spec, len(rules))
	for i, r := range rules {
		specs[i] = r.spec()
	}
	return policy.Compile(specs, denyImpersonated, orgFromURL)
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
	case policy.KindClaim, policy.KindMetadata:
		if len(rest) < 2 {
			return Rule{}, d.Errf("require %s: needs a path and at least one value", r.Kind)
		}
		r.Path, rest = rest[0], rest[1:]
	case policy.KindVerifiedWithin:
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
	if err := policy.Check(r.spec()); err != nil {
		return Rule{}, d.Err(err.Error())
	}
	return r, nil
}
