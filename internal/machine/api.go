package machine

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// Codes of MachineTokenVerificationErrorCode (src/errors.ts): the reason of
// a signed-out machine request.
const (
	CodeTokenInvalid            = "token-invalid"
	CodeSecretKeyInvalid        = "secret-key-invalid"
	CodeUnexpectedError         = "unexpected-error"
	CodeTokenVerificationFailed = "token-verification-failed"
)

// ClerkAPIVersion is the Clerk-API-Version header @clerk/backend 3.25 sends
// (SUPPORTED_BAPI_VERSION, src/constants.ts).
const ClerkAPIVersion = "2026-05-12"

// Error is a failed machine verification: Clerk's
// MachineTokenVerificationError (src/errors.ts). It never holds a token or
// a secret: Message is fixed text, or the Backend API's own message on a 401.
type Error struct {
	// Kind is the state's token type (Clerk's tokenType of the result).
	Kind TokenType
	// Code is one of the Code* constants: the signed-out reason.
	Code string
	// Message is the error's message without the code and status suffix.
	Message string
	// Status is the Backend API's HTTP status, 0 when there was none
	// (network error, JWT check).
	Status int
	// negative says a later request with the same token would get the same
	// answer, so the answer may be remembered briefly (see Cacheable).
	negative bool
}

// Error is FullMessage.
func (e *Error) Error() string { return e.FullMessage() }

// FullMessage is getFullMessage of MachineTokenVerificationError
// (src/errors.ts): "<message> (code=<code>, status=<status or n/a>)", the
// x-clerk-auth-message of the signed-out state.
func (e *Error) FullMessage() string {
	st := "n/a"
	if e.Status != 0 {
		st = strconv.Itoa(e.Status)
	}
	return e.Message + " (code=" + e.Code + ", status=" + st + ")"
}

// Cacheable says the answer is about the token, not about the moment: a 4xx
// of the Backend API other than 401 (our key), 408 and 429, or a 2xx that
// this package refused (revoked, expired, inactive). 429, 5xx, network
// errors and unreadable answers are never cacheable.
func (e *Error) Cacheable() bool { return e != nil && e.negative }

// UnexpectedError is Clerk's answer to a failed call that produced no HTTP
// status (a network error, a timeout; status 0) or an unexpected one
// (handleClerkAPIError, src/tokens/verify.ts): unexpected-error, never
// cacheable. The Backend API client uses it for transport failures.
func UnexpectedError(kind TokenType, status int) *Error {
	return &Error{Kind: kind, Code: CodeUnexpectedError, Message: "Unexpected error", Status: status}
}

// Credentials are the keys that authenticate Backend API calls.
type Credentials struct {
	// SecretKey is the instance's secret key (sk_…).
	SecretKey string
	// MachineSecretKey is a machine's secret key (ak_…); only M2M
	// verification uses it, in preference to SecretKey.
	MachineSecretKey string
}

// Request is one Backend API call, as data: the Backend API client adds the
// base URL (https://api.clerk.com by default; no /v1: @clerk/backend builds
// the apiKeys, m2m and idPOAuthAccessToken clients with
// skipApiVersionInUrl, src/api/factory.ts), its User-Agent and its timeout.
type Request struct {
	// Method is POST for every verify call.
	Method string
	// Path is relative to the API URL, e.g. /api_keys/verify.
	Path string
	// Body is the JSON body.
	Body []byte
	// Headers are Authorization, Content-Type and Clerk-API-Version. The
	// Authorization value is a secret: never log it.
	Headers map[string]string
}

// Errors of RequestFor. They name no key or token.
var (
	ErrNotOpaque     = errors.New("machine: not an opaque machine token kind")
	ErrNoSecretKey   = errors.New("machine: a secret key is required to verify this token kind")
	ErrNoM2MKey      = errors.New("machine: a machine secret key or a secret key is required to verify M2M tokens")
	ErrTokenEmpty    = errors.New("machine: empty token")
	ErrTokenNotASCII = errors.New("machine: token has bytes outside printable ASCII")
)

