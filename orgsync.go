package clerkauth

import (
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/clerk-edge/clerk_auth/internal/authn"
	"github.com/clerk-edge/clerk_auth/internal/orgsync"
	"github.com/clerk-edge/clerk_auth/internal/policy"
	"github.com/clerk-edge/clerk_auth/internal/session"
)

// This file is the glue of organization sync (docs/organization-sync.md):
// Clerk's organizationSyncOptions of authenticateRequest, whose matcher is
// internal/orgsync. It follows @clerk/backend 3.25's
// handleMaybeOrganizationSyncHandshake (src/tokens/request.ts) and
// HandshakeService.buildRedirectToHandshake (src/tokens/handshake.ts).
// Organization sync's decision part (the URL's target, the mismatch
// handshake, organization_id on the handshake URL) is internal/authn's
// (orgsync.go there); this file keeps the configuration, the placeholder
// (publishURLOrg, called by respond) and the org_from_url rule. A site
// without organization_sync pays a nil check.

// OrganizationSync is Clerk's OrganizationSyncOptions: which organization (or
// the personal account) a URL is about. When a signed-in page load's session
// token has another organization active, the browser goes through Clerk's
// handshake, which activates the organization the URL names. JSON example:
//
//	{"organization_patterns": ["/orgs/:slug", "/orgs/:slug/(.*)"],
//	 "personal_account_patterns": ["/me", "/me/(.*)"]}
//
// See docs/organization-sync.md.
type OrganizationSync struct {
	// OrganizationPatterns are path-to-regexp patterns (Clerk's
	// organizationPatterns) that capture the organization by `:id` (org_...)
	// or `:slug`, e.g. "/orgs/:slug" and "/orgs/:slug/(.*)". They are tried
	// before PersonalAccountPatterns.
	OrganizationPatterns []string `json:"organization_patterns,omitempty"`

	// PersonalAccountPatterns are patterns (Clerk's
	// personalAccountPatterns) of the pages about the personal account, on
	// which no organization should be active, e.g. "/me" and "/me/(.*)".
	PersonalAccountPatterns []string `json:"personal_account_patterns,omitempty"`
}

// placeholderURLOrg is the placeholder of the organization the URL names.
const placeholderURLOrg = "http.auth.clerk.url_org"

// provisionOrgSync compiles organization_sync once. Clerk builds its
// OrganizationMatcher on every authenticateRequest call and so throws on
// every request for a bad pattern; we refuse the configuration instead,
// naming the subdirective and the pattern. It also refuses a
// `require org_from_url` rule without organization_sync, which would deny
// everything.
func (h *Handler) provisionOrgSync() error {
	if err := checkOrganizationSync(h.OrganizationSync); err != nil {
		return fmt.Errorf("clerk_auth: %v", err)
	}
	h.orgSync = nil
	if h.OrganizationSync != nil {
		m, err := orgsync.Compile(orgsync.Options{
			OrganizationPatterns:    h.OrganizationSync.OrganizationPatterns,
			PersonalAccountPatterns: h.OrganizationSync.PersonalAccountPatterns,
		})
		if err != nil {
			return fmt.Errorf("clerk_auth: organization_sync: %v", err)
		}
		h.orgSync = m
	}
	if h.policy.NeedsURLOrg() && !h.orgSync.Enabled() {
		return fmt.Errorf("clerk_auth: require %s: needs organization_sync (the patterns that say which organization a URL names)", policy.KindOrgFromURL)
	}
	return nil
}

// checkOrganizationSync checks each pattern list, naming it by its
// Caddyfile subdirective and its JSON field.
func checkOrganizationSync(o *OrganizationSync) error {
	if o == nil {
		return nil
	}
	if len(o.OrganizationPatterns) == 0 && len(o.PersonalAccountPatterns) == 0 {
		return fmt.Errorf("organization_sync: needs organization or personal_account patterns")
	}
	for _, l := range []struct {
		name     string
		patterns []string
	}{
		{"organization (organization_patterns)", o.OrganizationPatterns},
		{"personal_account (personal_account_patterns)", o.PersonalAccountPatterns},
	} {
		if _, err := orgsync.CompilePatterns(l.patterns); err != nil {
			return fmt.Errorf("organization_sync: %s: %v", l.name, err)
		}
	}
	return nil
}

// publishURLOrg sets {http.auth.clerk.url_org} to the organization id or
// slug the URL names, as the pathname spells it. Without a target (or for
// the personal account) the placeholder is answered "" like every other of
// ours (ownPlaceholder).
func (h *Handler) publishURLOrg(repl *caddy.Replacer, a *authRequest) {
	if h.orgSync == nil {
		return
	}
	if t := h.engine.URLOrgTarget(&a.Request); t.Kind == orgsync.OrganizationTarget {
		v, _ := t.OrganizationIDParam()
		repl.Set(placeholderURLOrg, v)
	}
}

// ruleOrgTarget is the target require org_from_url reads: urlOrgTarget, or
// none (so the rule denies) when the raw path could be read as another path
// by the handler behind us: dot segments, empty segments, an encoded "/", "\"
// or ".", a "\" or a ";" (path parameters). Clerk's sync reads the raw path
// and is not an access check; the rule is.
func (h *Handler) ruleOrgTarget(a *authRequest) orgsync.Target {
	p := a.URL().EscapedPath()
	if strings.ContainsAny(p, "\\;") || strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
		strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..") {
		return orgsync.Target{}
	}
	for i := 0; i+2 < len(p); i++ {
		if p[i] == '%' {
			switch strings.ToLower(p[i+1 : i+3]) {
			case "2e", "2f", "5c", "3b":
				return orgsync.Target{}
			}
		}
	}
	return h.engine.URLOrgTarget(&a.Request)
}

// orgFromURL is the `require org_from_url` rule: the session's active
// organization is the one the URL names, compared as organization sync
// compares them (exactly, by id or slug); on a personal account URL, no
// organization may be active. A URL that names nothing denies: the rule
// belongs on routes that the patterns cover.
func orgFromURL(s *session.Session, t orgsync.Target) bool {
	if s.UserID == "" || !t.Found() {
		return false
	}
	id, slug, hasOrg := authn.SessionOrganization(s)
	return !t.NeedsActivation(id, slug, hasOrg)
}
