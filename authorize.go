package clerkauth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/clerk-edge/clerk_auth/internal/authn"
	"github.com/clerk-edge/clerk_auth/internal/orgsync"
	"github.com/clerk-edge/clerk_auth/internal/policy"
	"github.com/clerk-edge/clerk_auth/internal/session"
	"github.com/clerk-edge/clerk_auth/internal/users"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"go.uber.org/zap"
	"golang.org/x/net/http/httpguts"
)

// authorize applies the rules to a signed-in outcome: a rule that refuses
// the session turns d into the denied outcome, with the rule and its
// reason (still Clerk's signed-in status: the token is fine).
func (h *Handler) authorize(ctx context.Context, a *authRequest, d *authn.Outcome) {
	if h.policy.Empty() {
		return
	}
	if d.Machine != nil {
		if dn := h.policy.EvaluateMachine(d.Machine); dn != nil {
			d.Deny(dn.Rule, dn.Reason)
		}
		return
	}
	s := d.Session
	lookup := func() (*users.Details, error) { return h.lookupUser(ctx, a, s.UserID) }
	var urlOrg orgsync.Target
	if h.policy.NeedsURLOrg() {
		urlOrg = h.ruleOrgTarget(a)
	}
	if dn := h.policy.Evaluate(s, lookup, urlOrg); dn != nil {
		d.Deny(dn.Rule, dn.Reason)
	}
}

// lookupUser is the user lookup of request a, done at most once: the rules
// and user_details share it.
func (h *Handler) lookupUser(ctx context.Context, a *authRequest, userID string) (*users.Details, error) {
	if !a.userLooked {
		a.userLooked = true
		if h.users == nil || userID == "" {
			a.userErr = users.ErrLookup
		} else {
			a.user, a.userErr = h.users.Get(ctx, userID)
		}
	}
	return a.user, a.userErr
}

// publishDetails publishes the user details of a signed-in request that
// goes on. They are a convenience: without them the request goes on.
func (h *Handler) publishDetails(r *http.Request, repl *caddy.Replacer, a *authRequest, s *session.Session) {
	if h.UserDetails == nil {
		return
	}
	if u, err := h.lookupUser(r.Context(), a, s.UserID); err == nil {
		publishUserDetails(r, repl, u, h.UserDetails.Metadata, h.headers != upstreamOff)
	}
}

// deny answers the denied outcome: 403 with Clerk's status header and our
// reason. A failed verified_within rule on a request
// that is not a page load answers with the body of Clerk's
// reverificationError, which Clerk's frontend (useReverification) reads to
// prompt for the factor. That body is written here, not returned as a
// caddyhttp.Error, because an error carries no body and handle_errors would
// have to rebuild Clerk's JSON by hand.
func (h *Handler) deny(w http.ResponseWriter, repl *caddy.Replacer, a *authRequest, d *authn.Outcome) error {
	h.recordDecision(d)
	hdr := w.Header()
	hdr.Set(wire.HeaderAuthStatus, d.Status)
	hdr.Set(wire.HeaderAuthReason, d.Reason)
	repl.Set("http.auth.clerk.reason", d.Reason)
	h.logger.Debug("clerk session not authorized",
		zap.String("rule", d.Rule.Name), zap.String("reason", d.Reason), zap.String("user_id", principalID(d)))
	if d.Rule.Reverify != nil && d.Reason == wire.ReasonReverificationRequired && !a.IsDocument() {
		body, err := json.Marshal(reverificationHint(d.Rule.Reverify))
		if err != nil {
			return caddyhttp.Error(http.StatusInternalServerError, err)
		}
		hdr.Set("Content-Type", "application/json")
		hdr.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write(body)
		return nil
	}
	return caddyhttp.Error(http.StatusForbidden, fmt.Errorf("clerk_auth: forbidden: %s", d.Reason))
}

// reverificationHint is @clerk/shared's reverificationError(config).
func reverificationHint(rv *policy.Reverification) map[string]any {
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
