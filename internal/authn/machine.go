package authn

import (
	"context"
	"strings"

	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/machine"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// acceptsMachine tells whether an acceptsToken is anything but
// Clerk's default session_token: only then does the dispatch of
// authenticateRequest on acceptsToken run (src/tokens/request.ts).
func acceptsMachine(a machine.Accepts) bool {
	if len(a.Types()) == 0 {
		return false
	}
	t, single := a.Single()
	return !single || t != machine.SessionToken
}

// authenticateAccepting is authenticateRequest's dispatch on acceptsToken
// (src/tokens/request.ts), in Clerk's order: an array first checks the
// header token's type (isTokenTypeInAcceptedArray: no token counts as
// session_token); a header token then goes to
// authenticateAnyRequestWithTokenInHeader (any, arrays),
// authenticateRequestWithTokenInHeader (session_token) or
// authenticateMachineRequestWithTokenInHeader (one machine type); without
// one, a single machine type is signed out with "No token in header", and
// everything else takes the cookie path. Machine tokens never handshake.
func (e *Engine) authenticateAccepting(ctx context.Context, a *Request) *Outcome {
	tok := a.tokenInHeader
	kind := e.classifyHeaderToken(a)
	if e.accepts.IsList() {
		if _, mismatch := e.accepts.MismatchOf(tok != "", kind); mismatch {
			return machineSignedOut("", wire.ReasonTokenTypeMismatch, "", tok != "")
		}
	}
	single, _ := e.accepts.Single()
	if tok != "" {
		switch {
		case e.accepts.IsList() || single == machine.Any:
			if kind != "" {
				return e.authenticateMachine(ctx, a, kind)
			}
			return withTokenType(e.authenticateHeader(ctx, a))
		case single == machine.SessionToken:
			return withTokenType(e.authenticateHeader(ctx, a))
		}
		if stateType, mismatch := e.accepts.MismatchOf(true, kind); mismatch {
			return machineSignedOut(stateType, wire.ReasonTokenTypeMismatch, "", true)
		}
		return e.authenticateMachine(ctx, a, kind)
	}
	if !e.accepts.IsList() && single != machine.Any && single != machine.SessionToken {
		return machineSignedOut(single, machine.ReasonNoTokenInHeader, "", false)
	}
	return withTokenType(e.authenticateCookie(ctx, a))
}

// classifyHeaderToken is getMachineTokenType of the header token
// (src/tokens/machine.ts), "" when it is not a machine token. A machine JWT
// verified before is known from memory without decoding it (a.remembered).
func (e *Engine) classifyHeaderToken(a *Request) machine.TokenType {
	tok := a.tokenInHeader
	if tok == "" {
		return ""
	}
	if e.machine != nil && machine.IsJWTFormat(tok) {
		if res, ref, ok := e.machine.LookupJWT(tok); ok {
			if k, _ := ref.(*keys.Key); k != nil && e.keyStillHeld(k) {
				a.machine = res
				return res.Kind
			}
			e.machine.ForgetJWT(tok)
		}
	}
	kind, header, payload, decoded := machine.Classify(tok)
	if decoded {
		a.jwtHeader, a.jwtPayload, a.jwtDecoded = header, payload, true
	}
	return kind
}

// withTokenType marks a session path's outcome with Clerk's tokenType.
func withTokenType(o *Outcome) *Outcome {
	if o.TokenType == "" {
		o.TokenType = machine.SessionToken
	}
	return o
}

// machineSignedOut is a signed-out state of the machine paths: Clerk's
// signedOut with tokenType (src/tokens/authStatus.ts), "" for its null.
func machineSignedOut(tokenType machine.TokenType, reason, message string, presented bool) *Outcome {
	carrier := ""
	if presented {
		carrier = "header"
	}
	o := signedOut(reason, message, carrier, presented)
	o.TokenType = tokenType
	o.MachineRefused = true
	return o
}

// authenticateMachine is verifyMachineAuthToken (src/tokens/verify.ts) on
// the header token, which is a machine token of an accepted type: a
// JWT-format string is verified as a machine JWT, networkless, anything
// else at the Backend API through the Verifier (cache, coalescing, call
// budget). An OAuth token's aud is checked after either, on every request.
func (e *Engine) authenticateMachine(ctx context.Context, a *Request, kind machine.TokenType) *Outcome {
	tok := a.tokenInHeader
	var (
		res  *machine.Result
		merr *machine.Error
	)
	switch {
	case a.machine != nil:
		res = a.machine // a remembered machine JWT (classifyHeaderToken)
	case machine.IsJWTFormat(tok):
		res, merr = e.verifyMachineJWT(ctx, a, tok)
	default:
		switch {
		case e.machine == nil:
			// Configuration refuses an accepted opaque kind without its
			// key; this is the net under it.
			merr = machine.UnexpectedError(kind, 0)
		case !printableASCII(tok):
			// No Clerk token has such bytes; no call is spent on it.
			merr = &machine.Error{Kind: kind, Code: machine.CodeTokenInvalid, Message: "Invalid token: it has bytes outside printable ASCII"}
		default:
			res, merr, _ = e.machine.Verify(ctx, kind, tok)
		}
	}
	if merr == nil {
		merr = res.CheckOAuthAudience(e.verify.Audience)
	}
	if merr == nil && !publishableResult(res) {
		merr = &machine.Error{Kind: res.Kind, Code: machine.CodeTokenInvalid, Message: "Invalid token: an identity value holds a control character"}
	}
	if merr != nil {
		o := machineSignedOut(merr.Kind, merr.Code, merr.FullMessage(), true)
		o.MachineUnavailable = merr.Code == machine.CodeUnexpectedError && !merr.Cacheable()
		return o
	}
	// The result is the one the verifier shares (read-only): nothing is
	// copied per request.
	a.signedIn = Outcome{Kind: SignedIn, Status: wire.StatusSignedIn, Carrier: "header", TokenType: res.Kind, Machine: res}
	return &a.signedIn
}

// verifyMachineJWT is verifyM2MJwt or verifyOAuthJwt
// (src/jwt/verifyMachineJwt.ts) with the handler's key set: decode (a
// failure is token-invalid as m2m_token, as verifyMachineAuthToken routes
// every JWT-format string there), the M2M category, the key, typ and alg,
// the signature with the algorithm pinned by the key, then the claims. A
// verified token is remembered (machine_cache_ttl, never past exp) with
// its key, and served from memory while the key set holds that key
// (classifyHeaderToken).
func (e *Engine) verifyMachineJWT(ctx context.Context, a *Request, tok string) (*machine.Result, *machine.Error) {
	header, payload, ok := a.jwtHeader, a.jwtPayload, a.jwtDecoded
	if !ok || header == nil || payload == nil {
		// Only JWT-format strings get here, three parts always: decodeJwt's
		// failure is then its "could not be decoded" (src/jwt/verifyJwt.ts).
		return nil, &machine.Error{Kind: machine.M2MToken, Code: machine.CodeTokenInvalid, Message: jwt.ErrDecode.Message}
	}
	kind := machine.OAuthToken
	if sub, _ := payload["sub"].(string); strings.HasPrefix(sub, machine.M2MSubjectPrefix) {
		kind = machine.M2MToken
	}
	if e.machine != nil {
		e.machine.CountJWTMiss(kind)
	}
	if kind == machine.M2MToken {
		if cat, present := header["cat"]; present && cat != machine.JWTCategoryM2M {
			return nil, &machine.Error{Kind: kind, Code: machine.CodeTokenInvalid, Message: "Invalid M2M JWT category."}
		}
	}
	if e.keys == nil {
		return nil, verificationFailed(kind, "Failed to resolve JWK during verification.")
	}
	var d jwt.Token
	if err := jwt.DecodeInto(&d, tok); err != nil {
		return nil, &machine.Error{Kind: machine.M2MToken, Code: machine.CodeTokenInvalid, Message: err.Message}
	}
	key, kerr := e.keys.KeyFor(ctx, d.Kid())
	if kerr != nil {
		return nil, verificationFailed(kind, kerr.Message)
	}
	if merr := machine.CheckJWTHeader(kind, header); merr != nil {
		return nil, merr
	}
	if err := key.VerifyMachine(&d); err != nil {
		return nil, verificationFailed(kind, err.Message)
	}
	res, merr := machine.CheckJWTClaims(kind, payload, machine.JWTOptions{Audience: e.verify.Audience, ClockSkew: e.verify.Skew}, a.now)
	if merr != nil {
		return nil, merr
	}
	if e.machine == nil {
		return &res, nil
	}
	shared := e.machine.Share(res)
	if e.keyStillHeld(key) {
		e.machine.RememberJWT(tok, shared, key)
	}
	return shared, nil
}

func verificationFailed(kind machine.TokenType, msg string) *machine.Error {
	return &machine.Error{Kind: kind, Code: machine.CodeTokenVerificationFailed, Message: msg}
}

// printableASCII: every byte of a Clerk token is.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// publishableResult: the identity values can travel as header values. A
// control character in one would make the header unsendable, and leaving
// it out could hide who the caller is: such a token signs nobody in, as
// for sessions (signedInChecks). The API key's name is not identity: it is
// left out of headers when it cannot travel.
func publishableResult(r *machine.Result) bool {
	for _, v := range [...]string{r.ID, r.Subject, r.UserID, r.OrgID, r.MachineID, r.ClientID} {
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < 0x20 || c == 0x7f {
				return false
			}
		}
	}
	return true
}
