package clerkauth

import (
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/clerk-edge/clerk_auth/internal/machine"
	"github.com/clerk-edge/clerk_auth/internal/orgsync"
	"github.com/clerk-edge/clerk_auth/internal/policy"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("clerk_auth", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("clerk_auth", httpcaddyfile.Before, "basic_auth")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var c Handler
	err := c.UnmarshalCaddyfile(h.Dispenser)
	return &c, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	clerk_auth [<matcher>] {
//	    publishable_key <pk_live_...|pk_test_...>
//	    secret_key      <sk_...>
//	    jwt_key         <PEM>|{file.<path>}|{env.<VAR>}
//	    jwks_url        <url>
//	    api_url         <url>
//	    authorized_parties <origin...>
//	    audience        <aud...>
//	    issuer          <url>
//	    clock_skew      <duration>
//	    session_param   <name>
//	    mode            require|optional
//	    allow_pending
//	    sign_in_url     <url>|<path>|off
//	    proxy_url       <url>|<path>
//	    domain          <domain>
//	    is_satellite
//	    satellite_auto_sync
//	    demo
//
//	    accepts_token   session_token|api_key|m2m_token|oauth_token|any...
//	    machine_secret_key <ak_...>
//	    machine_cache_ttl  <duration>
//	    machine_call_rate  <calls-per-second>
//
//	    require org [<id-or-slug>...]
//	    require role <role>...
//	    require permission <permission>...
//	    require feature <feature>...
//	    require plan <plan>...
//	    require user <user_id>...
//	    require claim <path> <value>...
//	    require verified_within <duration> [first_factor|second_factor|multi_factor]
//	    require email_domain <domain>...
//	    require metadata <key> <value>...
//	    deny impersonated
//	    user_details {
//	        cache_ttl <duration>
//	        timeout   <duration>
//	        metadata  <key>...
//	    }
//	    organization_sync {
//	        organization     <pattern>...
//	        personal_account <pattern>...
//	    }
//	    require org_from_url
//	    require scope <scope>...
//	    require machine <mch_...>...
//	    upstream_headers identity|all|off
//	    cache_size      <entries>
//	    disable_metrics
//	}
//
// Every require line is a rule that must hold; its values are alternatives.
// See docs/authorization.md.
//
// organization_sync takes Clerk's organizationSyncOptions: path-to-regexp
// patterns naming an organization (by :id or :slug) or the personal account;
// a bad pattern fails here, naming it. `require org_from_url` denies a session
// whose active organization is not the one the URL names. See
// docs/organization-sync.md.
//
// accepts_token is Clerk's acceptsToken: which credentials the route takes
// (one value is Clerk's single string, several its array); machine tokens
// (API keys, M2M and OAuth tokens) come only in Authorization. See
// docs/machine-auth.md.
//
// With no block (or no key setting), the keys come from the environment
// variables CLERK_PUBLISHABLE_KEY, CLERK_SECRET_KEY and CLERK_JWT_KEY.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		sub := d.Val()
		switch sub {
		case "publishable_key":
			if err := oneArg(d, &h.PublishableKey); err != nil {
				return err
			}
		case "secret_key":
			if err := oneArg(d, &h.SecretKey); err != nil {
				return err
			}
		case "jwt_key":
			if err := oneArg(d, &h.JWTKey); err != nil {
				return err
			}
		case "jwks_url":
			if err := oneArg(d, &h.JWKSURL); err != nil {
				return err
			}
		case "api_url":
			if err := oneArg(d, &h.APIURL); err != nil {
				return err
			}
		case "issuer":
			if err := oneArg(d, &h.Issuer); err != nil {
				return err
			}
		case "session_param":
			if err := oneArg(d, &h.SessionParam); err != nil {
				return err
			}
		case "sign_in_url":
			if err := oneArg(d, &h.SignInURL); err != nil {
				return err
			}
		case "proxy_url":
			if err := oneArg(d, &h.ProxyURL); err != nil {
				return err
			}
			// A placeholder is checked once it is resolved, in Validate.
			if !strings.Contains(h.ProxyURL, "{") {
				if err := checkProxyURL(h.ProxyURL); err != nil {
					return d.Errf("proxy_url: %v", err)
				}
			}
		case "domain":
			if err := oneArg(d, &h.Domain); err != nil {
				return err
			}
		case "mode":
			if err := oneArg(d, &h.Mode); err != nil {
				return err
			}
			if h.Mode != "require" && h.Mode != "optional" {
				return d.Errf("mode: must be require or optional, not %q", h.Mode)
			}
		case "authorized_parties":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.Errf("authorized_parties: needs at least one origin")
			}
			for _, o := range args {
				if err := checkOrigin(o); err != nil {
					return d.Errf("authorized_parties: %v", err)
				}
			}
			h.AuthorizedParties = append(h.AuthorizedParties, args...)
		case "audience":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.Errf("audience: needs at least one audience")
			}
			for _, aud := range args {
				if err := checkAudienceValue(aud); err != nil {
					return d.Errf("audience: %v", err)
				}
			}
			h.Audience = append(h.Audience, args...)
		case "clock_skew":
			var v string
			if err := oneArg(d, &v); err != nil {
				return err
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil {
				return d.Errf("clock_skew: %q is not a duration: %v", v, err)
			}
			if dur < 0 {
				return d.Errf("clock_skew: must not be negative")
			}
			cd := caddy.Duration(dur)
			h.ClockSkew = &cd
		case "allow_pending":
			if err := noArgs(d); err != nil {
				return err
			}
			h.AllowPending = true
		case "is_satellite":
			if err := noArgs(d); err != nil {
				return err
			}
			h.Satellite = true
		case "satellite_auto_sync":
			if err := noArgs(d); err != nil {
				return err
			}
			h.SatelliteAutoSync = true
		case "cache_size":
			var v string
			if err := oneArg(d, &v); err != nil {
				return err
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return d.Errf("cache_size: %q is not a number of entries (0 turns the cache off)", v)
			}
			h.CacheSize = &n
		case "demo":
			if err := noArgs(d); err != nil {
				return err
			}
			h.Demo = true
		case "require":
			r, err := parseRequire(d)
			if err != nil {
				return err
			}
			h.Require = append(h.Require, r)
		case "deny":
			if !d.NextArg() || d.Val() != policy.KindImpersonated || d.NextArg() {
				return d.Errf("deny: the only form is 'deny impersonated'")
			}
			h.DenyImpersonated = true
		case "user_details":
			u, err := parseUserDetails(d)
			if err != nil {
				return err
			}
			h.UserDetails = u
		case "organization_sync":
			o, err := parseOrganizationSync(d)
			if err != nil {
				return err
			}
			h.OrganizationSync = o
		case "upstream_headers":
			if err := oneArg(d, &h.UpstreamHeaders); err != nil {
				return err
			}
			if _, ok := parseUpstreamHeaders(h.UpstreamHeaders); !ok {
				return d.Errf("upstream_headers: must be identity, all or off, not %q", h.UpstreamHeaders)
			}
		case "accepts_token":
			args := d.RemainingArgs()
			if _, err := machine.ParseAcceptsToken(args); err != nil {
				return d.Err(err.Error())
			}
			h.AcceptsToken = append(h.AcceptsToken, args...)
			if _, err := machine.ParseAcceptsToken(h.AcceptsToken); err != nil {
				return d.Err(err.Error())
			}
		case "machine_secret_key":
			if err := oneArg(d, &h.MachineSecretKey); err != nil {
				return err
			}
		case "machine_cache_ttl":
			var v string
			if err := oneArg(d, &v); err != nil {
				return err
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur < 0 {
				return d.Errf("machine_cache_ttl: %q is not a duration (0 turns the cache off)", v)
			}
			cd := caddy.Duration(dur)
			h.MachineCacheTTL = &cd
		case "machine_call_rate":
			var v string
			if err := oneArg(d, &v); err != nil {
				return err
			}
			n, err := strconv.ParseFloat(v, 64)
			if err != nil || n <= 0 || n > 1e6 {
				return d.Errf("machine_call_rate: %q is not a number of calls per second", v)
			}
			h.MachineCallRate = n
		case "disable_metrics":
			if err := noArgs(d); err != nil {
				return err
			}
			h.DisableMetrics = true
		default:
			return d.Errf("unknown subdirective %q", sub)
		}
	}
	return nil
}

// parseOrganizationSync reads the organization_sync block (orgsync.go).
// Every pattern is compiled here, so that a bad one fails at adapt with its
// line; repeated lines add patterns.
func parseOrganizationSync(d *caddyfile.Dispenser) (*OrganizationSync, error) {
	if d.NextArg() {
		return nil, d.Errf("organization_sync: takes a block, not values")
	}
	o := new(OrganizationSync)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		list := &o.OrganizationPatterns
		switch sub {
		case "organization":
		case "personal_account":
			list = &o.PersonalAccountPatterns
		default:
			return nil, d.Errf("organization_sync: unknown subdirective %q (want organization or personal_account)", sub)
		}
		args := d.RemainingArgs()
		if len(args) == 0 {
			return nil, d.Errf("organization_sync: %s: needs at least one pattern", sub)
		}
		if _, err := orgsync.CompilePatterns(args); err != nil {
			return nil, d.Errf("organization_sync: %s: %v", sub, err)
		}
		*list = append(*list, args...)
	}
	if len(o.OrganizationPatterns) == 0 && len(o.PersonalAccountPatterns) == 0 {
		return nil, d.Errf("organization_sync: needs organization or personal_account patterns")
	}
	return o, nil
}

