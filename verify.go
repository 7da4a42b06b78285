package clerkauth

import (
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/jsonscan"
	"github.com/clerk-edge/clerk_auth/internal/jsparse"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// tokenError is a failed verification with Clerk's reason code. message is
// for logs and the X-Clerk-Auth-Message header, which any client reads: it
// is fixed text, never the token, and never a detail of our own network.
// detail, when set, says more for the logs alone (the address a key fetch
// failed to reach, the resolver's error).
type tokenError struct {
	reason  string
	message string
	detail  string
}

func (e *tokenError) Error() string { return e.reason + ": " + e.logText() }

// logText is the message with its detail, for logs, events and diagnose.
func (e *tokenError) logText() string {
	if e.detail != "" {
		return e.message + " " + e.detail
	}
	return e.message
}

// Header members we read.
const (
	hdrAlg = iota
	hdrTyp
	hdrKid
	hdrCat
	numHeaderMembers
)

var headerNames = jsonscan.NewNames([]string{hdrAlg: "alg", hdrTyp: "typ", hdrKid: "kid", hdrCat: "cat"})

// Claims we read, typed by JSON kind: a token is attacker input, and a claim
// of the wrong JSON type must deny, never decode to a zero value that passes.
const (
	clSub = iota
	clAzp
	clIss
	clExp
	clNbf
	clIat
	clSid
	clSts
	clV
	clO
	clOrgID
	clOrgRole
	clOrgSlug
	clAct
	clFea
	clPla
	clOrgPermissions
	clAud
	numClaims
)

var claimNames = jsonscan.NewNames([]string{
	clSub: "sub", clAzp: "azp", clIss: "iss", clExp: "exp", clNbf: "nbf", clIat: "iat", clSid: "sid",
	clSts: "sts", clV: "v", clO: "o", clOrgID: "org_id", clOrgRole: "org_role", clOrgSlug: "org_slug", clAct: "act",
	clFea: "fea", clPla: "pla", clOrgPermissions: "org_permissions", clAud: "aud",
})

// tokenClaims are the claims decisions read; the rest of the payload stays
// raw until someone asks for it (rawClaims).
type tokenClaims [numClaims]jsonscan.Value

// decodedJWT is a compact JWT decoded but not verified. Once a token has
// verified, its decodedJWT is shared read-only through the cache.
type decodedJWT struct {
	token        string
	signingInput string
	// sig is the signature segment as sent (base64url, checked by
	// decodeJWT): it is decoded again onto the stack to be verified, so
	// that no decoded token holds a buffer for it.
	sig    string
	header [numHeaderMembers]jsonscan.Value
	claims tokenClaims
	// payload is the payload's JSON text, for rawClaims.
	payload string
	// entry is the cache entry this token was decoded into (decodeJWT
	// allocates both at once); verified says the entry is complete (the
	// token verified), set before the entry is published.
	entry    *cacheEntry
	verified bool
}

func (d *decodedJWT) kid() string { return d.header[hdrKid].AsString() }
func (d *decodedJWT) alg() string { return d.header[hdrAlg].AsString() }

// cat reports the category and whether one is given (JSON null is none).
func (d *decodedJWT) cat() (string, bool) {
	c := d.header[hdrCat]
	if c.Kind == jsonscan.Absent || c.Kind == jsonscan.Null {
		return "", false
	}
	return c.AsString(), true
}

// typ reports the type and whether one is given (JSON null is none).
func (d *decodedJWT) typ() (string, bool) {
	t := d.header[hdrTyp]
	if t.Kind == jsonscan.Absent || t.Kind == jsonscan.Null {
		return "", false
	}
	return t.AsString(), true
}

// decodeJWT is @clerk/backend decodeJwt: three dot-separated parts, each
// base64url (padding tolerated, trailing bits must be zero), header and
// payload JSON. Failure is token-invalid. The segments are decoded into one
// buffer and the JSON is read once, into typed members.
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
	signingInput := token[:len(h)+1+len(p)]
	h, p, s = strings.TrimRight(h, "="), strings.TrimRight(p, "="), strings.TrimRight(s, "=")
	// Clerk's base64url parser (rfc4648.ts) refuses CR and LF, which Go's
	// decoder skips: a token with one is not a token, whichever part holds
	// it, so that one credential has one spelling (and one cache entry).
	if hasLineBreak(h) || hasLineBreak(p) {
		return nil, errTokenDecode
	}
	// Header and payload are decoded into a buffer on the stack (a Clerk
	// token fits) and copied once into the string the claims point into.
	var stack [2048]byte
	buf := stack[:]
	if n := rawURLStrict.DecodedLen(len(h)) + rawURLStrict.DecodedLen(len(p)); n > len(buf) {
		buf = make([]byte, n)
	}
	hn, err1 := rawURLStrict.Decode(buf, []byte(h))
	pn, err2 := rawURLStrict.Decode(buf[hn:], []byte(p))
	if err1 != nil || err2 != nil || !isStrictRawURLBase64(s) {
		return nil, errTokenDecode
	}
	e := new(cacheEntry)
	d := &e.jwt
	d.entry, d.token, d.signingInput, d.sig = e, token, signingInput, s
	text := string(buf[:hn+pn])
	hl := hn
	d.payload = text[hl:]
	// readMembers checks the JSON as it reads it. The header was decoded
	// into a struct: any JSON but an object or null failed to decode.
	if jsonscan.ReadMembers(text[:hl], headerNames, d.header[:], false) != nil {
		return nil, errTokenDecode
	}
	if c := text[jsonscan.SkipSpaceAt(text[:hl], 0)]; c != '{' && c != 'n' {
		return nil, errTokenDecode
	}
	if jsonscan.ReadMembers(d.payload, claimNames, d.claims[:], true) != nil {
		return nil, errTokenDecode
	}
	return d, nil
}

