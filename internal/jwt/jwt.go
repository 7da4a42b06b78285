// Package jwt decodes and verifies Clerk's session tokens, as @clerk/backend's
// jwt/verifyJwt.ts does: the compact form, Clerk's strict base64url, the
// header and claims read by the JSON member scanner (internal/jsonscan), the
// signature with the algorithm pinned by the key, and the claim checks in
// Clerk's order. Failures are Errors carrying Clerk's reason codes. Why this
// is our own code and not jwx: docs/architecture.md, "Decision: session
// tokens are parsed by our own code".
package jwt

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/jsonscan"
	"github.com/clerk-edge/clerk_auth/internal/jsparse"
	"github.com/clerk-edge/clerk_auth/internal/rsaverify"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// Error is a failed verification with Clerk's reason code. Message is
// for logs and the X-Clerk-Auth-Message header, which any client reads: it
// is fixed text, never the token, and never a detail of our own network.
// detail, when set, says more for the logs alone (the address a key fetch
// failed to reach, the resolver's error).
type Error struct {
	Reason  string
	Message string
	Detail  string
}

// Error is the reason and the log text.
func (e *Error) Error() string { return e.Reason + ": " + e.LogText() }

// LogText is the message with its detail, for logs, events and diagnose.
func (e *Error) LogText() string {
	if e.Detail != "" {
		return e.Message + " " + e.Detail
	}
	return e.Message
}

// Header members we read.
const (
	hdrAlg = iota
	hdrTyp
	hdrKid
	hdrCat
	NumHeaderMembers
)

var headerNames = jsonscan.NewNames([]string{hdrAlg: "alg", hdrTyp: "typ", hdrKid: "kid", hdrCat: "cat"})

// Claims we read, typed by JSON kind: a token is attacker input, and a claim
// of the wrong JSON type must deny, never decode to a zero value that passes.
const (
	ClaimSub = iota
	ClaimAzp
	ClaimIss
	ClaimExp
	ClaimNbf
	ClaimIat
	ClaimSid
	ClaimSts
	ClaimV
	ClaimO
	ClaimOrgID
	ClaimOrgRole
	ClaimOrgSlug
	ClaimAct
	ClaimFea
	ClaimPla
	ClaimOrgPermissions
	ClaimAud
	NumClaims
)

// ClaimNames are the names of the claims, in the order of the Claim constants.
var ClaimNames = jsonscan.NewNames([]string{
	ClaimSub: "sub", ClaimAzp: "azp", ClaimIss: "iss", ClaimExp: "exp", ClaimNbf: "nbf", ClaimIat: "iat", ClaimSid: "sid",
	ClaimSts: "sts", ClaimV: "v", ClaimO: "o", ClaimOrgID: "org_id", ClaimOrgRole: "org_role", ClaimOrgSlug: "org_slug", ClaimAct: "act",
	ClaimFea: "fea", ClaimPla: "pla", ClaimOrgPermissions: "org_permissions", ClaimAud: "aud",
})

// Claims are the claims decisions read; the rest of the payload stays
// raw until someone asks for it (RawClaims).
type Claims [NumClaims]jsonscan.Value

// Token is a compact JWT decoded but not verified. Once a token has
// verified, its Token is shared read-only through the cache.
type Token struct {
	Raw          string
	SigningInput string
	// Sig is the signature segment as sent (base64url, checked by
	// DecodeInto): it is decoded again onto the stack to be verified, so
	// that no decoded token holds a buffer for it.
	Sig    string
	Header [NumHeaderMembers]jsonscan.Value
	Claims Claims
	// Payload is the payload's JSON text, for rawClaims.
	Payload string
}

// Kid is the header's kid, "" when it is not a string.
func (d *Token) Kid() string { return d.Header[hdrKid].AsString() }

// Alg is the header's alg, "" when it is not a string.
func (d *Token) Alg() string { return d.Header[hdrAlg].AsString() }

// Cat reports the category and whether one is given (JSON null is none).
func (d *Token) Cat() (string, bool) {
	c := d.Header[hdrCat]
	if c.Kind == jsonscan.Absent || c.Kind == jsonscan.Null {
		return "", false
	}
	return c.AsString(), true
}

// Typ reports the type and whether one is given (JSON null is none).
func (d *Token) Typ() (string, bool) {
	t := d.Header[hdrTyp]
	if t.Kind == jsonscan.Absent || t.Kind == jsonscan.Null {
		return "", false
	}
	return t.AsString(), true
}

