// Package machine authenticates Clerk machine tokens (API keys, M2M tokens
// and OAuth access tokens) the way @clerk/backend 3.25's authenticateRequest
// does, with the differences an edge needs (a bounded cache, stricter
// reading of Backend API answers), each documented where it is made.
//
// The package does no HTTP and decodes no signatures: it recognises token
// kinds (kind.go), describes the Backend API call for an opaque token and
// reads its answer (api.go), caches and coalesces those calls (cache.go),
// and applies the claim checks Clerk makes on machine JWTs once their
// signature has been verified elsewhere (jwt.go).
package machine

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// TokenType is a value of Clerk's acceptsToken option, or the type of a
// token (src/tokens/tokenTypes.ts TokenType, plus the option value "any").
type TokenType string

// The token types of src/tokens/tokenTypes.ts, and "any".
const (
	SessionToken TokenType = "session_token"
	APIKey       TokenType = "api_key"
	M2MToken     TokenType = "m2m_token"
	OAuthToken   TokenType = "oauth_token"
	// Any is acceptsToken: 'any', which accepts every token type.
	Any TokenType = "any"
)

// Prefixes of src/tokens/machine.ts.
const (
	M2MTokenPrefix   = "mt_"
	OAuthTokenPrefix = "oat_"
	APIKeyPrefix     = "ak_"
	// M2MSubjectPrefix starts the sub claim of an M2M JWT and the subject
	// of a machine: a machine id.
	M2MSubjectPrefix = "mch_"
)

// oauthAccessTokenTypes is OAUTH_ACCESS_TOKEN_TYPES of src/tokens/machine.ts
// (RFC 9068 typ values).
var oauthAccessTokenTypes = []string{"at+jwt", "application/at+jwt"}

// IsJWTFormat is isJwtFormat of src/tokens/machine.ts: three non-empty parts
// of [A-Za-z0-9_-] separated by dots (JwtFormatRegExp).
func IsJWTFormat(token string) bool {
	parts := 0
	n := 0 // characters in the current part
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case c == '.':
			if n == 0 {
				return false
			}
			parts++
			n = 0
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			n++
		default:
			return false
		}
	}
	return parts == 2 && n > 0
}

// decodedJWT is what Clerk's decodeJwt (src/jwt/verifyJwt.ts) yields for the
// two checks of this file: the JSON header and payload, each nil when it is
// not a JSON object (then every property read is undefined, as in JS).
type decodedJWT struct {
	header, payload map[string]any
}

// decodeJWTParts decodes like Clerk's decodeJwt: base64url without padding
// and with zero trailing bits (util/rfc4648.ts parse with loose: true, the
// regexp having excluded '='), TextDecoder (which drops a leading BOM) and
// JSON.parse. ok is false where decodeJwt returns errors.
func decodeJWTParts(token string) (d decodedJWT, ok bool) {
	h, rest, _ := strings.Cut(token, ".")
	p, s, _ := strings.Cut(rest, ".")
	hv, ok1 := decodeJSONPart(h)
	pv, ok2 := decodeJSONPart(p)
	if !ok1 || !ok2 {
		return d, false
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(s); err != nil {
		return d, false
	}
	// JS reads data.header.typ (isOAuthJwt) or data.payload.sub (isM2MJwt),
	// each predicate one part only: a null part throws there (caught:
	// false), any other non-object reads undefined (false); a nil map reads
	// as absent in both cases.
	d.header, _ = hv.(map[string]any)
	d.payload, _ = pv.(map[string]any)
	return d, true
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func decodeJSONPart(part string) (any, bool) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(part)
	if err != nil {
		return nil, false
	}
	b = bytes.TrimPrefix(b, utf8BOM)
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, false
	}
	return v, true
}

func (d decodedJWT) isOAuth() bool {
	typ, ok := d.header["typ"].(string)
	return ok && (typ == oauthAccessTokenTypes[0] || typ == oauthAccessTokenTypes[1])
}

func (d decodedJWT) isM2M() bool {
	sub, ok := d.payload["sub"].(string)
	return ok && strings.HasPrefix(sub, M2MSubjectPrefix)
}

// IsOAuthJWT is isOAuthJwt of src/tokens/machine.ts: JWT format, decodes,
// and the header's typ is at+jwt or application/at+jwt.
func IsOAuthJWT(token string) bool {
	if !IsJWTFormat(token) {
		return false
	}
	d, ok := decodeJWTParts(token)
	return ok && d.isOAuth()
}