// maxTokenBytes bounds the work one token can cost before it is rejected.
// Clerk's session tokens live in cookies (4 KiB in browsers) and Caddy reads
// at most 16 KiB of request headers unless told otherwise; anything larger
// is not a Clerk token, whatever max_header_bytes allows.
const maxTokenBytes = 16 << 10

var errTokenTooLarge = &tokenError{reason: wire.ReasonTokenInvalid, message: "Invalid JWT form. The token is larger than 16 KiB."}

// rawClaims decodes the whole payload, for what the typed claims do not
// hold. The payload was valid JSON; a payload that is not an object has no
// claims.
func rawClaims(payload string) map[string]any {
	var c map[string]any
	if json.Unmarshal([]byte(payload), &c) != nil {
		return map[string]any{}
	}
	return c
}

var (
	errTokenForm   = &tokenError{reason: wire.ReasonTokenInvalid, message: "Invalid JWT form. A JWT consists of three parts separated by dots."}
	errTokenDecode = &tokenError{reason: wire.ReasonTokenInvalid, message: "Invalid JWT form. The header, payload, or signature could not be decoded."}
)

var rawURLStrict = base64.RawURLEncoding.Strict()

var algHash = map[string]crypto.Hash{
	"RS256": crypto.SHA256,
	"RS384": crypto.SHA384,
	"RS512": crypto.SHA512,
}

func isAllowedAlg(alg string) bool { _, ok := algHash[alg]; return ok }

// verifyOptions are the claim checks of one handler.
type verifyOptions struct {
	authorizedParties []string
	// audience, when set, is what an aud claim must name (assertAudienceClaim).
	audience []string
	// issuer, when set, must equal iss exactly (decision A.3).
	issuer string
	skew   time.Duration
}