// DecodeInto is @clerk/backend decodeJwt: three dot-separated parts, each
// base64url (padding tolerated, trailing bits must be zero), header and
// payload JSON. Failure is token-invalid. The segments are decoded into one
// buffer and the JSON is read once, into typed members. It decodes into d,
// which the caller allocates (the token cache allocates its entry around
// it, so that a token that verifies costs no second allocation).
func DecodeInto(d *Token, token string) *Error {
	if len(token) > MaxTokenBytes {
		return ErrTooLarge
	}
	h, rest, ok := strings.Cut(token, ".")
	if !ok {
		return ErrForm
	}
	p, s, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(s, ".") {
		return ErrForm
	}
	signingInput := token[:len(h)+1+len(p)]
	h, p, s = strings.TrimRight(h, "="), strings.TrimRight(p, "="), strings.TrimRight(s, "=")
	// Clerk's base64url parser (rfc4648.ts) refuses CR and LF, which Go's
	// decoder skips: a token with one is not a token, whichever part holds
	// it, so that one credential has one spelling (and one cache entry).
	if hasLineBreak(h) || hasLineBreak(p) {
		return ErrDecode
	}
	// Header and payload are decoded into a buffer on the stack (a Clerk
	// token fits) and copied once into the string the claims point into.
	var stack [2048]byte
	buf := stack[:]
	if n := RawURLStrict.DecodedLen(len(h)) + RawURLStrict.DecodedLen(len(p)); n > len(buf) {
		buf = make([]byte, n)
	}
	hn, err1 := RawURLStrict.Decode(buf, []byte(h))
	pn, err2 := RawURLStrict.Decode(buf[hn:], []byte(p))
	if err1 != nil || err2 != nil || !IsStrictRawURLBase64(s) {
		return ErrDecode
	}
	// One allocation, without pointers, holds the decoded header and
	// payload and a copy of the token as sent: the token may be a slice of
	// a whole Cookie or Authorization header, and a token that verifies is
	// kept in the cache with nothing around it and no second allocation
	// (docs/performance.md, "The cache entry and the garbage collector").
	var b strings.Builder
	b.Grow(hn + pn + len(token))
	_, _ = b.Write(buf[:hn+pn])
	_, _ = b.WriteString(token)
	text := b.String()
	hl := hn
	raw := text[hn+pn:]
	d.Raw, d.SigningInput = raw, raw[:len(signingInput)]
	d.Sig = raw[len(signingInput)+1:][:len(s)]
	d.Payload = text[hl : hn+pn]
	// readMembers checks the JSON as it reads it. The header was decoded
	// into a struct: any JSON but an object or null failed to decode.
	if jsonscan.ReadMembers(text[:hl], headerNames, d.Header[:], false) != nil {
		return ErrDecode
	}
	if c := text[jsonscan.SkipSpaceAt(text[:hl], 0)]; c != '{' && c != 'n' {
		return ErrDecode
	}
	if jsonscan.ReadMembers(d.Payload, ClaimNames, d.Claims[:], true) != nil {
		return ErrDecode
	}
	return nil
}

// MaxTokenBytes bounds the work one token can cost before it is rejected.
// Clerk's session tokens live in cookies (4 KiB in browsers) and Caddy reads
// at most 16 KiB of request headers unless told otherwise; anything larger
// is not a Clerk token, whatever max_header_bytes allows.
const MaxTokenBytes = 16 << 10

// ErrTooLarge is the answer to a token over MaxTokenBytes.
var ErrTooLarge = &Error{Reason: wire.ReasonTokenInvalid, Message: "Invalid JWT form. The token is larger than 16 KiB."}

// RawClaims decodes the whole payload, for what the typed claims do not
// hold. The payload was valid JSON; a payload that is not an object has no
// claims.
func RawClaims(payload string) map[string]any {
	var c map[string]any
	if json.Unmarshal([]byte(payload), &c) != nil {
		return map[string]any{}
	}
	return c
}

// Errors of a token that is not a compact JWT.
var (
	ErrForm   = &Error{Reason: wire.ReasonTokenInvalid, Message: "Invalid JWT form. A JWT consists of three parts separated by dots."}
	ErrDecode = &Error{Reason: wire.ReasonTokenInvalid, Message: "Invalid JWT form. The header, payload, or signature could not be decoded."}
)

