package clerkauth

import (
	"crypto"
	"crypto/rsa"
	_ "crypto/sha256" // RS256
	_ "crypto/sha512" // RS384, RS512
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"time"
)

// tokenError is a failed verification with Clerk's reason code. message is
// for logs and the X-Clerk-Auth-Message header: it never holds the token.
type tokenError struct {
	reason  string
	message string
}

func (e *tokenError) Error() string { return e.reason + ": " + e.message }

// jwtHeader holds the header members we read. They are typed any because a
// token is attacker input: a member of the wrong JSON type must deny, never
// fail to decode into a zero value that passes.
type jwtHeader struct {
	Alg any `json:"alg"`
	Typ any `json:"typ"`
	Kid any `json:"kid"`
	Cat any `json:"cat"`
}

// decodedJWT is a compact JWT decoded but not verified.
type decodedJWT struct {
	signingInput string
	signature    []byte
	header       jwtHeader
	// claims is the payload when it is a JSON object, else empty.
	claims map[string]any
}

func (d *decodedJWT) kid() string { s, _ := d.header.Kid.(string); return s }
func (d *decodedJWT) alg() string { s, _ := d.header.Alg.(string); return s }
func (d *decodedJWT) cat() (string, bool) {
	if d.header.Cat == nil {
		return "", false
	}
	s, _ := d.header.Cat.(string)
	return s, true
}

// decodeJWT is @clerk/backend decodeJwt: three dot-separated parts, each
// base64url (padding tolerated, trailing bits must be zero), header and
// payload JSON. Failure is token-invalid.
func decodeJWT(token string) (*decodedJWT, *tokenError) {
	if len(token) > maxTokenBytes {
		return nil, errTokenTooLarge
	}
	h, rest, ok := strings.Cut(token, ".")
	if !ok {
		return nil, errTokenForm
	}
	p, s, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(s, ".") {
		return nil, errTokenForm
	}
	hb, err1 := decodeSegment(h)
	pb, err2 := decodeSegment(p)
	sig, err3 := decodeSegment(s)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, errTokenDecode
	}
	d := &decodedJWT{signingInput: token[:len(h)+1+len(p)], signature: sig}
	// Into a map, not the struct: encoding/json would match "ALG" or "Kid"
	// to a field case-insensitively, where JavaScript reads only "alg".
	var header map[string]any
	if json.Unmarshal(hb, &header) != nil {
		return nil, errTokenDecode
	}
	d.header = jwtHeader{Alg: header["alg"], Typ: header["typ"], Kid: header["kid"], Cat: header["cat"]}
	var payload any
	if json.Unmarshal(pb, &payload) != nil {
		return nil, errTokenDecode
	}
	d.claims, _ = payload.(map[string]any)
	return d, nil
}

// maxTokenBytes bounds the work one token can cost before it is rejected.
// Clerk's session tokens live in cookies (4 KiB in browsers) and Caddy reads
// at most 16 KiB of request headers unless told otherwise; anything larger
// is not a Clerk token, whatever max_header_bytes allows.
const maxTokenBytes = 16 << 10

var errTokenTooLarge = &tokenError{reason: reasonTokenInvalid, message: "Invalid JWT form. The token is larger than 16 KiB."}

var (
	errTokenForm   = &tokenError{reason: reasonTokenInvalid, message: "Invalid JWT form. A JWT consists of three parts separated by dots."}
	errTokenDecode = &tokenError{reason: reasonTokenInvalid, message: "Invalid JWT form. The header, payload, or signature could not be decoded."}
)

var rawURLStrict = base64.RawURLEncoding.Strict()

func decodeSegment(s string) ([]byte, error) {
	return rawURLStrict.DecodeString(strings.TrimRight(s, "="))
}

var algHash = map[string]crypto.Hash{
	"RS256": crypto.SHA256,
	"RS384": crypto.SHA384,
	"RS512": crypto.SHA512,
}

func isAllowedAlg(alg string) bool { _, ok := algHash[alg]; return ok }

// verifyOptions are the claim checks of one handler.
type verifyOptions struct {
	authorizedParties []string
	// issuer, when set, must equal iss exactly (decision A.3).
	issuer string
	skew   time.Duration
}