// verifySignature runs checks 4 to 6 of verifyJwt: typ, alg, then the
// signature with the algorithm pinned by the key.
func verifySignature(d *decodedJWT, key *verificationKey) *tokenError {
	// assertHeaderType (jwt/assertions.ts) lets only an absent typ pass
	// unchecked: JSON null is a typ, and not "JWT".
	if t := d.header[hdrTyp]; t.Kind != jsonscan.Absent && (t.Kind != jsonscan.String || t.Str != "JWT") {
		return &tokenError{reason: wire.ReasonTokenInvalid, message: `Invalid JWT type. Expected "JWT".`}
	}
	alg := d.alg()
	hash, ok := algHash[alg]
	if !ok {
		return &tokenError{reason: wire.ReasonTokenInvalidAlgorithm, message: "Invalid JWT algorithm. Supported: RS256,RS384,RS512."}
	}
	if key.alg != "" && key.alg != alg {
		// WebCrypto refuses to import a key for another hash than its own;
		// Clerk reports that as a verification failure.
		return &tokenError{reason: wire.ReasonTokenVerificationFailed, message: "Error verifying JWT signature. The key is for " + key.alg + ", the token says " + alg + "."}
	}
	var sigBuf [maxStackSignature]byte
	var sum [sha512.Size]byte
	sig, err := decodeSignature(&sigBuf, d.sig)
	if err != nil || key.verifyPKCS1v15(hash, digest(&sum, hash, d.signingInput), sig) != nil {
		return &tokenError{reason: wire.ReasonTokenInvalidSignature, message: "JWT signature is invalid."}
	}
	return nil
}