// RequestFor is the Backend API call @clerk/backend 3.25 makes to verify an
// opaque token of kind:
//   - api_key: POST /api_keys/verify {"secret": token}, Bearer secret key
//     (APIKeysApi.verify, src/api/endpoints/APIKeysApi.ts);
//   - m2m_token: POST /m2m_tokens/verify {"token": token}, Bearer machine
//     secret key if set, else secret key (M2MTokenApi.verify and
//     buildRequest's useMachineSecretKey, src/api/request.ts);
//   - oauth_token: POST /oauth_applications/access_tokens/verify
//     {"access_token": token}, Bearer secret key
//     (IdPOAuthAccessTokenApi.verify).
//
// Unlike Clerk, a token with bytes outside printable ASCII is refused
// (ErrTokenNotASCII): no Clerk token has them, and no call is spent on it;
// the caller answers token-invalid without a call.
func RequestFor(kind TokenType, token string, creds Credentials) (Request, error) {
	if token == "" {
		return Request{}, ErrTokenEmpty
	}
	for i := 0; i < len(token); i++ {
		if token[i] < 0x21 || token[i] > 0x7e {
			return Request{}, ErrTokenNotASCII
		}
	}
	var path, field, key string
	switch kind {
	case APIKey:
		path, field, key = "/api_keys/verify", "secret", creds.SecretKey
		if key == "" {
			return Request{}, ErrNoSecretKey
		}
	case M2MToken:
		path, field, key = "/m2m_tokens/verify", "token", creds.MachineSecretKey
		if key == "" {
			key = creds.SecretKey
		}
		if key == "" {
			return Request{}, ErrNoM2MKey
		}
	case OAuthToken:
		path, field, key = "/oauth_applications/access_tokens/verify", "access_token", creds.SecretKey
		if key == "" {
			return Request{}, ErrNoSecretKey
		}
	default:
		return Request{}, ErrNotOpaque
	}
	// JSON.stringify of {field: token}: the token is printable ASCII, so
	// only '"' and '\\' need escaping, as JSON.stringify does.
	var b bytes.Buffer
	b.WriteString(`{"` + field + `":"`)
	for i := 0; i < len(token); i++ {
		if c := token[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(token[i])
	}
	b.WriteString(`"}`)
	return Request{
		Method: "POST",
		Path:   path,
		Body:   b.Bytes(),
		Headers: map[string]string{
			"Authorization":     "Bearer " + key,
			"Content-Type":      "application/json",
			"Clerk-API-Version": ClerkAPIVersion,
		},
	}, nil
}

// Result is a verified machine token: what Clerk's toAuth() exposes for it
// (authenticatedMachineObject, src/tokens/authObjects.ts), and its expiry.
// Results may be shared by the cache: treat them as read-only.
type Result struct {
	// Kind is api_key, m2m_token or oauth_token.
	Kind TokenType
	// ID is the token's id (ak_…, mt_…, oat_…; a JWT's jti, or "").
	ID string
	// Subject is the principal: user_…, org_… or mch_….
	Subject string
	// UserID is Clerk's userId: the subject of an API key when it is a
	// user_…; the subject of an OAuth token, always (as Clerk's toAuth()).
	UserID string
	// OrgID is the subject of an org-owned API key (org_…).
	OrgID string
	// MachineID is the subject of an M2M token (Clerk's machineId).
	MachineID string
	// Scopes are the token's scopes; for M2M tokens, the machines it may
	// call.
	Scopes []string
	// ScopeText is Scopes joined by spaces (RFC 6749's scope syntax), made
	// once for headers and placeholders; "" when a scope holds a space or
	// a control character (it could not be read back).
	ScopeText string
	// Name is an API key's name.
	Name string
	// ClientID is an OAuth token's OAuth application client id.
	ClientID string
	// Claims are an API key's or M2M token's custom claims, or nil.
	Claims map[string]any
	// Audience is an OAuth token's aud, as a list (nil when absent).
	Audience []string
	// Expiry is when the token stops being valid; zero when it does not
	// expire.
	Expiry time.Time
	// View is what the caller made of the result once, before it was
	// shared (Config.Prepare): the root's header values and placeholders.
	View any
	// aud is the aud value as the Backend API or the JWT gave it, for
	// CheckOAuthAudience's messages.
	aud any
}

// object values of the Backend API's verify answers
// (src/api/resources/Deserializer.ts ObjectType).
var objectOf = map[TokenType]string{
	APIKey:     "api_key",
	M2MToken:   "machine_to_machine_token",
	OAuthToken: "clerk_idp_oauth_access_token",
}

// notFoundMessage is verify.ts's message for a 404, by kind
// (verifyAPIKey, verifyM2MToken, verifyOAuthToken).
var notFoundMessage = map[TokenType]string{
	APIKey:     "API key not found",
	M2MToken:   "Machine token not found",
	OAuthToken: "OAuth token not found",
}

// kindNoun is how this package's own messages name a kind.
var kindNoun = map[TokenType]string{APIKey: "API key", M2MToken: "Machine token", OAuthToken: "OAuth token"}

// ParseResult reads the Backend API's answer to RequestFor's call: status 0
// for a network failure. The error mapping is handleClerkAPIError's
// (src/tokens/verify.ts): 401 secret-key-invalid with the answer's first
// error message (or "Invalid secret key"), 404 token-invalid with the
// kind's "… not found", any other status unexpected-error "Unexpected
// error".
//
// Deliberately safer than Clerk, which signs in on any 2xx whatever it
// says: a 2xx is accepted only as a JSON object whose object is the kind's
// resource (api_key, machine_to_machine_token,
// clerk_idp_oauth_access_token), with a string id, a non-empty string
// subject (mch_… for M2M), revoked and expired present and false, active
// not false, expiration null or after now, and well-formed scopes. revoked,
// expired, past expiration and active: false deny with token-invalid
// (cacheable); anything unreadable denies with unexpected-error (not
// cacheable). expiration is milliseconds for API keys and M2M tokens; for
// OAuth tokens the spec says seconds: values below 1e11 are read as
// seconds, others as milliseconds, for every kind, which tells the two
// apart for any date between 1973 and 5138.
func ParseResult(kind TokenType, status int, body []byte, now time.Time) (Result, *Error) {
	if _, ok := objectOf[kind]; !ok {
		return Result{}, UnexpectedError(kind, status)
	}
	switch {
	case status >= 200 && status < 300:
	case status == 401:
		return Result{}, &Error{Kind: kind, Code: CodeSecretKeyInvalid, Message: firstErrorMessage(body), Status: status}
	case status == 404:
		return Result{}, &Error{Kind: kind, Code: CodeTokenInvalid, Message: notFoundMessage[kind], Status: status, negative: true}
	default:
		e := UnexpectedError(kind, status)
		e.negative = status >= 400 && status < 500 && status != 408 && status != 429
		return Result{}, e
	}
	unreadable := func() (Result, *Error) { return Result{}, UnexpectedError(kind, status) }
	deny := func(what string) (Result, *Error) {
		return Result{}, &Error{Kind: kind, Code: CodeTokenInvalid, Message: kindNoun[kind] + " " + what, Status: status, negative: true}
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil || m == nil {
		return unreadable()
	}
	// {"active": false}: the OAuth verify answer for an inactive JWT
	// access token, which Clerk signs in with no identity.
	if raw, ok := m["active"]; ok {
		var active bool
		if json.Unmarshal(raw, &active) != nil {
			return unreadable()
		}
		if !active {
			return deny("is not active")
		}
	}
	// Fields are read by their exact names (encoding/json's struct
	// decoding would also take "Revoked" for "revoked").
	var (
		object, id, subject, name, clientID *string
		revoked, expired                    *bool
		expiration                          *float64
		scopes                              []string
		claims                              map[string]any
	)
	for _, f := range []struct {
		key string
		dst any
	}{
		{"object", &object}, {"id", &id}, {"subject", &subject}, {"name", &name}, {"client_id", &clientID},
		{"revoked", &revoked}, {"expired", &expired}, {"expiration", &expiration}, {"scopes", &scopes},
		{"claims", &claims},
	} {
		if raw, ok := m[f.key]; ok && json.Unmarshal(raw, f.dst) != nil {
			return unreadable()
		}
	}
	if object == nil || *object != objectOf[kind] || id == nil || subject == nil || *subject == "" ||
		revoked == nil || expired == nil {
		return unreadable()
	}
	if *revoked {
		return deny("is revoked")
	}
	if *expired {
		return deny("is expired")
	}
	res := Result{Kind: kind, ID: *id, Subject: *subject, Scopes: scopes}
	if res.Scopes == nil {
		res.Scopes = []string{}
	}
	if expiration != nil {
		exp, ok := expirationTime(*expiration)
		if !ok {
			return unreadable()
		}
		if !exp.After(now) {
			return deny("is expired")
		}
		res.Expiry = exp
	}
	switch kind {
	case APIKey:
		if name != nil {
			res.Name = *name
		}
		res.Claims = claims
		if strings.HasPrefix(res.Subject, "user_") {
			res.UserID = res.Subject
		} else if strings.HasPrefix(res.Subject, "org_") {
			res.OrgID = res.Subject
		}
	case M2MToken:
		if !strings.HasPrefix(res.Subject, M2MSubjectPrefix) {
			return unreadable()
		}
		res.Claims = claims
		res.MachineID = res.Subject
	case OAuthToken:
		if clientID != nil {
			res.ClientID = *clientID
		}
		res.UserID = res.Subject
		if raw, ok := m["aud"]; ok && string(raw) != "null" {
			var aud any
			if json.Unmarshal(raw, &aud) != nil {
				return unreadable()
			}
			res.aud = aud
			res.Audience = stringList(aud)
		}
	}
	res.ScopeText = scopeText(res.Scopes)
	return res, nil
}

// scopeText is ScopeText of scopes.
func scopeText(scopes []string) string {
	for _, s := range scopes {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c <= ' ' || c == 0x7f {
				return ""
			}
		}
	}
	return strings.Join(scopes, " ")
}

// expirationTime reads a Backend API expiration (see ParseResult).
func expirationTime(v float64) (time.Time, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 || v > 1e15 {
		return time.Time{}, false
	}
	if v < 1e11 {
		return time.Unix(0, 0).Add(time.Duration(v * float64(time.Second))), true
	}
	return time.UnixMilli(int64(v)), true
}

// stringList is [aud].flat() keeping strings only.
func stringList(v any) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		out := make([]string, 0, len(a))
		for _, x := range a {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// firstErrorMessage is err.errors[0]?.message || 'Invalid secret key'
// (handleClerkAPIError). The Backend API's message is kept only when it is
// short printable ASCII, so that nothing odd reaches a header.
func firstErrorMessage(body []byte) string {
	var b struct {
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &b) == nil && len(b.Errors) > 0 {
		msg := b.Errors[0].Message
		ok := msg != "" && len(msg) <= 200
		for i := 0; ok && i < len(msg); i++ {
			ok = msg[i] >= 0x20 && msg[i] <= 0x7e
		}
		if ok {
			return msg
		}
	}
	return "Invalid secret key"
}

// CheckOAuthAudience is assertOAuthAudienceClaim (src/jwt/assertions.ts),
// which Clerk applies to OAuth tokens, opaque (after the Backend API call,
// IdPOAuthAccessTokenApi.verify) and JWT (verifyOAuthJwt): with audience
// set, the token's aud must be a non-empty string or a non-empty array of
// non-empty strings that shares a value with it, else
// token-verification-failed. Without audience nothing is checked. It is
// per route, so it runs after the cache, on every request.
func (r Result) CheckOAuthAudience(audience []string) *Error {
	if r.Kind != OAuthToken {
		return nil
	}
	return checkOAuthAudience(r.aud, audience)
}

func checkOAuthAudience(aud any, audience []string) *Error {
	var list []string
	for _, a := range audience {
		if a != "" {
			list = append(list, a)
		}
	}
	if len(list) == 0 {
		return nil
	}
	fail := func(msg string) *Error {
		return &Error{Kind: OAuthToken, Code: CodeTokenVerificationFailed, Message: msg}
	}
	var fromToken []string
	valid := true
	switch a := aud.(type) {
	case string:
		valid = a != ""
		fromToken = []string{a}
	case []any:
		valid = len(a) > 0
		for _, x := range a {
			s, ok := x.(string)
			if !ok || s == "" {
				valid = false
			}
			fromToken = append(fromToken, s)
		}
	default:
		valid = false
	}
	if !valid {
		return fail("Invalid OAuth audience claim (aud) " + jsStringify(aud) +
			". Expected a non-empty string or a non-empty array of non-empty strings.")
	}
	for _, a := range fromToken {
		for _, w := range list {
			if a == w {
				return nil
			}
		}
	}
	return fail("OAuth audience mismatch. Verification expected audience " + jsStringify(toAny(list)) +
		", but incoming token has aud " + jsStringify(aud) + ".")
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// jsStringify is JSON.stringify for values decoded by encoding/json, for
// Clerk's messages: no HTML escaping, JS number spelling for integers, and
// undefined for a nil value that stands for an absent claim. Object keys
// come out sorted (JS keeps insertion order).
func jsStringify(v any) string {
	if v == nil {
		return "undefined"
	}
	var b bytes.Buffer
	writeJS(&b, v)
	return b.String()
}

func writeJS(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			b.WriteString("null")
		} else if x == math.Trunc(x) && math.Abs(x) < 1e21 {
			b.WriteString(strconv.FormatFloat(x, 'f', -1, 64))
		} else {
			b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
		}
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJS(b, e)
		}
		b.WriteByte(']')
	default:
		enc := json.NewEncoder(b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(x)
		b.Truncate(b.Len() - 1) // Encode's newline
	}
}
