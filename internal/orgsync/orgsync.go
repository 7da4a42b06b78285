// Package orgsync is Clerk's organization sync (the organizationSyncOptions of
// @clerk/backend's authenticateRequest): it finds, from a request's pathname,
// the organization (or the personal account) the page is about, and tells
// whether the session token's active organization differs, in which case
// Clerk sends the browser through a handshake with the reason
// "active-organization-mismatch" and an `organization_id` query parameter.
//
// It follows OrganizationMatcher (src/tokens/organizationMatcher.ts) and the
// comparison of handleMaybeOrganizationSyncHandshake (src/tokens/request.ts)
// in @clerk/backend 3.25, with the patterns of @clerk/shared's pathToRegexp.
// It imports nothing of ours but internal/jsparse.
package orgsync

import (
	"fmt"

	"github.com/clerk-edge/clerk_auth/internal/jsparse"
)

// Options are the two pattern lists of Clerk's OrganizationSyncOptions.
type Options struct {
	// OrganizationPatterns select an organization by a `:id` or `:slug`
	// parameter, e.g. "/orgs/:slug" and "/orgs/:slug/(.*)". They win over
	// PersonalAccountPatterns.
	OrganizationPatterns []string
	// PersonalAccountPatterns select the personal account, e.g. "/me" and
	// "/me/(.*)".
	PersonalAccountPatterns []string
}

// Matcher is a compiled Options, Clerk's OrganizationMatcher. It is safe for
// concurrent use.
type Matcher struct {
	organization *Patterns
	personal     *Patterns
}

// Compile compiles both pattern lists, organization patterns first as
// Clerk's OrganizationMatcher constructor does. A pattern that Clerk's
// constructor would throw on, or that RE2 cannot express, is an error that
// names the pattern (a *PatternError wrapped with the list's name). Where
// Clerk throws on every request, a configuration using this package refuses
// to load.
func Compile(o Options) (*Matcher, error) {
	org, err := CompilePatterns(o.OrganizationPatterns)
	if err != nil {
		return nil, fmt.Errorf("organization patterns: %w", err)
	}
	personal, err := CompilePatterns(o.PersonalAccountPatterns)
	if err != nil {
		return nil, fmt.Errorf("personal account patterns: %w", err)
	}
	return &Matcher{organization: org, personal: personal}, nil
}

// Enabled reports whether any pattern is configured. A nil *Matcher is not
// enabled.
func (m *Matcher) Enabled() bool {
	return m != nil && (m.organization != nil || m.personal != nil)
}

// TargetKind says what a pathname selects.
type TargetKind int

const (
	// NoTarget: no pattern matched (Clerk's findTarget returns null).
	NoTarget TargetKind = iota
	// OrganizationTarget: an organization pattern matched with a truthy
	// `id` or `slug` parameter.
	OrganizationTarget
	// PersonalAccountTarget: a personal account pattern matched.
	PersonalAccountTarget
)

// String names the kind as Clerk's target `type` does.
func (k TargetKind) String() string {
	switch k {
	case OrganizationTarget:
		return "organization"
	case PersonalAccountTarget:
		return "personalAccount"
	}
	return "none"
}

// Target is what Clerk's OrganizationMatcher.findTarget returns.
type Target struct {
	// Kind is the kind of target.
	Kind TargetKind
	// ID is the `id` parameter (organizationId) when the organization was
	// selected by id.
	ID Value
	// Slug is the `slug` parameter (organizationSlug) when the organization
	// was selected by slug (and the match had no truthy `id`).
	Slug Value
	// ByID reports that the organization was selected by ID rather than Slug.
	ByID bool
}

// FindTarget is OrganizationMatcher.findTarget for a URL's pathname: the
// organization patterns first (a match needs a truthy `id`, else a truthy
// `slug`; a match with neither falls through), then the personal account
// patterns. pathname is the URL's pathname as WHATWG URL serializes it
// (percent-encoded, without the query string). A nil *Matcher finds nothing.
func (m *Matcher) FindTarget(pathname string) Target {
	if m == nil {
		return Target{}
	}
	if params, ok := m.organization.Match(pathname); ok {
		if id := params["id"]; id.Truthy() {
			return Target{Kind: OrganizationTarget, ID: id, ByID: true}
		}
		if slug := params["slug"]; slug.Truthy() {
			return Target{Kind: OrganizationTarget, Slug: slug}
		}
	}
	if _, ok := m.personal.Match(pathname); ok {
		return Target{Kind: PersonalAccountTarget}
	}
	return Target{}
}

// Found reports whether the target is an organization or the personal account.
func (t Target) Found() bool { return t.Kind != NoTarget }

// OrganizationIDParam is the value of the `organization_id` query parameter
// Clerk adds to every handshake URL whose request URL has a target
// (HandshakeService.getOrganizationSyncQueryParams, src/tokens/handshake.ts):
// the id, else the slug (still named organization_id), or "" for the personal
// account. A repeated parameter is joined with "," as URLSearchParams
// stringifies an array. ok is false when there is no target and no parameter
// is added. The value is the raw pathname text; the URL encoder escapes it
// again (ac%20me goes out as ac%2520me).
func (t Target) OrganizationIDParam() (value string, ok bool) {
	switch t.Kind {
	case PersonalAccountTarget:
		return "", true
	case OrganizationTarget:
		if t.ByID {
			return t.ID.String(), true
		}
		return t.Slug.String(), true
	}
	return "", false
}

// NeedsActivation is the comparison of handleMaybeOrganizationSyncHandshake
// (src/tokens/request.ts): whether the token's active organization differs
// from the target. orgID and orgSlug are the token's organization claims
// when they are JSON strings ("" when absent or of another type; see
// TokenOrganization); hasOrg is JavaScript's truthiness of the id claim.
//
// For an organization target, the id (or slug) must equal the claim exactly
// (strict ===, case-sensitive although the path matched case-insensitively);
// a list from `:slug+` never equals a string. For the personal account, the
// token must have no organization. No target never needs activation.
func (t Target) NeedsActivation(orgID, orgSlug string, hasOrg bool) bool {
	switch t.Kind {
	case OrganizationTarget:
		if t.ByID {
			return t.ID.IsList || t.ID.Str != orgID
		}
		return t.Slug.IsList || t.Slug.Str != orgSlug
	case PersonalAccountTarget:
		return hasOrg
	}
	return false
}

// TokenOrganization reads a session token's active organization from its
// decoded JSON payload (numbers as float64, as encoding/json decodes them)
// the way @clerk/shared's __experimental_JWTPayloadToAuthObjectProperties
// does: when `v` is the number 2, from `o.id` and `o.slg` (if `o` is truthy);
// otherwise from `org_id` and `org_slug`. orgID and orgSlug are the claims
// when they are strings, else ""; hasOrg is the JavaScript truthiness of the
// id claim. The results are NeedsActivation's arguments.
func TokenOrganization(claims map[string]any) (orgID, orgSlug string, hasOrg bool) {
	var id, slug any
	if v, ok := claims["v"].(float64); ok && v == 2 {
		if o, ok := claims["o"].(map[string]any); ok {
			id, slug = o["id"], o["slg"]
		}
	} else {
		id, slug = claims["org_id"], claims["org_slug"]
	}
	orgID, _ = id.(string)
	orgSlug, _ = slug.(string)
	return orgID, orgSlug, jsparse.Truthy(id)
}