// IsM2MJWT is isM2MJwt of src/tokens/machine.ts: JWT format, decodes, and
// the payload's sub is a string starting with mch_.
func IsM2MJWT(token string) bool {
	if !IsJWTFormat(token) {
		return false
	}
	d, ok := decodeJWTParts(token)
	return ok && d.isM2M()
}

// IsMachineJWT is isMachineJwt of src/tokens/machine.ts: an OAuth or M2M JWT.
// Clerk's session paths reject such a header token with token-type-mismatch
// before verifying it (src/tokens/request.ts authenticateRequestWithTokenInHeader).
func IsMachineJWT(token string) bool {
	if !IsJWTFormat(token) {
		return false
	}
	d, ok := decodeJWTParts(token)
	return ok && (d.isOAuth() || d.isM2M())
}

// IsMachineTokenByPrefix is isMachineTokenByPrefix of src/tokens/machine.ts.
func IsMachineTokenByPrefix(token string) bool {
	return strings.HasPrefix(token, M2MTokenPrefix) || strings.HasPrefix(token, OAuthTokenPrefix) ||
		strings.HasPrefix(token, APIKeyPrefix)
}

// IsMachineToken is isMachineToken of src/tokens/machine.ts: a machine
// prefix, or an OAuth or M2M JWT.
func IsMachineToken(token string) bool {
	return IsMachineTokenByPrefix(token) || IsMachineJWT(token)
}

// MachineTokenType is getMachineTokenType of src/tokens/machine.ts: mt_ or
// an M2M JWT is m2m_token; else oat_ or an OAuth JWT is oauth_token; else
// ak_ is api_key. Where Clerk throws "Unknown machine token type", ok is
// false.
func MachineTokenType(token string) (t TokenType, ok bool) {
	t, _, _, _ = Classify(token)
	return t, t != ""
}

// Classify is MachineTokenType ("" where it is not a machine token) with
// what it decoded of a JWT-format token: the JSON header and payload as
// DecodeJWT gives them (decoded false where decodeJwt fails), so that a
// request decodes its token once.
func Classify(token string) (t TokenType, header, payload map[string]any, decoded bool) {
	var d decodedJWT
	if IsJWTFormat(token) {
		d, decoded = decodeJWTParts(token)
	}
	return typeOf(token, d, decoded), d.header, d.payload, decoded
}

func typeOf(token string, d decodedJWT, decoded bool) TokenType {
	switch {
	case strings.HasPrefix(token, M2MTokenPrefix) || decoded && d.isM2M():
		return M2MToken
	case strings.HasPrefix(token, OAuthTokenPrefix) || decoded && d.isOAuth():
		return OAuthToken
	case strings.HasPrefix(token, APIKeyPrefix):
		return APIKey
	}
	return ""
}

// HeaderTokenType is the type Clerk gives a header token when it checks an
// acceptsToken array (isTokenTypeInAcceptedArray, src/tokens/request.ts):
// its machine type if IsMachineToken, else session_token; no token at all
// also counts as session_token.
func HeaderTokenType(token string) TokenType {
	if token != "" && IsMachineToken(token) {
		if t, ok := MachineTokenType(token); ok {
			return t
		}
	}
	return SessionToken
}

// Accepts is a parsed acceptsToken option: one type (Clerk's single
// string, "any" included) or a list (Clerk's array).
type Accepts struct {
	list  bool
	types []TokenType
}

// ErrNoTokenTypes is ParseAcceptsToken's error for an empty list: Clerk's []
// silently rejects every request, which a configuration should not mean.
var ErrNoTokenTypes = errors.New("accepts_token: no token type given")

// UnknownTokenTypeError is ParseAcceptsToken's error for a value that is not
// a token type. Clerk does not check acceptsToken values (an unknown string
// makes toAuth() throw "Invalid token type", src/tokens/authObjects.ts); a
// configuration is refused instead.
type UnknownTokenTypeError struct {
	// Value is the configured value, not a credential.
	Value string
}

// Error names the value and the accepted ones.
func (e *UnknownTokenTypeError) Error() string {
	return "accepts_token: unknown token type " + quoteValue(e.Value) +
		" (want session_token, api_key, m2m_token, oauth_token or any)"
}

