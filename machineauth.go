package clerkauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/authn"
	"github.com/clerk-edge/clerk_auth/internal/clerkapi"
	"github.com/clerk-edge/clerk_auth/internal/machine"
	"github.com/clerk-edge/clerk_auth/internal/session"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"go.uber.org/zap"
	"golang.org/x/net/http/httpguts"
)

// maxMachineAnswerBytes bounds a Backend API verify answer (a few hundred
// bytes in practice), as every other call's.
const maxMachineAnswerBytes = 1 << 20

// machineRetryAfter is the Retry-After of a 503 for a machine token that
// could not be verified (docs/machine-auth.md).
const machineRetryAfter = "5"

// provisionAccepts reads accepts_token and checks, as Clerk's
// authenticateRequest asserts them (src/tokens/request.ts), the keys each
// accepted kind needs: api_key, oauth_token, any and lists need the secret
// key; m2m_token alone the machine secret key or the secret key. Clerk
// throws on every request; here the configuration fails, naming the
// subdirective.
func (h *Handler) provisionAccepts() error {
	values := h.AcceptsToken
	switch {
	case values == nil:
		values = []string{string(machine.SessionToken)}
	case len(values) == 0:
		// Clerk's [] refuses every request; a configuration means no such
		// thing.
		return fmt.Errorf("clerk_auth: %v", machine.ErrNoTokenTypes)
	}
	a, err := machine.ParseAcceptsToken(values)
	if err != nil {
		return fmt.Errorf("clerk_auth: %v", err)
	}
	h.accepts = a
	h.sessionsAccepted = a.Allows(machine.SessionToken)
	if h.MachineCallRate < 0 {
		// machine.Config reads a negative rate as no budget at all.
		return fmt.Errorf("clerk_auth: machine_call_rate: must not be negative")
	}
	single, isSingle := a.Single()
	named := strings.Join(values, " ")
	switch {
	case (!isSingle || single == machine.Any || single == machine.APIKey || single == machine.OAuthToken) && h.SecretKey == "":
		return fmt.Errorf("clerk_auth: accepts_token %s: needs secret_key (Clerk's Backend API verifies API keys and OAuth tokens with it)", named)
	case isSingle && single == machine.M2MToken && h.SecretKey == "" && h.MachineSecretKey == "":
		return fmt.Errorf("clerk_auth: accepts_token m2m_token: needs machine_secret_key or secret_key")
	}
	if k := h.MachineSecretKey; k != "" {
		if !a.Allows(machine.M2MToken) {
			return fmt.Errorf("clerk_auth: machine_secret_key: only verifies M2M tokens, and accepts_token does not accept m2m_token")
		}
		if strings.HasPrefix(k, "sk_") || strings.HasPrefix(k, "pk_") || strings.ContainsAny(k, " \t\r\n") {
			return fmt.Errorf("clerk_auth: machine_secret_key: not a machine secret key (the Clerk Dashboard's machine secret keys start with ak_; the instance's sk_ key goes in secret_key)")
		}
	}
	return nil
}

// provisionMachine builds the machine-token verifier when a machine kind is
// accepted: Backend API calls through internal/clerkapi (timeout, answer
// limit, no redirects), the caches of machine_cache_ttl, and the metrics.
func (h *Handler) provisionMachine() {
	if !h.accepts.AcceptsMachine() {
		return
	}
	ttl := machine.DefaultTTL
	if h.MachineCacheTTL != nil {
		ttl = time.Duration(*h.MachineCacheTTL)
	}
	neg := machine.DefaultNegativeTTL
	if ttl == 0 {
		// 0 is Clerk's behaviour: every request asks the Backend API.
		neg = 0
	}
	cfg := machine.Config{TTL: ttl, NegativeTTL: neg, Rate: h.MachineCallRate, Burst: 2 * int(h.MachineCallRate), Now: func() time.Time { return h.now() }}
	if !h.DisableMetrics {
		cfg.OnCache, cfg.OnCall = recordMachineCache, recordMachineCall
	}
	cfg.Prepare = prepareMachineView
	h.machine = machine.NewVerifier(h.fetchMachineToken(), cfg)
}

// fetchMachineToken is the Verifier's call: @clerk/backend's request for
// the kind (machine.RequestFor) to api_url, its answer read by
// machine.ParseResult. Trouble reaching Clerk is logged at warn, a refused
// secret key at error; neither log names a token or a key.
func (h *Handler) fetchMachineToken() machine.Fetch {
	api := clerkapi.New("", machine.DefaultFetchTimeout)
	creds := machine.Credentials{SecretKey: h.SecretKey, MachineSecretKey: h.MachineSecretKey}
	return func(ctx context.Context, kind machine.TokenType, token string) (machine.Result, *machine.Error) {
		req, err := machine.RequestFor(kind, token, creds)
		if err != nil {
			if errors.Is(err, machine.ErrTokenEmpty) || errors.Is(err, machine.ErrTokenNotASCII) {
				return machine.Result{}, &machine.Error{Kind: kind, Code: machine.CodeTokenInvalid, Message: "Invalid token"}
			}
			return machine.Result{}, machine.UnexpectedError(kind, 0)
		}
		status, body, err := api.Post(ctx, h.apiURL+req.Path, req.Headers, req.Body, maxMachineAnswerBytes)
		if err != nil {
			h.logger.Warn("clerk_auth: verifying a machine token at the Backend API failed",
				zap.String("token_type", string(kind)), zap.Int("status", status), zap.String("error", clerkapi.RedactURLError(err)))
			return machine.Result{}, machine.UnexpectedError(kind, status)
		}
		res, merr := machine.ParseResult(kind, status, body, h.now())
		switch {
		case merr == nil:
		case merr.Code == machine.CodeSecretKeyInvalid:
			h.logger.Error("clerk_auth: the Backend API refused the key that verifies machine tokens",
				zap.String("token_type", string(kind)), zap.Int("status", status))
		case merr.Code == machine.CodeUnexpectedError:
			h.logger.Warn("clerk_auth: the Backend API did not verify a machine token",
				zap.String("token_type", string(kind)), zap.Int("status", status))
		}
		return res, merr
	}
}