// verifySignature runs checks 4 to 6 of verifyJwt: typ, alg, then the
// signature with the algorithm pinned by the key.
func verifySignature(d *decodedJWT, key *verificationKey) *tokenError {
	if d.header.Typ != nil {
		if typ, _ := d.header.Typ.(string); typ != "JWT" {
			return &tokenError{reason: reasonTokenInvalid, message: `Invalid JWT type. Expected "JWT".`}
		}
	}
	alg := d.alg()
	hash, ok := algHash[alg]
	if !ok {
		return &tokenError{reason: reasonTokenInvalidAlgorithm, message: "Invalid JWT algorithm. Supported: RS256,RS384,RS512."}
	}
	if key.alg != "" && key.alg != alg {
		// WebCrypto refuses to import a key for another hash than its own;
		// Clerk reports that as a verification failure.
		return &tokenError{reason: reasonTokenVerificationFailed, message: "Error verifying JWT signature. The key is for " + key.alg + ", the token says " + alg + "."}
	}
	h := hash.New()
	h.Write([]byte(d.signingInput))
	if rsa.VerifyPKCS1v15(key.pub, hash, h.Sum(nil), d.signature) != nil {
		return &tokenError{reason: reasonTokenInvalidSignature, message: "JWT signature is invalid."}
	}
	return nil
}

// verifyClaims runs checks 7 to 13 of verifyJwt, in Clerk's order, after the
// signature is proven.
func verifyClaims(c map[string]any, o *verifyOptions, now time.Time) *tokenError {
	if _, ok := c["sub"].(string); !ok {
		return &tokenError{reason: reasonTokenVerificationFailed, message: "Subject claim (sub) is required and must be a string."}
	}
	if len(o.authorizedParties) > 0 {
		azp, _ := c["azp"].(string)
		if azp == "" || !contains(o.authorizedParties, azp) {
			return &tokenError{reason: reasonTokenInvalidAuthorizedParties, message: "Invalid JWT Authorized party claim (azp)."}
		}
	}
	if o.issuer != "" {
		if iss, _ := c["iss"].(string); iss != o.issuer {
			return &tokenError{reason: reasonTokenInvalidIssuer, message: "Invalid JWT issuer claim (iss). Expected \"" + o.issuer + "\"."}
		}
	}
	nowMs := float64(now.UnixMilli())
	skewMs := float64(o.skew.Milliseconds())
	exp, present, isNum := numericClaim(c, "exp")
	if !present || !isNum {
		return &tokenError{reason: reasonTokenVerificationFailed, message: "Invalid JWT expiry date claim (exp). Expected number."}
	}
	if t, ok := jsDateMs(exp); ok && t <= nowMs-skewMs {
		return &tokenError{reason: reasonTokenExpired, message: "JWT is expired."}
	}
	if nbf, present, isNum := numericClaim(c, "nbf"); present {
		if !isNum {
			return &tokenError{reason: reasonTokenVerificationFailed, message: "Invalid JWT not before date claim (nbf). Expected number."}
		}
		if t, ok := jsDateMs(nbf); ok && t > nowMs+skewMs {
			return &tokenError{reason: reasonTokenNotActiveYet, message: "JWT cannot be used prior to not before date claim (nbf)."}
		}
	}
	if iat, present, isNum := numericClaim(c, "iat"); present {
		if !isNum {
			return &tokenError{reason: reasonTokenVerificationFailed, message: "Invalid JWT issued at date claim (iat). Expected number."}
		}
		if t, ok := jsDateMs(iat); ok && t > nowMs+skewMs {
			return &tokenError{reason: reasonTokenIatInTheFuture, message: "JWT issued at date claim (iat) is in the future."}
		}
	}
	return nil
}

// numericClaim reports whether the claim is present (JSON null counts as
// present, as in JavaScript it is not undefined) and whether it is a number.
func numericClaim(c map[string]any, name string) (v float64, present, isNum bool) {
	raw, present := c[name]
	if !present {
		return 0, false, false
	}
	v, isNum = raw.(float64)
	return v, true, isNum
}

// jsDateMs is what `new Date(0).setUTCSeconds(s)` gives in milliseconds: the
// seconds truncated toward zero, and no valid time beyond ±8.64e15 ms (then
// every comparison with it is false in JavaScript).
func jsDateMs(seconds float64) (float64, bool) {
	ms := math.Trunc(seconds) * 1000
	if math.IsNaN(ms) || math.Abs(ms) > 8.64e15 {
		return 0, false
	}
	return ms, true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