// isStrictRawURLBase64 tells whether s is what Clerk's base64url parser
// (rfc4648.ts, padding already removed) decodes: only the URL alphabet (no
// CR or LF, which Go's decoder would skip), no length of the form 4n+1, and
// no stray bits in the last character. The signature is checked this way
// when a token is decoded, and decoded only when it is verified.
func isStrictRawURLBase64(s string) bool {
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

// canonicalToken is the spelling of token the cache keys on: the padding
// Clerk's decoder tolerates at the end of the signature removed. Padding
// elsewhere is in the signed input and fails the signature, and decodeJWT
// refuses every other variation (CR, LF, stray bits), so two spellings of
// one credential share one entry.
func canonicalToken(token string) string {
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
	if n := rawURLStrict.DecodedLen(len(s)); n > len(dst) {
		dst = make([]byte, n)
	}
	n, err := rawURLStrict.Decode(dst, []byte(s))
	return dst[:n], err
}

// digest hashes the signing input into out. For SHA-256, the hash of
// Clerk's RS256, the input goes through a buffer on the stack: hashing
// []byte(input) would first copy the whole signing input to the heap.
func digest(out *[sha512.Size]byte, hash crypto.Hash, input string) []byte {
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

// verifyClaims runs checks 7 to 13 of verifyJwt, in Clerk's order, after the
// signature is proven.
func verifyClaims(c *tokenClaims, o *verifyOptions, now time.Time) *tokenError {
	if c[clSub].Kind != jsonscan.String {
		return &tokenError{reason: wire.ReasonTokenVerificationFailed, message: "Subject claim (sub) is required and must be a string."}
	}
	if len(o.audience) > 0 {
		if err := checkAudience(c[clAud], o.audience); err != nil {
			return err
		}
	}
	if len(o.authorizedParties) > 0 {
		azp := c[clAzp].AsString()
		if azp == "" || !contains(o.authorizedParties, azp) {
			return &tokenError{reason: wire.ReasonTokenInvalidAuthorizedParties, message: "Invalid JWT Authorized party claim (azp)."}
		}
	}
	if o.issuer != "" {
		if c[clIss].AsString() != o.issuer {
			return issuerMismatch(o.issuer)
		}
	}
	return verifyTimeClaims(c, o.skew, now)
}

func issuerMismatch(issuer string) *tokenError {
	// The expected issuer names the site's proxy or Frontend API: it goes
	// to the debug log, not to the client.
	return &tokenError{reason: wire.ReasonTokenInvalidIssuer, message: "Invalid JWT issuer claim (iss).", detail: "Expected \"" + issuer + "\"."}
}

// checkAudience is assertAudienceClaim of @clerk/backend (jwt/assertions.ts)
// for a non-empty audience list: an aud that is absent or falsy, or a list
// whose elements are all falsy, is not checked; a string must be in the
// list; a list of strings must share one element with it. Where Clerk lets
// any other truthy aud through unchecked (a number, true, an object, a list
// holding anything but strings), we refuse it with the same reason: an aud
// we cannot compare must not pass an audience check (README, "Where we
// differ from Clerk's SDK").
func checkAudience(aud jsonscan.Value, audience []string) *tokenError {
	switch aud.Kind {
	case jsonscan.Absent, jsonscan.Null, jsonscan.False:
		return nil
	case jsonscan.String:
		if aud.Str == "" || contains(audience, aud.Str) {
			return nil
		}
		return &tokenError{reason: wire.ReasonTokenVerificationFailed, message: "Invalid JWT audience claim (aud) " + jsonText(aud.Str) + ". Is not included in \"" + jsonText(audience) + "\"."}
	case jsonscan.Array:
		var elems []any
		if json.Unmarshal([]byte(aud.Str), &elems) != nil {
			return errAudienceNotComparable
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
				match = match || contains(audience, v)
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
			return &tokenError{reason: wire.ReasonTokenVerificationFailed, message: "Invalid JWT audience claim array (aud) " + jsonText(elems) + ". Is not included in \"" + jsonText(audience) + "\"."}
		}
		return errAudienceNotComparable
	case jsonscan.Number:
		if aud.Num == 0 {
			return nil
		}
	}
	return errAudienceNotComparable
}

var errAudienceNotComparable = &tokenError{reason: wire.ReasonTokenVerificationFailed, message: "Invalid JWT audience claim (aud). Expected a string or an array of strings."}

// jsonText is JSON.stringify of v, for messages.
func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// verifyTimeClaims are checks 11 to 13: they change their answer with the
// clock, so a cached token runs them on every request.
func verifyTimeClaims(c *tokenClaims, skew time.Duration, now time.Time) *tokenError {
	nowMs := float64(now.UnixMilli())
	skewMs := float64(skew.Milliseconds())
	exp := c[clExp]
	if exp.Kind != jsonscan.Number {
		return errExpNotNumber
	}
	if t, ok := jsparse.DateMs(exp.Num); ok && t <= nowMs-skewMs {
		return errExpired
	}
	if nbf := c[clNbf]; nbf.Present() {
		if nbf.Kind != jsonscan.Number {
			return &tokenError{reason: wire.ReasonTokenVerificationFailed, message: "Invalid JWT not before date claim (nbf). Expected number."}
		}
		if t, ok := jsparse.DateMs(nbf.Num); ok && t > nowMs+skewMs {
			return &tokenError{reason: wire.ReasonTokenNotActiveYet, message: "JWT cannot be used prior to not before date claim (nbf)."}
		}
	}
	if iat := c[clIat]; iat.Present() {
		if iat.Kind != jsonscan.Number {
			return &tokenError{reason: wire.ReasonTokenVerificationFailed, message: "Invalid JWT issued at date claim (iat). Expected number."}
		}
		if t, ok := jsparse.DateMs(iat.Num); ok && t > nowMs+skewMs {
			return &tokenError{reason: wire.ReasonTokenIatInTheFuture, message: "JWT issued at date claim (iat) is in the future."}
		}
	}
	return nil
}

var (
	errExpNotNumber = &tokenError{reason: wire.ReasonTokenVerificationFailed, message: "Invalid JWT expiry date claim (exp). Expected number."}
	errExpired      = &tokenError{reason: wire.ReasonTokenExpired, message: "JWT is expired."}
)

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
