package authn

import (
	"net/http"

	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/machine"
	"github.com/clerk-edge/clerk_auth/internal/policy"
	"github.com/clerk-edge/clerk_auth/internal/session"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// Kind is what happened to a request (docs/architecture.md, "The
// request path"). Outcome.Status keeps Clerk's status string, which the headers,
// the placeholders and the metrics' labels show: a denial is signed-in
// there, as is the clean-URL redirect after a development handshake.
type Kind uint8

const (
	// NoDecision is no decision (clerk-diagnose's placeholder).
	NoDecision Kind = iota
	// SignedIn: a verified session that every rule lets in.
	SignedIn
	// SignedOut: no session, with Clerk's reason (or ours).
	SignedOut
	// Handshake: a redirect we built: the handshake, a multi-domain
	// sync, or the clean URL after a resolved development handshake.
	Handshake
	// Denied: a verified session that an authorization rule
	// refuses (rule, reason): a 403.
	Denied
)

// Outcome is the one outcome of a request, as Clerk's RequestState
// (@clerk/backend tokens/authStatus.ts) plus our authorization: the handler
// answers from it, the metrics count it and clerk-diagnose explains it
// (docs/architecture.md, "The request path").
type Outcome struct {
	Kind Kind
	// Status is Clerk's status string (wire.Status*).
	Status  string
	Reason  string
	Message string
	// Detail is for the debug log only, never a response header.
	Detail string
	// Carrier is where the token came from: "header", "cookie" or "".
	Carrier string
	Session *session.Session
	// Location is the handshake (or sync) redirect.
	Location string
	// SetCookies are Set-Cookie values for the response: the loop guard, and
	// the directives of a resolved handshake.
	SetCookies []string
	// ExtraHeaders are other response headers of a resolved handshake.
	ExtraHeaders http.Header
	// TokenPresented tells the 401 whether to name an invalid token.
	TokenPresented bool
	// Rule is the authorization rule that refused the session (its 403),
	// when Kind is Denied; Reason is then the rule's reason (Deny).
	Rule *policy.Rule
	// Key verified the session's token, and Token is that token, when a
	// session signed in (SignedIn, Denied).
	Key   *keys.Key
	Token string
	// TokenType is Clerk's tokenType of the state (session_token, api_key,
	// m2m_token, oauth_token; "" for Clerk's null: an acceptsToken array
	// that refused the token's type).
	TokenType machine.TokenType
	// Machine is the verified machine token of a signed-in (or denied)
	// machine request; Session is nil then.
	Machine *machine.Result
	// MachineRefused says a machine path signed the request out: no
	// handshake and no sign-in redirect follow (Clerk never handshakes for
	// machine tokens). MachineUnavailable says why: the Backend API could
	// not say (no answer, 408, 429, 5xx, an unreadable answer, the call
	// budget spent), so the credential may be fine.
	MachineRefused     bool
	MachineUnavailable bool
}

// Deny turns a signed-in outcome into the denied one: rule refused the
// session, for reason (internal/policy's Denial).
func (o *Outcome) Deny(rule *policy.Rule, reason string) {
	o.Kind, o.Reason, o.Rule = Denied, reason, rule
}

// KeyUse is what one verification learned of its key: the key (from the
// key source, or the cache entry's), or the kid asked for and the key
// source's error.
type KeyUse struct {
	Kid string
	Key *keys.Key
	Err *jwt.Error
}

func signedOut(reason, message, carrier string, tokenPresented bool) *Outcome {
	return &Outcome{Kind: SignedOut, Status: wire.StatusSignedOut, Reason: reason, Message: message, Carrier: carrier, TokenPresented: tokenPresented}
}