// RawURLStrict is unpadded base64url that refuses stray trailing bits.
var RawURLStrict = base64.RawURLEncoding.Strict()

var algHash = map[string]crypto.Hash{
	"RS256": crypto.SHA256,
	"RS384": crypto.SHA384,
	"RS512": crypto.SHA512,
}

// IsAllowedAlg tells whether alg is RS256, RS384 or RS512.
func IsAllowedAlg(alg string) bool { _, ok := algHash[alg]; return ok }

// Options are the claim checks of one handler.
type Options struct {
	AuthorizedParties []string
	// Audience, when set, is what an aud claim must name (assertAudienceClaim).
	Audience []string
	// Issuer, when set, must equal iss exactly (docs/architecture.md,
	// "Decision: checks we add").
	Issuer string
	Skew   time.Duration
}

// VerifySignature runs checks 4 to 6 of verifyJwt: typ, alg, then the
// signature with the algorithm pinned by the key. keyAlg is the one
// algorithm the key verifies ("" for any of RS256, RS384 and RS512); prepared,
// when not nil, is pub with its modulus prepared (internal/rsaverify). The
// key is passed as values, not an interface, so that the signature and digest
// buffers stay on the stack.
func VerifySignature(d *Token, keyAlg string, pub *rsa.PublicKey, prepared *rsaverify.PublicKey) *Error {
	// assertHeaderType (jwt/assertions.ts) lets only an absent typ pass
	// unchecked: JSON null is a typ, and not "JWT".
	if t := d.Header[hdrTyp]; t.Kind != jsonscan.Absent && (t.Kind != jsonscan.String || t.Str != "JWT") {
		return &Error{Reason: wire.ReasonTokenInvalid, Message: `Invalid JWT type. Expected "JWT".`}
	}
	return VerifyAlgAndSignature(d, keyAlg, pub, prepared)
}

// VerifyAlgAndSignature is VerifySignature without the typ check: checks 5
// and 6 of verifyJwt. Machine JWTs have their own typ rule (OAuth access
// tokens are at+jwt), checked by internal/machine before this.
func VerifyAlgAndSignature(d *Token, keyAlg string, pub *rsa.PublicKey, prepared *rsaverify.PublicKey) *Error {
	alg := d.Alg()
	hash, ok := algHash[alg]
	if !ok {
		return &Error{Reason: wire.ReasonTokenInvalidAlgorithm, Message: "Invalid JWT algorithm. Supported: RS256,RS384,RS512."}
	}
	if keyAlg != "" && keyAlg != alg {
		// WebCrypto refuses to import a key for another hash than its own;
		// Clerk reports that as a verification failure, with Node's
		// WebCrypto error as the message (verifyJwt, src/jwt/verifyJwt.ts).
		return &Error{Reason: wire.ReasonTokenVerificationFailed, Message: `Error verifying JWT signature. Error: JWK "alg" does not match the requested algorithm`}
	}
	var sigBuf [maxStackSignature]byte
	var sum [sha512.Size]byte
	sig, err := decodeSignature(&sigBuf, d.Sig)
	if err != nil || verifyPKCS1v15(pub, prepared, hash, Digest(&sum, hash, d.SigningInput), sig) != nil {
		return &Error{Reason: wire.ReasonTokenInvalidSignature, Message: "JWT signature is invalid."}
	}
	return nil
}

// IsStrictRawURLBase64 tells whether s is what Clerk's base64url parser
// (rfc4648.ts, padding already removed) decodes: only the URL alphabet (no
// CR or LF, which Go's decoder would skip), no length of the form 4n+1, and
// no stray bits in the last character. The signature is checked this way
// when a token is decoded, and decoded only when it is verified.
func IsStrictRawURLBase64(s string) bool {
	if len(s) == 0 {
		return true
	}
	// OR-ing every byte's value shows at once that all are in the
	// alphabet, without a branch per byte.
	var acc int8
	for i := 0; i < len(s); i++ {
		acc |= base64URLValue[s[i]]
	}
	return acc >= 0 && lastQuantumClean(len(s), base64URLValue[s[len(s)-1]])
}

// hasLineBreak tells whether s holds a CR or an LF.
func hasLineBreak(s string) bool {
	return strings.IndexByte(s, '\n') >= 0 || strings.IndexByte(s, '\r') >= 0
}