func quoteValue(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// ParseAcceptsToken reads the accepts_token values: one value is Clerk's
// single string (any allowed only here, as in Clerk's types), several are
// Clerk's array. Duplicates are dropped.
func ParseAcceptsToken(values []string) (Accepts, error) {
	if len(values) == 0 {
		return Accepts{}, ErrNoTokenTypes
	}
	a := Accepts{list: len(values) > 1}
	for _, v := range values {
		t := TokenType(v)
		switch t {
		case SessionToken, APIKey, M2MToken, OAuthToken:
		case Any:
			if a.list {
				return Accepts{}, errors.New("accepts_token: any must be the only value")
			}
		default:
			return Accepts{}, &UnknownTokenTypeError{Value: v}
		}
		if !a.has(t) {
			a.types = append(a.types, t)
		}
	}
	return a, nil
}

func (a Accepts) has(t TokenType) bool {
	for _, x := range a.types {
		if x == t {
			return true
		}
	}
	return false
}

// IsList says whether the option is Clerk's array form, which changes the
// dispatch (src/tokens/request.ts: an array is checked with
// isTokenTypeInAcceptedArray first and goes to
// authenticateAnyRequestWithTokenInHeader, as any does).
func (a Accepts) IsList() bool { return a.list }

// Single returns the one accepted value of the string form (any included).
func (a Accepts) Single() (TokenType, bool) {
	if a.list || len(a.types) != 1 {
		return "", false
	}
	return a.types[0], true
}

// Types returns the accepted types (a copy); [any] for any.
func (a Accepts) Types() []TokenType { return append([]TokenType(nil), a.types...) }

// Allows is isTokenTypeAccepted of src/tokens/machine.ts: false for no type,
// true for any, else membership.
func (a Accepts) Allows(t TokenType) bool {
	if t == "" {
		return false
	}
	if !a.list && len(a.types) == 1 && a.types[0] == Any {
		return true
	}
	return a.has(t)
}

// AcceptsMachine says whether some machine type is accepted, i.e. whether
// machine verification (and its keys) can be needed at all.
func (a Accepts) AcceptsMachine() bool {
	return a.Allows(APIKey) || a.Allows(M2MToken) || a.Allows(OAuthToken)
}

// IsTokenTypeAccepted is isTokenTypeAccepted of src/tokens/machine.ts.
func IsTokenTypeAccepted(t TokenType, a Accepts) bool { return a.Allows(t) }

// ReasonTokenTypeMismatch is AuthErrorReason.TokenTypeMismatch
// (src/tokens/authStatus.ts); Clerk's signed-out state carries it with an
// empty message.
const ReasonTokenTypeMismatch = "token-type-mismatch"

// ReasonNoTokenInHeader is the literal reason of a signed-out state when a
// single machine type is accepted and no Authorization token was sent
// (src/tokens/request.ts, the end of authenticateRequest); its message is
// empty.
const ReasonNoTokenInHeader = "No token in header"

// Mismatch is Clerk's token-type check of a header token before any
// verification. For an array it is isTokenTypeInAcceptedArray
// (src/tokens/request.ts; no token counts as session_token) and the
// signed-out state has no token type; for a single machine type it is
// authenticateMachineRequestWithTokenInHeader's check (not IsMachineToken,
// or checkTokenTypeMismatch) and the state's token type is the accepted
// one. When mismatch is true the request is signed out with
// ReasonTokenTypeMismatch and an empty message. For any and session_token
// it reports no mismatch: those paths check later (see IsMachineJWT).
func (a Accepts) Mismatch(headerToken string) (stateType TokenType, mismatch bool) {
	var kind TokenType
	if headerToken != "" {
		kind, _ = MachineTokenType(headerToken)
	}
	return a.MismatchOf(headerToken != "", kind)
}

// MismatchOf is Mismatch for a header token already classified: present
// says there is one, kind is MachineTokenType's answer ("" for a token
// that is not a machine token; IsMachineToken holds exactly when
// MachineTokenType answers).
func (a Accepts) MismatchOf(present bool, kind TokenType) (stateType TokenType, mismatch bool) {
	if a.list {
		t := SessionToken
		if present && kind != "" {
			t = kind
		}
		return "", !a.Allows(t)
	}
	t, _ := a.Single()
	switch t {
	case Any, SessionToken, "":
		return "", false
	}
	if !present {
		return "", false // ReasonNoTokenInHeader, decided by the caller
	}
	if kind == "" || !a.Allows(kind) {
		return t, true
	}
	return "", false
}
