package clerkauth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/clerk-edge/clerk_auth/internal/orgsync"
	"github.com/clerk-edge/clerk_auth/internal/session"
	"github.com/clerk-edge/clerk_auth/internal/users"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"go.uber.org/zap"
	"golang.org/x/net/http/httpguts"
)

// authorize publishes the session's organization and billing fields, then
// applies the rules to it. It reports whether it answered the request (a
// 403); if not, the request goes on.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, repl *caddy.Replacer, a *authRequest, s *session.Session) (bool, error) {
	if h.policy.empty() && h.UserDetails == nil {
		return false, nil
	}
	var u *users.Details
	var uerr error
	looked := false
	lookup := func() (*users.Details, error) {
		if !looked {
			looked = true
			if h.users == nil || s.UserID == "" {
				uerr = users.ErrLookup
			} else {
				u, uerr = h.users.Get(r.Context(), s.UserID)
			}
		}
		return u, uerr
	}
	var urlOrg orgsync.Target
	if h.policy.needsURLOrg {
		urlOrg = h.ruleOrgTarget(a)
	}
	if dn := h.policy.evaluateAt(s, lookup, urlOrg); dn != nil {
		return true, h.deny(w, repl, a, s, dn)
	}
	if h.UserDetails != nil {
		// Details are a convenience here: without them the request goes on.
		if u, err := lookup(); err == nil {
			publishUserDetails(r, repl, u, h.UserDetails.Metadata, h.headers != upstreamOff)
		}
	}
	return false, nil
}

// deny answers a signed-in request that failed a rule: 403 with Clerk's
// status header and our reason. A failed verified_within rule on a request
// that is not a page load answers with the body of Clerk's
// reverificationError, which Clerk's frontend (useReverification) reads to
// prompt for the factor. That body is written here, not returned as a
// caddyhttp.Error, because an error carries no body and handle_errors would
// have to rebuild Clerk's JSON by hand.
func (h *Handler) deny(w http.ResponseWriter, repl *caddy.Replacer, a *authRequest, s *session.Session, dn *denial) error {
	h.recordDecision(&decision{status: wire.StatusSignedIn, reason: dn.reason, session: s, rule: dn.rule.text})
	hdr := w.Header()
	hdr.Set(wire.HeaderAuthStatus, wire.StatusSignedIn)
	hdr.Set(wire.HeaderAuthReason, dn.reason)
	repl.Set("http.auth.clerk.reason", dn.reason)
	h.logger.Debug("clerk session not authorized",
		zap.String("rule", dn.rule.name), zap.String("reason", dn.reason), zap.String("user_id", s.UserID))
	if dn.rule.reverify != nil && dn.reason == wire.ReasonReverificationRequired && !a.isDocument() {
		body, err := json.Marshal(reverificationHint(dn.rule.reverify))
		if err != nil {
			return caddyhttp.Error(http.StatusInternalServerError, err)
		}
		hdr.Set("Content-Type", "application/json")
		hdr.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write(body)
		return nil
	}
	return caddyhttp.Error(http.StatusForbidden, fmt.Errorf("clerk_auth: forbidden: %s", dn.reason))
}

// reverificationHint is @clerk/shared's reverificationError(config).
func reverificationHint(rv *reverification) map[string]any {
	return map[string]any{
		"clerk_error": map[string]any{
			"type":     "forbidden",
			"reason":   wire.ReverificationErrorReason,
			"metadata": map[string]any{"reverification": rv},
		},
	}
}

// publishUserDetails sets the user-detail placeholders and, unless
// upstream_headers is off, the upstream headers. A header whose value could
// not travel in HTTP is left out; its placeholder is still set.
func publishUserDetails(r *http.Request, repl *caddy.Replacer, u *users.Details, metadataKeys []string, headers bool) {
	name := strings.TrimSpace(u.FirstName + " " + u.LastName)
	fields := []struct{ placeholder, header, value string }{
		{"email", wire.HeaderUserEmail, u.Email},
		{"email_verified", wire.HeaderUserEmailVerified, strconv.FormatBool(u.EmailVerified)},
		{"first_name", wire.HeaderUserFirstName, u.FirstName},
		{"last_name", wire.HeaderUserLastName, u.LastName},
		{"name", "", name},
		{"username", wire.HeaderUserUsername, u.Username},
	}
	for _, f := range fields {
		repl.Set("http.auth.user."+f.placeholder, f.value)
		if headers {
			setUpstreamHeader(r, f.header, f.value)
		}
	}
	for _, key := range metadataKeys {
		v, ok := users.MetadataText(u.PublicMetadata[key])
		if !ok {
			continue
		}
		repl.Set("http.auth.user.metadata."+key, v)
		if headers {
			setUpstreamHeader(r, wire.HeaderUserMetadataPrefix+key, v)
		}
	}
}

func setUpstreamHeader(r *http.Request, name, value string) {
	if name != "" && value != "" && httpguts.ValidHeaderFieldValue(value) {
		r.Header.Set(name, value)
	}
}