// Canonical is the spelling of token the cache keys on: the padding
// Clerk's decoder tolerates at the end of the signature removed. Padding
// elsewhere is in the signed input and fails the signature, and DecodeInto
// refuses every other variation (CR, LF, stray bits), so two spellings of
// one credential share one entry.
func Canonical(token string) string {
	for token != "" && token[len(token)-1] == '=' {
		token = token[:len(token)-1]
	}
	return token
}

// lastQuantumClean tells whether n base64 characters, the last of value
// last, end as strict decoding requires: no length of the form 4n+1, and no
// stray bits in the last character.
func lastQuantumClean(n int, last int8) bool {
	switch n % 4 {
	case 1:
		return false
	case 2:
		return last&0x0f == 0
	case 3:
		return last&0x03 == 0
	}
	return true
}

// base64URLValue is each byte's value in the base64url alphabet, or -1.
var base64URLValue = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		t[c] = int8(i)
	}
	return t
}()

// maxStackSignature is the largest signature decoded on the stack: an
// RSA-4096 one. Larger segments (no key of ours makes them) go to the heap.
const maxStackSignature = 512

// decodeSignature decodes the signature segment s (padding removed) into
// buf when it fits.
func decodeSignature(buf *[maxStackSignature]byte, s string) ([]byte, error) {
	dst := buf[:]
	if n := RawURLStrict.DecodedLen(len(s)); n > len(dst) {
		dst = make([]byte, n)
	}
	n, err := RawURLStrict.Decode(dst, []byte(s))
	return dst[:n], err
}

// Digest hashes the signing input into out. For SHA-256, the hash of
// Clerk's RS256, the input goes through a buffer on the stack: hashing
// []byte(input) would first copy the whole signing input to the heap.
func Digest(out *[sha512.Size]byte, hash crypto.Hash, input string) []byte {
	switch hash {
	case crypto.SHA384:
		*(*[sha512.Size384]byte)(out[:]) = sha512.Sum384([]byte(input))
		return out[:sha512.Size384]
	case crypto.SHA512:
		*out = sha512.Sum512([]byte(input))
		return out[:]
	}
	h := sha256.New()
	var chunk [512]byte
	for s := input; s != ""; {
		n := copy(chunk[:], s)
		_, _ = h.Write(chunk[:n])
		s = s[n:]
	}
	return h.Sum(out[:0])
}

// VerifyClaims runs checks 7 to 13 of verifyJwt, in Clerk's order, after the
// signature is proven.
func VerifyClaims(c *Claims, o *Options, now time.Time) *Error {
	if c[ClaimSub].Kind != jsonscan.String {
		return &Error{Reason: wire.ReasonTokenVerificationFailed, Message: "Subject claim (sub) is required and must be a string."}
	}
	if len(o.Audience) > 0 {
		if err := CheckAudience(c[ClaimAud], o.Audience); err != nil {
			return err
		}
	}
	if len(o.AuthorizedParties) > 0 {
		azp := c[ClaimAzp].AsString()
		if azp == "" || !slices.Contains(o.AuthorizedParties, azp) {
			return &Error{Reason: wire.ReasonTokenInvalidAuthorizedParties, Message: "Invalid JWT Authorized party claim (azp)."}
		}
	}
	if o.Issuer != "" {
		if c[ClaimIss].AsString() != o.Issuer {
			return IssuerMismatch(o.Issuer)
		}
	}
	return VerifyTimeClaims(c, o.Skew, now)
}

// IssuerMismatch is the error of an iss that is not issuer.
func IssuerMismatch(issuer string) *Error {
	// The expected issuer names the site's proxy or Frontend API: it goes
	// to the debug log, not to the client.
	return &Error{Reason: wire.ReasonTokenInvalidIssuer, Message: "Invalid JWT issuer claim (iss).", Detail: "Expected \"" + issuer + "\"."}
}