// machineHeaderValues are one request's copies of the machine token's
// header values (see sessionHeaderValues).
type machineHeaderValues [len(machineHeaders)]string

// machineHeaders name the values of machineValues, in order.
var machineHeaders = [...]string{
	wire.HeaderTokenType, wire.HeaderSubject, wire.HeaderUserID, wire.HeaderOrgID, wire.HeaderMachineID,
	wire.HeaderTokenID, wire.HeaderScopes, wire.HeaderAPIKeyName, wire.HeaderClientID,
}

// machinePlaceholderNames name the values of machineValues as
// placeholders, in order.
var machinePlaceholderNames = [...]string{
	"http.auth.clerk.token_type", "http.auth.clerk.subject", "", "http.auth.user.org_id", "http.auth.clerk.machine_id",
	"http.auth.clerk.token_id", "http.auth.clerk.scopes", "http.auth.clerk.api_key_name", "http.auth.clerk.client_id",
}

// machineValues are what a verified machine token tells upstreams, in the
// order of machineHeaders. X-Clerk-User-Id is only ever a user id: an API
// key's user, an OAuth token's user; never a machine or an organization.
func machineValues(m *machine.Result) [len(machineHeaders)]string {
	userID := ""
	if strings.HasPrefix(m.UserID, "user_") {
		userID = m.UserID
	}
	return [...]string{string(m.Kind), m.Subject, userID, m.OrgID, m.MachineID, m.ID, m.ScopeText, m.Name, m.ClientID}
}

// machineView is what a verified machine token publishes, made once per
// token when the verifier shares its result (prepareMachineView), as a
// session's values are made once per session: a cached token's request
// then boxes no placeholder value and copies only its header values.
type machineView struct {
	vals [len(machineHeaders)]string
	// headerOK says which values can travel in a header (an API key's name
	// with a control character cannot).
	headerOK [len(machineHeaders)]bool
	boxes    [len(machineHeaders)]any
	subject  any
	// placeholders is v.placeholder, made once.
	placeholders func(key string) (any, bool)
}

// prepareMachineView is the verifier's Prepare: it makes m's view.
func prepareMachineView(m *machine.Result) { m.View = newMachineView(m) }

func newMachineView(m *machine.Result) *machineView {
	v := &machineView{vals: machineValues(m), subject: m.Subject}
	for i, s := range v.vals {
		v.boxes[i] = s
		v.headerOK[i] = s != "" && httpguts.ValidHeaderFieldValue(s)
	}
	v.placeholders = v.placeholder
	return v
}

// viewOf is m's view (made now if the verifier did not make one).
func viewOf(m *machine.Result) *machineView {
	if v, ok := m.View.(*machineView); ok {
		return v
	}
	return newMachineView(m)
}

// publishMachine sets the headers of a verified machine token (unless
// upstream_headers is off), in one allocation. A value that cannot travel
// in a header (an API key's name with a control character, say) is left
// out.
func publishMachine(r *http.Request, m *machine.Result, which upstreamHeaders) {
	if which == upstreamOff {
		return
	}
	v := viewOf(m)
	buf := new(machineHeaderValues)
	for i, ok := range v.headerOK {
		if ok {
			buf[i] = v.vals[i]
			r.Header[machineHeaders[i]] = buf[i : i+1 : i+1]
		}
	}
}

// placeholder answers the placeholders of a signed-in machine token:
// {http.auth.user.id} is the principal (the subject: user_, org_ or mch_),
// so that the access log's user_id names it for every kind.
func (v *machineView) placeholder(key string) (any, bool) {
	switch key {
	case "http.auth.clerk.status":
		return session.AnySignedIn, true
	case "http.auth.clerk.reason":
		return session.AnyNoReason, true
	case "http.auth.user.id":
		return v.subject, true
	}
	for i, name := range machinePlaceholderNames {
		if name != "" && key == name {
			return v.boxes[i], true
		}
	}
	return session.OwnPlaceholder(key)
}

// principalID is who a signed-in outcome is about, for logs.
func principalID(d *authn.Outcome) string {
	switch {
	case d.Machine != nil:
		return d.Machine.Subject
	case d.Session != nil:
		return d.Session.UserID
	}
	return ""
}

// machineUnavailable: a machine token could not be verified because the
// Backend API did not answer (or answered 408, 429 or 5xx, or unreadably,
// or the call budget was spent): the credential may be fine, so the answer
// is 503, not 401. A 4xx about the token (400, 403, 422) stays a 401.
func machineUnavailable(d *authn.Outcome) bool {
	return d.MachineRefused && d.MachineUnavailable
}
