package authn

import (
	"strings"

	"github.com/clerk-edge/clerk_auth/internal/orgsync"
	"github.com/clerk-edge/clerk_auth/internal/session"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// Organization sync's part of the decision (docs/organization-sync.md):
// Clerk's organizationSyncOptions of authenticateRequest, whose matcher is
// internal/orgsync, following @clerk/backend 3.25's
// handleMaybeOrganizationSyncHandshake (src/tokens/request.ts) and
// getOrganizationSyncQueryParams (src/tokens/handshake.ts). The decision
// calls in here at two places: authenticateCookie (orgSyncHandshake) and
// handshakeURL (appendOrgSyncParam); the root's placeholder and
// org_from_url rule read URLOrgTarget.

// URLOrgTarget is OrganizationMatcher.findTarget on the request's pathname,
// found once per request (the decision, the handshake URL, the placeholder
// and the org_from_url rule all ask). The pathname is the URL's, as WHATWG
// URL serializes it: percent-encoded, "/" when empty.
func (e *Engine) URLOrgTarget(a *Request) orgsync.Target {
	if !a.orgTargetFound {
		a.orgTargetFound = true
		if e.orgSync != nil {
			path := a.clerkURL.EscapedPath()
			if path == "" {
				path = "/"
			}
			a.orgTarget = e.orgSync.FindTarget(path)
		}
	}
	return a.orgTarget
}

// orgSyncHandshake is handleMaybeOrganizationSyncHandshake: for a verified
// cookie session (after the cross-origin sync check), the handshake that
// activates the organization the URL names, or nil when the request is
// signed in as it is. Organization sync never signs anyone out: a mismatch
// that cannot be handshaken (not a page load, no instance, or the loop
// guard) stays signed in with the token's current organization.
func (e *Engine) orgSyncHandshake(a *Request, s *session.Session) *Outcome {
	// Clerk runs it only when toAuth() has a userId: toAuth() treats a
	// pending session as signed out, so allow_pending never syncs one.
	if s.UserID == "" || s.Status == "pending" {
		return nil
	}
	t := e.URLOrgTarget(a)
	if !t.Found() {
		return nil
	}
	id, slug, hasOrg := SessionOrganization(s)
	if !t.NeedsActivation(id, slug, hasOrg) {
		return nil
	}
	if a.redirectCount >= 3 {
		// Clerk warns "Organization activation handshake loop detected":
		// the organization does not exist or the user is not a member. At
		// debug level here: the counter is a cookie any client can send.
		e.logger.Debug("clerk organization activation handshake loop detected; the organization in the URL is not activated")
		return nil
	}
	d := e.maybeHandshake(a, wire.ReasonActiveOrganizationMismatch, "", "")
	if d.Status != wire.StatusHandshake {
		return nil
	}
	return d
}

// SessionOrganization is the token's active organization as
// orgsync.TokenOrganization reads it. The session's parsed id and slug follow
// the same rules (v2's o.id and o.slg, else org_id and org_slug, strings
// only); an id claim that is no string but truthy (a number) needs the raw
// claims, which are decoded once per session.
func SessionOrganization(s *session.Session) (id, slug string, hasOrg bool) {
	if s.OrgID != "" {
		return s.OrgID, s.OrgSlug, true
	}
	return orgsync.TokenOrganization(s.RawClaims())
}

// appendOrgSyncParam is getOrganizationSyncQueryParams: every handshake URL
// of a request whose URL has a target carries organization_id (the id, else
// the slug, "" for the personal account), whatever the handshake's reason.
func (e *Engine) appendOrgSyncParam(q *strings.Builder, a *Request) {
	if e.orgSync == nil {
		return
	}
	if v, ok := e.URLOrgTarget(a).OrganizationIDParam(); ok {
		appendParam(q, QueryOrganizationID, v)
	}
}

// QueryOrganizationID is the handshake query parameter that asks the
// Frontend API to activate an organization (constants.ts QueryParameters
// has no name for it: handshake.ts writes it literally).
const QueryOrganizationID = "organization_id"