// oneArg reads exactly one argument for the current subdirective.
func oneArg(d *caddyfile.Dispenser, dst *string) error {
	name := d.Val()
	if !d.NextArg() {
		return d.Errf("%s: missing value", name)
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.Errf("%s: takes one value, got more", name)
	}
	return nil
}

func noArgs(d *caddyfile.Dispenser) error {
	name := d.Val()
	if d.NextArg() {
		return d.Errf("%s: takes no value", name)
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)

// parseUserDetails reads the user_details block of the Caddyfile.
func parseUserDetails(d *caddyfile.Dispenser) (*UserDetails, error) {
	u := &UserDetails{}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		switch sub {
		case "cache_ttl", "timeout":
			var v string
			if err := oneArg(d, &v); err != nil {
				return nil, err
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur <= 0 {
				return nil, d.Errf("user_details: %s: %q is not a positive duration", sub, v)
			}
			if sub == "cache_ttl" {
				u.CacheTTL = caddy.Duration(dur)
			} else {
				u.Timeout = caddy.Duration(dur)
			}
		case "metadata":
			keys := d.RemainingArgs()
			if len(keys) == 0 {
				return nil, d.Errf("user_details: metadata: needs at least one key")
			}
			u.Metadata = append(u.Metadata, keys...)
		default:
			return nil, d.Errf("user_details: unknown setting %q", sub)
		}
	}
	if err := checkUserDetails(u); err != nil {
		return nil, d.Errf("user_details: %v", err)
	}
	return u, nil
}
