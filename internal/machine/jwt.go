package machine

import (
	"github.com/clerk-edge/clerk_auth/internal/jsparse"
	"net/http"
	"strings"
	"time"
)

// JWTCategoryM2M is the header cat of M2M JWTs (JWT_CATEGORY_M2M_TOKEN,
// src/tokens/jwtCategories.ts).
const JWTCategoryM2M = "cl_B7d4PD333AAA"

// DefaultClockSkew is verifyJwt's DEFAULT_CLOCK_SKEW_IN_MS (src/jwt/verifyJwt.ts).
const DefaultClockSkew = 5 * time.Second

// algs are the algorithms verifyJwt accepts (src/jwt/algorithms.ts).
var algs = []string{"RS256", "RS384", "RS512"}

// JWTOptions are the options Clerk's machine-JWT verification reads.
type JWTOptions struct {
	// Audience is Clerk's audience option: for M2M JWTs checked only when
	// both it and the token's aud are non-empty (assertAudienceClaim); for
	// OAuth JWTs, CheckOAuthAudience's rule, applied by the caller with
	// Result.CheckOAuthAudience (verifyOAuthJwt).
	Audience []string
	// ClockSkew is clockSkewInMs; 0 means DefaultClockSkew.
	ClockSkew time.Duration
}

func verificationFailed(kind TokenType, msg string) *Error {
	return &Error{Kind: kind, Code: CodeTokenVerificationFailed, Message: msg}
}