// CheckAudience is assertAudienceClaim of @clerk/backend (jwt/assertions.ts)
// for a non-empty audience list: an aud that is absent or falsy, or a list
// whose elements are all falsy, is not checked; a string must be in the
// list; a list of strings must share one element with it. Where Clerk lets
// any other truthy aud through unchecked (a number, true, an object, a list
// holding anything but strings), we refuse it with the same reason: an aud
// we cannot compare must not pass an audience check (README, "Where we
// differ from Clerk's SDK").
func CheckAudience(aud jsonscan.Value, audience []string) *Error {
	switch aud.Kind {
	case jsonscan.Absent, jsonscan.Null, jsonscan.False:
		return nil
	case jsonscan.String:
		if aud.Str == "" || slices.Contains(audience, aud.Str) {
			return nil
		}
		return &Error{Reason: wire.ReasonTokenVerificationFailed, Message: "Invalid JWT audience claim (aud) " + jsonText(aud.Str) + ". Is not included in \"" + jsonText(audience) + "\"."}
	case jsonscan.Array:
		var elems []any
		if json.Unmarshal([]byte(aud.Str), &elems) != nil {
			return ErrAudienceNotComparable
		}
		// [aud].flat().filter(Boolean): only truthy elements count.
		truthy, allStrings, match := 0, true, false
		for _, e := range elems {
			switch v := e.(type) {
			case nil:
			case bool:
				if v {
					truthy++
				}
			case float64:
				if v != 0 {
					truthy++
				}
			case string:
				if v != "" {
					truthy++
				}
				match = match || slices.Contains(audience, v)
				continue
			default:
				truthy++
			}
			allStrings = false
		}
		switch {
		case truthy == 0, allStrings && match:
			return nil
		case allStrings:
			return &Error{Reason: wire.ReasonTokenVerificationFailed, Message: "Invalid JWT audience claim array (aud) " + jsonText(elems) + ". Is not included in \"" + jsonText(audience) + "\"."}
		}
		return ErrAudienceNotComparable
	case jsonscan.Number:
		if aud.Num == 0 {
			return nil
		}
	}
	return ErrAudienceNotComparable
}

// ErrAudienceNotComparable is an aud that is neither a string nor a list of strings.
var ErrAudienceNotComparable = &Error{Reason: wire.ReasonTokenVerificationFailed, Message: "Invalid JWT audience claim (aud). Expected a string or an array of strings."}

// jsonText is JSON.stringify of v, for messages.
func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// VerifyTimeClaims are checks 11 to 13: they change their answer with the
// clock, so a cached token runs them on every request.
func VerifyTimeClaims(c *Claims, skew time.Duration, now time.Time) *Error {
	nowMs := float64(now.UnixMilli())
	skewMs := float64(skew.Milliseconds())
	exp := c[ClaimExp]
	if exp.Kind != jsonscan.Number {
		return ErrExpNotNumber
	}
	if t, ok := jsparse.DateMs(exp.Num); ok && t <= nowMs-skewMs {
		return ErrExpired
	}
	if nbf := c[ClaimNbf]; nbf.Present() {
		if nbf.Kind != jsonscan.Number {
			return &Error{Reason: wire.ReasonTokenVerificationFailed, Message: "Invalid JWT not before date claim (nbf). Expected number."}
		}
		if t, ok := jsparse.DateMs(nbf.Num); ok && t > nowMs+skewMs {
			return &Error{Reason: wire.ReasonTokenNotActiveYet, Message: "JWT cannot be used prior to not before date claim (nbf)."}
		}
	}
	if iat := c[ClaimIat]; iat.Present() {
		if iat.Kind != jsonscan.Number {
			return &Error{Reason: wire.ReasonTokenVerificationFailed, Message: "Invalid JWT issued at date claim (iat). Expected number."}
		}
		if t, ok := jsparse.DateMs(iat.Num); ok && t > nowMs+skewMs {
			return &Error{Reason: wire.ReasonTokenIatInTheFuture, Message: "JWT issued at date claim (iat) is in the future."}
		}
	}
	return nil
}

// Errors of the exp claim.
var (
	ErrExpNotNumber = &Error{Reason: wire.ReasonTokenVerificationFailed, Message: "Invalid JWT expiry date claim (exp). Expected number."}
	ErrExpired      = &Error{Reason: wire.ReasonTokenExpired, Message: "JWT is expired."}
)

// verifyPKCS1v15 is rsa.VerifyPKCS1v15, with the prepared modulus when there
// is one.
func verifyPKCS1v15(pub *rsa.PublicKey, prepared *rsaverify.PublicKey, hash crypto.Hash, hashed, sig []byte) error {
	if prepared == nil {
		return rsa.VerifyPKCS1v15(pub, hash, hashed, sig)
	}
	return prepared.VerifyPKCS1v15(hash, hashed, sig)
}