// CheckJWTHeader is what Clerk checks of a machine JWT's header before its
// signature, in order. kind is MachineTokenType's answer for the token
// (m2m_token for sub mch_…, else oauth_token). For M2M (verifyM2MJwt,
// src/jwt/verifyMachineJwt.ts): cat absent or cl_B7d4PD333AAA, else
// token-invalid "Invalid M2M JWT category."; then, as verifyJwt's
// assertHeaderType and assertHeaderAlgorithm, typ absent or "JWT" (M2M) or
// at+jwt / application/at+jwt (OAuth), and alg RS256/RS384/RS512, else
// token-verification-failed with Clerk's message. header is the decoded
// JSON header (numbers as float64).
func CheckJWTHeader(kind TokenType, header map[string]any) *Error {
	var allowed []string
	switch kind {
	case M2MToken:
		if cat, present := header["cat"]; present && cat != JWTCategoryM2M {
			return &Error{Kind: kind, Code: CodeTokenInvalid, Message: "Invalid M2M JWT category."}
		}
	case OAuthToken:
		allowed = oauthAccessTokenTypes
	default:
		return UnexpectedError(kind, 0)
	}
	typ, present := header["typ"]
	if present || allowed != nil {
		want := allowed
		if want == nil {
			want = []string{"JWT"}
		}
		s, isString := typ.(string)
		if !isString || !contains(want, s) {
			return verificationFailed(kind, "Invalid JWT type "+jsStringifyClaim(typ, present)+". Expected \""+strings.Join(want, ", ")+"\".")
		}
	}
	alg, _ := header["alg"].(string)
	if !contains(algs, alg) {
		// JSON.stringify(alg) of a non-string: JS's algs.includes fails and
		// the message shows the value; a string is quoted.
		a, present := header["alg"]
		return verificationFailed(kind, "Invalid JWT algorithm "+jsStringifyClaim(a, present)+". Supported: "+strings.Join(algs, ",")+".")
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// jsStringifyClaim is JSON.stringify of a claim that may be absent.
func jsStringifyClaim(v any, present bool) string {
	if !present {
		return "undefined"
	}
	if v == nil {
		return "null"
	}
	return jsStringify(v)
}

// CheckJWTClaims is what Clerk checks of a machine JWT's payload once its
// signature verified (verifyJwt, src/jwt/verifyJwt.ts, as called by
// verifyM2MJwt and verifyOAuthJwt), in order: sub a string; for M2M, aud
// against opts.Audience (assertAudienceClaim; OAuth JWTs run without
// audience); exp a number and after now − skew; nbf, if present, a number
// not after now + skew; iat, if present, a number not after now + skew.
// Every failure is token-verification-failed with verifyJwt's message.
// azp and iss are not checked, as in Clerk. On success the Result is
// M2MToken.fromJwtPayload or IdPOAuthAccessToken.fromJwtPayload
// (src/api/resources): for OAuth the caller still applies
// Result.CheckOAuthAudience(opts.Audience).
func CheckJWTClaims(kind TokenType, payload map[string]any, opts JWTOptions, now time.Time) (Result, *Error) {
	if kind != M2MToken && kind != OAuthToken {
		return Result{}, UnexpectedError(kind, 0)
	}
	skew := opts.ClockSkew
	if skew == 0 {
		skew = DefaultClockSkew
	}
	skewMs := float64(skew.Milliseconds())
	nowMs := float64(now.UnixMilli())
	fail := func(msg string) (Result, *Error) { return Result{}, verificationFailed(kind, msg) }

	sub, present := payload["sub"]
	subject, isString := sub.(string)
	if !isString {
		return fail("Subject claim (sub) is required and must be a string. Received " + jsStringifyClaim(sub, present) + ".")
	}
	if kind == M2MToken {
		if e := checkAudienceClaim(payload["aud"], opts.Audience); e != "" {
			return fail(e)
		}
	}
	exp, present := payload["exp"]
	expNum, isNum := exp.(float64)
	if !isNum {
		return fail("Invalid JWT expiry date claim (exp) " + jsStringifyClaim(exp, present) + ". Expected number.")
	}
	expMs, expValid := jsparse.DateMs(expNum)
	if expValid && expMs <= nowMs-skewMs {
		return fail("JWT is expired. Expiry date: " + utcString(expMs, expValid) + ", Current date: " + utcString(nowMs, true) + ".")
	}
	if nbf, present := payload["nbf"]; present {
		n, isNum := nbf.(float64)
		if !isNum {
			return fail("Invalid JWT not before date claim (nbf) " + jsStringifyClaim(nbf, true) + ". Expected number.")
		}
		if ms, ok := jsparse.DateMs(n); ok && ms > nowMs+skewMs {
			return fail("JWT cannot be used prior to not before date claim (nbf). Not before date: " + utcString(ms, true) + "; Current date: " + utcString(nowMs, true) + ";")
		}
	}
	iat, iatPresent := payload["iat"]
	if iatPresent {
		n, isNum := iat.(float64)
		if !isNum {
			return fail("Invalid JWT issued at date claim (iat) " + jsStringifyClaim(iat, true) + ". Expected number.")
		}
		if ms, ok := jsparse.DateMs(n); ok && ms > nowMs+skewMs {
			return fail("JWT issued at date claim (iat) is in the future. Issued at date: " + utcString(ms, true) + "; Current date: " + utcString(nowMs, true) + ";")
		}
	}

	res := Result{Kind: kind, Subject: subject, aud: payload["aud"]}
	res.ID, _ = payload["jti"].(string)
	if expValid {
		res.Expiry = time.UnixMilli(int64(expNum * 1000))
	}
	switch kind {
	case M2MToken:
		res.MachineID = subject
		switch s := payload["scopes"].(type) {
		case string:
			res.Scopes = strings.Split(s, " ")
		default:
			res.Scopes = stringList(payload["aud"])
		}
		claims := map[string]any{}
		for k, v := range payload {
			switch k {
			case "iss", "sub", "exp", "nbf", "iat", "jti":
			default:
				claims[k] = v
			}
		}
		if len(claims) > 0 {
			res.Claims = claims
		}
	case OAuthToken:
		res.UserID = subject
		res.ClientID, _ = payload["client_id"].(string)
		if scp, ok := payload["scp"].([]any); ok {
			res.Scopes = stringList(scp)
		} else if s, ok := payload["scope"].(string); ok {
			res.Scopes = strings.Split(s, " ")
		}
		res.Audience = stringList(payload["aud"])
	}
	if res.Scopes == nil {
		res.Scopes = []string{}
	}
	res.ScopeText = scopeText(res.Scopes)
	return res, nil
}

// checkAudienceClaim is assertAudienceClaim (src/jwt/assertions.ts): only
// when both lists are non-empty, a string aud must be in audience, an
// array of strings must share a value with it; other shapes pass.
func checkAudienceClaim(aud any, audience []string) string {
	var list []string
	for _, a := range audience {
		if a != "" {
			list = append(list, a)
		}
	}
	var audList []any
	switch a := aud.(type) {
	case []any:
		for _, x := range a {
			if jsparse.Truthy(x) {
				audList = append(audList, x)
			}
		}
	default:
		if jsparse.Truthy(a) {
			audList = []any{a}
		}
	}
	if len(list) == 0 || len(audList) == 0 {
		return ""
	}
	switch a := aud.(type) {
	case string:
		if !contains(list, a) {
			return "Invalid JWT audience claim (aud) " + jsStringify(a) + ". Is not included in \"" + jsStringify(toAny(list)) + "\"."
		}
	case []any:
		strs := len(a) > 0
		for _, x := range a {
			_, ok := x.(string)
			strs = strs && ok
		}
		if !strs {
			return ""
		}
		for _, x := range a {
			if contains(list, x.(string)) {
				return ""
			}
		}
		return "Invalid JWT audience claim array (aud) " + jsStringify(a) + ". Is not included in \"" + jsStringify(toAny(list)) + "\"."
	}
	return ""
}

// utcString is Date.prototype.toUTCString for years 0 to 9999.
func utcString(ms float64, ok bool) string {
	if !ok {
		return "Invalid Date"
	}
	return time.UnixMilli(int64(ms)).UTC().Format(http.TimeFormat)
}
