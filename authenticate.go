package clerkauth

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/jsonscan"
	"github.com/clerk-edge/clerk_auth/internal/jsparse"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/orgsync"
	"github.com/clerk-edge/clerk_auth/internal/policy"
	"github.com/clerk-edge/clerk_auth/internal/session"
	"github.com/clerk-edge/clerk_auth/internal/tokencache"
	"github.com/clerk-edge/clerk_auth/internal/users"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// outcomeKind is what happened to a request (docs/architecture.md, "The
// request path"). status keeps Clerk's status string, which the headers,
// the placeholders and the metrics' labels show: a denial is signed-in
// there, as is the clean-URL redirect after a development handshake.
type outcomeKind uint8

const (
	// outcomeUnknown is no decision (clerk-diagnose's placeholder).
	outcomeUnknown outcomeKind = iota
	// outcomeSignedIn: a verified session that every rule lets in.
	outcomeSignedIn
	// outcomeSignedOut: no session, with Clerk's reason (or ours).
	outcomeSignedOut
	// outcomeHandshake: a redirect we built: the handshake, a multi-domain
	// sync, or the clean URL after a resolved development handshake.
	outcomeHandshake
	// outcomeDenied: a verified session that an authorization rule
	// refuses (rule, reason): a 403.
	outcomeDenied
)

// decision is the one outcome of a request, as Clerk's RequestState plus
// our authorization: the handler answers from it, the metrics count it and
// clerk-diagnose explains it.
type decision struct {
	kind    outcomeKind
	status  string
	reason  string
	message string
	// detail is for the debug log only, never a response header.
	detail string
	// carrier is where the token came from: "header", "cookie" or "".
	carrier string
	session *session.Session
	// location is the handshake (or sync) redirect.
	location string
	// setCookies are Set-Cookie values for the response: the loop guard, and
	// the directives of a resolved handshake.
	setCookies []string
	// extraHeaders are other response headers of a resolved handshake.
	extraHeaders http.Header
	// tokenPresented tells the 401 whether to name an invalid token.
	tokenPresented bool
	// rule is the authorization rule that refused the session (its 403),
	// when kind is outcomeDenied; reason is then the rule's reason.
	rule *policy.Rule
	// key verified the session's token, and token is that token, when a
	// session signed in (outcomeSignedIn, outcomeDenied).
	key   *keys.Key
	token string
}

// keyUse is what one verification learned of its key: the key (from the
// key source, or the cache entry's), or the kid asked for and the key
// source's error.
type keyUse struct {
	kid string
	key *keys.Key
	err *jwt.Error
}

// authRequest is Clerk's AuthenticateContext: what one request offers.
type authRequest struct {
	r             *http.Request
	now           time.Time
	clerkURL      url.URL
	query         url.Values
	cookies       cookieJar
	tokenInHeader string

	suffixed       bool
	sessionCookie  string
	clientUAT      float64
	refreshCookie  string
	devBrowser     string
	handshakeToken string
	handshakeNonce string
	redirectCount  float64

	// parsed remembers the tokens decoded for this request, so that the
	// cookie rules and the verification decode a token once.
	parsed [2]parsedToken

	// cookiesLoaded tells whether the cookie-borne values above are set: a
	// request with a header token needs them only when it fails.
	cookiesLoaded bool

	// signedIn is the decision of the signed-in path, kept here so that
	// it costs no allocation of its own.
	signedIn decision

	// key is what the last verification of this request learned of its
	// key (verifyRequestSession).
	key keyUse
	// verified is the token that verification was about.
	verified string

	// user is the user lookup of the rules and user_details, done at most
	// once per request (lookupUser, authorize.go).
	user       *users.Details
	userErr    error
	userLooked bool

	// orgTarget is what organization_sync finds in the URL, once
	// orgTargetFound (urlOrgTarget, orgsync.go).
	orgTarget      orgsync.Target
	orgTargetFound bool
}

type parsedToken struct {
	token string
	d     *tokencache.Token
	err   *jwt.Error
}

// newAuthRequest gathers the request's token sources (createAuthenticateContext
// in @clerk/backend tokens/authenticateContext.ts).
func (h *Handler) newAuthRequest(r *http.Request, now time.Time) *authRequest {
	a := new(authRequest)
	h.initAuthRequest(a, r, now)
	return a
}

// initAuthRequest is newAuthRequest into a. ServeHTTP keeps a on its stack:
// nothing may keep a pointer into a once the request is answered.
func (h *Handler) initAuthRequest(a *authRequest, r *http.Request, now time.Time) {
	*a = authRequest{r: r, now: now}
	h.setRequestURL(&a.clerkURL, r)
	if a.clerkURL.RawQuery != "" {
		// A nil query reads as empty: most requests have none to parse.
		a.query = a.clerkURL.Query()
	}
	a.tokenInHeader = parseAuthorizationHeader(headerValue(r.Header, "Authorization"))
	if a.tokenInHeader == "" {
		h.loadCookieSources(a)
	}
}

// loadCookieSources reads the cookie-borne values (the cookie members of
// AuthenticateContext, @clerk/backend tokens/authenticateContext.ts). A header token decides alone when it verifies, so its request reads
// them only on the way to a failure (tokenFailure, maybeHandshake).
func (h *Handler) loadCookieSources(a *authRequest) {
	if a.cookiesLoaded {
		return
	}
	a.cookiesLoaded = true
	parseCookies(&a.cookies, a.r.Header)
	a.suffixed = h.usesSuffixedCookies(a)
	a.sessionCookie = a.cookie(h.cookieName(wire.CookieSession, a.suffixed))
	if uat, ok := jsparse.ParseInt(a.cookie(h.cookieName(wire.CookieClientUAT, a.suffixed))); ok {
		a.clientUAT = uat
	}
	if h.inst != nil {
		a.refreshCookie = a.cookie(h.inst.suffixedCookie(wire.CookieRefresh))
	}
	a.devBrowser = cmp.Or(a.query.Get(wire.QueryDevBrowser), a.cookie(h.cookieName(wire.CookieDevBrowser, a.suffixed)))
	a.handshakeToken = cmp.Or(a.query.Get(wire.QueryHandshake), a.cookie(wire.CookieHandshake))
	a.handshakeNonce = cmp.Or(a.query.Get(wire.QueryHandshakeNonce), a.cookie(wire.CookieHandshakeNonce))
	if n, ok := jsparse.Number(a.cookie(wire.CookieRedirectCount)); ok {
		a.redirectCount = n
	}
}

func (a *authRequest) cookie(name string) string {
	v, _ := a.cookies.get(name)
	return v
}

// header is a request header as Clerk reads it, looked up when a decision
// needs it: a signed-in request reads none of these.
func (a *authRequest) header(name string) string { return headerValue(a.r.Header, name) }

// isDocument tells whether the request is probably a page load. A request
// without a Host (HTTP/1.0 allows one) is never one: every redirect we send
// names a host, and without one there is no URL of this site to build.
func (a *authRequest) isDocument() bool {
	return a.clerkURL.Host != "" && isDocumentRequest(a.r.Method, a.header("Sec-Fetch-Dest"), a.header("Accept"))
}

// headerValue is Headers.get of the Fetch API: each value trimmed of
// leading and trailing whitespace, as Headers.append normalizes it, and
// repeated headers joined with ", ", so a request cannot pick which copy we
// read. name must be in canonical form ("Sec-Fetch-Dest"): it is looked up
// as it is, on every request.
func headerValue(h http.Header, name string) string {
	v := h[name]
	switch len(v) {
	case 0:
		return ""
	case 1:
		return trimHTTPWhitespace(v[0])
	default:
		trimmed := make([]string, len(v))
		for i, s := range v {
			trimmed[i] = trimHTTPWhitespace(s)
		}
		return strings.Join(trimmed, ", ")
	}
}

func trimHTTPWhitespace(s string) string {
	return jsparse.TrimBytes(s, func(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' })
}

// parseAuthorizationHeader is Clerk's: "Bearer <token>" (scheme case
// sensitive), or a bare value with no space is the token itself; any other
// scheme is no token, and the cookie is consulted instead. Like the SDK's
// split(' ', 2), a token stops at the next space.
func parseAuthorizationHeader(v string) string {
	if v == "" {
		return ""
	}
	scheme, rest, found := strings.Cut(v, " ")
	token := rest
	if i := strings.IndexByte(rest, ' '); i >= 0 {
		token = rest[:i]
	}
	if !found || token == "" {
		return scheme
	}
	if scheme == "Bearer" {
		return token
	}
	return ""
}

func (h *Handler) cookieName(base string, suffixed bool) string {
	if suffixed && h.inst != nil {
		return h.inst.suffixedCookie(base)
	}
	return base
}

// usesSuffixedCookies is @clerk/backend's rule for choosing between
// __session and __session_<suffix> (getSuffixedOrUnSuffixedCookie in
// @clerk/backend tokens/authenticateContext.ts).
func (h *Handler) usesSuffixedCookies(a *authRequest) bool {
	if h.inst == nil {
		return false
	}
	suffixedUAT, hasSuffixedUAT := a.cookies.get(h.inst.suffixedCookie(wire.CookieClientUAT))
	uat, hasUAT := a.cookies.get(wire.CookieClientUAT)
	suffixedSession := a.cookie(h.inst.suffixedCookie(wire.CookieSession))
	session := a.cookie(wire.CookieSession)

	var sessionJWT *tokencache.Token
	if session != "" {
		sessionJWT, _ = h.parseToken(a, session)
		iss := claimTruthy(sessionJWT, jwt.ClaimIss)
		if !iss {
			return false
		}
		if !h.tokenBelongsToInstance(sessionJWT) {
			return true
		}
	}
	if suffixedUAT == "" && suffixedSession == "" {
		return false
	}
	var suffixedJWT *tokencache.Token
	if suffixedSession != "" {
		suffixedJWT, _ = h.parseToken(a, suffixedSession)
	}
	// An absent cookie is not "0".
	suffixedUATZero := hasSuffixedUAT && suffixedUAT == "0"
	uatZero := hasUAT && uat == "0"
	if !suffixedUATZero && !uatZero && numClaimOrZero(sessionJWT, jwt.ClaimIat) > numClaimOrZero(suffixedJWT, jwt.ClaimIat) {
		return false
	}
	if suffixedUATZero && !uatZero {
		return false
	}
	if !h.inst.production && suffixedJWT != nil {
		if exp := suffixedJWT.Claims[jwt.ClaimExp]; exp.Kind == jsonscan.Number && exp.Num <= float64(a.now.Unix()) && !suffixedUATZero && uatZero {
			return false
		}
	}
	if suffixedUAT == "" && suffixedSession != "" {
		return false
	}
	return true
}

// tokenBelongsToInstance compares the unverified iss, scheme removed, with
// the Frontend API host of the publishable key (never the proxy).
func (h *Handler) tokenBelongsToInstance(d *tokencache.Token) bool {
	iss := d.Claims[jwt.ClaimIss]
	if iss.Kind != jsonscan.String {
		return false
	}
	return stripHTTPSchemes(iss.Str) == h.inst.fapiHost
}

// stripHTTPSchemes is iss.replace(/https?:\/\//gi, ""): every http:// and
// https://, in any case, removed. The usual iss loses only its scheme, and
// that costs no allocation.
func stripHTTPSchemes(s string) string {
	s = s[schemeAt(s, 0):]
	if !strings.Contains(s, "://") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if n := schemeAt(s, i); n > 0 {
			i += n
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// schemeAt is the length of an http:// or https:// (any case) at s[i:], or 0.
func schemeAt(s string, i int) int {
	if len(s)-i < 7 || !strings.EqualFold(s[i:i+4], "http") {
		return 0
	}
	j := i + 4
	if (s[j] == 's' || s[j] == 'S') && strings.HasPrefix(s[j+1:], "://") {
		return 8
	}
	if strings.HasPrefix(s[j:], "://") {
		return 7
	}
	return 0
}

func claimTruthy(d *tokencache.Token, claim int) bool {
	return d != nil && d.Claims[claim].Truthy()
}

func numClaimOrZero(d *tokencache.Token, claim int) float64 {
	if d == nil || d.Claims[claim].Kind != jsonscan.Number {
		return 0
	}
	return d.Claims[claim].Num
}

// authenticate is authenticateRequest (@clerk/backend tokens/request.ts): a header token
// decides alone; otherwise the cookies do.
func (h *Handler) authenticate(ctx context.Context, a *authRequest) *decision {
	if a.tokenInHeader != "" {
		return h.authenticateHeader(ctx, a)
	}
	return h.authenticateCookie(ctx, a)
}

// authenticateHeader is authenticateRequestWithTokenInHeader (@clerk/backend
// tokens/request.ts).
func (h *Handler) authenticateHeader(ctx context.Context, a *authRequest) *decision {
	d, decodeErr := h.parseToken(a, a.tokenInHeader)
	if decodeErr == nil && isNonSessionToken(d) {
		return signedOut(wire.ReasonTokenTypeMismatch, "", "header", true)
	}
	if decodeErr != nil {
		return h.tokenFailure(a, decodeErr, "header")
	}
	s, err := h.verifyRequestSession(ctx, a, d, h.verify.Skew)
	if err != nil {
		return h.tokenFailure(a, err, "header")
	}
	return h.signedInChecks(a, s, "header")
}

// authenticateCookie is authenticateRequestWithTokenInCookie (@clerk/backend
// tokens/request.ts).
func (h *Handler) authenticateCookie(ctx context.Context, a *authRequest) *decision {
	if a.handshakeNonce != "" || a.handshakeToken != "" {
		if d := h.resolveHandshake(ctx, a); d != nil {
			return d
		}
	}
	if d := h.multiDomainSync(a); d != nil {
		return d
	}
	if h.isDevelopment() {
		if a.query.Has(wire.QueryDevBrowser) {
			return h.maybeHandshake(a, wire.ReasonDevBrowserSync, "", "")
		}
		if a.devBrowser == "" {
			return h.maybeHandshake(a, wire.ReasonDevBrowserMissing, "", "")
		}
	}
	hasClient := a.clientUAT != 0
	hasSession := a.sessionCookie != ""
	switch {
	case !hasClient && !hasSession:
		return signedOut(wire.ReasonSessionTokenAndUATMissing, "", "", false)
	case !hasClient && hasSession:
		return h.maybeHandshake(a, wire.ReasonSessionTokenButNoClientUAT, "", "")
	case hasClient && !hasSession:
		return h.maybeHandshake(a, wire.ReasonClientUATButNoSessionToken, "", "")
	}
	d, err := h.parseToken(a, a.sessionCookie)
	if err != nil {
		return h.tokenFailure(a, err, "cookie")
	}
	if isNonSessionToken(d) {
		return signedOut(wire.ReasonTokenTypeMismatch, "", "cookie", true)
	}
	if iat := d.Claims[jwt.ClaimIat]; iat.Kind == jsonscan.Number && iat.Num < a.clientUAT {
		return h.maybeHandshake(a, wire.ReasonSessionTokenIATBeforeUAT, "", "")
	}
	s, err := h.verifyRequestSession(ctx, a, d, h.verify.Skew)
	if err != nil {
		return h.tokenFailure(a, err, "cookie")
	}
	out := h.signedInChecks(a, s, "cookie")
	if out.status != wire.StatusSignedIn {
		return out
	}
	if h.needsCrossOriginSync(a) {
		return h.maybeHandshake(a, wire.ReasonPrimaryDomainCrossOriginSync, "Cross-origin request from satellite domain requires handshake", "")
	}
	// Organization sync comes last, on the cookie path only: a bearer
	// token never syncs (authenticateRequest, src/tokens/request.ts).
	if h.orgSync != nil {
		if d := h.orgSyncHandshake(a, s); d != nil {
			return d
		}
	}
	return out
}

// isNonSessionToken is Clerk's token-class check (SEC-340): OAuth access
// tokens, M2M tokens and JWT templates are signed by the same key but are
// not sessions.
func isNonSessionToken(d *tokencache.Token) bool {
	if typ, _ := d.Typ(); typ == "at+jwt" || typ == "application/at+jwt" {
		return true
	}
	if strings.HasPrefix(d.Claims[jwt.ClaimSub].AsString(), "mch_") {
		return true
	}
	if cat, present := d.Cat(); present {
		return cat != wire.JWTCategorySession && cat != wire.JWTCategoryIgnore
	}
	return false
}

// signedInChecks are the checks we add to Clerk's (docs/architecture.md,
// "Decision: checks we add"), run on
// a verified token before it may sign in.
func (h *Handler) signedInChecks(a *authRequest, s *session.Session, carrier string) *decision {
	if a.clerkURL.RawQuery != "" {
		vals, present := a.query[h.sessionParam]
		n, clean := sessionParamSpellings(a.clerkURL.RawQuery, h.sessionParam)
		if present || n > 0 {
			// One clean occurrence, which Go's parser read too (a pair with
			// a ';' it skips), naming the token's session: anything else is
			// a spelling some other parser reads as the parameter.
			if n != 1 || !clean || len(vals) != 1 || vals[0] == "" || vals[0] != s.SessionID {
				return signedOut(wire.ReasonSessionIDMismatch, "The "+h.sessionParam+" parameter does not name the session of the token.", carrier, true)
			}
		}
	}
	if carrier == "cookie" && isCrossSiteUnsafe(a, h.AuthorizedParties) {
		what := a.r.Method
		if isUpgradeRequest(a.r.Header) {
			what += " upgrade (WebSocket)"
		}
		return signedOut(wire.ReasonOriginMismatch, "A cookie-authenticated "+what+" came from another origin.", carrier, true)
	}
	if !s.Publishable {
		// Clerk's ids never hold control characters; a header value with
		// one cannot be sent, and leaving the header out could hide an
		// impersonator. Such a token signs nobody in.
		return signedOut(wire.ReasonTokenInvalid, "An identity claim (sub, sid, org, act.sub) holds a control character.", carrier, true)
	}
	if s.Status == "pending" && !h.AllowPending {
		return signedOut(wire.ReasonSessionPending, "The session is pending: the user has tasks to finish.", carrier, true)
	}
	a.signedIn = decision{kind: outcomeSignedIn, status: wire.StatusSignedIn, carrier: carrier, session: s, key: a.key.key, token: a.verified}
	return &a.signedIn
}

// sessionParamSpellings counts the pairs of the raw query whose name some
// common parser reads as name: pairs split at '&' and at ';' (Rack 2, older
// Python), names percent-decoded once and '+' read as a space, leading
// spaces dropped and spaces, dots and an unmatched '[' read as '_' (PHP),
// a "[...]" suffix ignored (PHP and qs arrays), and ASCII case folded
// (ASP.NET's query collection ignores case). clean says the one match's
// name is written exactly as name. It allocates nothing.
func sessionParamSpellings(raw, name string) (n int, clean bool) {
	for raw != "" {
		i := 0
		for i < len(raw) && raw[i] != '&' && raw[i] != ';' {
			i++
		}
		pair := raw[:i]
		if i < len(raw) {
			raw = raw[i+1:]
		} else {
			raw = ""
		}
		key := pair
		if eq := strings.IndexByte(pair, '='); eq >= 0 {
			key = pair[:eq]
		}
		if paramNameFolds(key, name) {
			n++
			clean = n == 1 && key == name
		}
	}
	return n, clean && n == 1
}

// paramNameFolds tells whether a raw query name reads as target once
// decoded and folded as sessionParamSpellings says.
func paramNameFolds(raw, target string) bool {
	j := 0
	leading := true
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '%' && i+2 < len(raw) && isHexDigit(raw[i+1]) && isHexDigit(raw[i+2]):
			c = unhexDigit(raw[i+1])<<4 | unhexDigit(raw[i+2])
			i += 2
		case c == '+':
			c = ' '
		}
		if leading && c == ' ' {
			continue
		}
		leading = false
		if c == '[' && j == len(target) {
			return true
		}
		if j == len(target) || foldParamByte(c) != foldParamByte(target[j]) {
			return false
		}
		j++
	}
	return j == len(target)
}

func foldParamByte(c byte) byte {
	switch {
	case c == ' ' || c == '.' || c == '[':
		return '_'
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	}
	return c
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhexDigit(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// isCrossSiteUnsafe is our CSRF guard (README, "Where we differ"): a
// state-changing request that rides on the cookie must come from our own
// origin or an authorized party. A WebSocket (or any other protocol
// upgrade) is a GET that opens a channel which can change state, and
// browsers send the cookie and Origin on it from any site: it is held to
// the same rule.
func isCrossSiteUnsafe(a *authRequest, authorizedParties []string) bool {
	switch a.r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		if !isUpgradeRequest(a.r.Header) {
			return false
		}
	}
	if strings.EqualFold(headerValue(a.r.Header, "Sec-Fetch-Site"), "cross-site") {
		return true
	}
	origin := a.header("Origin")
	if origin == "" {
		return false
	}
	own := a.clerkURL.Scheme + "://" + a.clerkURL.Host
	return origin != own && !slices.Contains(authorizedParties, origin)
}

// isUpgradeRequest tells whether the request asks to switch protocols: an
// Upgrade header, or an "upgrade" element of Connection (reverse_proxy
// needs both; either is enough here). WebSocket over HTTP/2 and HTTP/3 is
// an extended CONNECT, which is not a safe method anyway.
func isUpgradeRequest(h http.Header) bool {
	for _, v := range h[wire.HeaderUpgrade] {
		if trimHTTPWhitespace(v) != "" {
			return true
		}
	}
	for _, v := range h[wire.HeaderConnection] {
		for len(v) != 0 {
			var elem string
			elem, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(trimHTTPWhitespace(elem), "upgrade") {
				return true
			}
		}
	}
	return false
}

// tokenFailure is handleSessionTokenError (step 5): time-claim failures may
// handshake, everything else is signed-out with the verification reason.
// maybeHandshake works the carrier out itself; its last argument is only
// ever a sync redirect's location.
func (h *Handler) tokenFailure(a *authRequest, err *jwt.Error, carrier string) *decision {
	h.loadCookieSources(a)
	message := err.Message + " (reason=" + err.Reason + ", token-carrier=" + carrier + ")"
	switch err.Reason {
	case wire.ReasonTokenExpired:
		return h.maybeHandshake(a, wire.ReasonSessionTokenExpired+"-refresh-"+h.refreshError(a), message, "")
	case wire.ReasonTokenNotActiveYet:
		return h.maybeHandshake(a, wire.ReasonSessionTokenNBF, message, "")
	case wire.ReasonTokenIatInTheFuture:
		return h.maybeHandshake(a, wire.ReasonSessionTokenIatInTheFuture, message, "")
	}
	out := signedOut(err.Reason, message, carrier, true)
	out.detail = err.Detail
	return out
}

// refreshError names why no refresh was attempted. We never refresh at the
// Backend API: the handshake does the same without a secret on the hot path.
func (h *Handler) refreshError(a *authRequest) string {
	switch {
	case a.r.Method != http.MethodGet:
		return wire.RefreshNonEligibleNonGet
	case a.refreshCookie == "":
		return wire.RefreshNonEligibleNoCookie
	default:
		return wire.RefreshMissingAPIClient
	}
}

func signedOut(reason, message, carrier string, tokenPresented bool) *decision {
	return &decision{kind: outcomeSignedOut, status: wire.StatusSignedOut, reason: reason, message: message, carrier: carrier, tokenPresented: tokenPresented}
}

// isDocumentRequest is isRequestEligibleForHandshake: a GET that is probably
// a document navigation.
func isDocumentRequest(method, secFetchDest, accept string) bool {
	if method != http.MethodGet {
		return false
	}
	if secFetchDest == "document" || secFetchDest == "iframe" {
		return true
	}
	return secFetchDest == "" && strings.HasPrefix(accept, "text/html")
}

// maybeHandshake is handleMaybeHandshakeStatus (step 6). location, when
// given, is a sync redirect; otherwise the handshake URL is built.
func (h *Handler) maybeHandshake(a *authRequest, reason, message, location string) *decision {
	h.loadCookieSources(a)
	carrier := ""
	if a.tokenInHeader != "" {
		carrier = "header"
	} else if a.sessionCookie != "" {
		carrier = "cookie"
	}
	out := signedOut(reason, message, carrier, carrier != "")
	if !a.isDocument() || h.inst == nil {
		return out
	}
	if location == "" {
		location = h.handshakeURL(a, reason)
	}
	kind := outcomeHandshake
	if location == "" {
		// Nothing to redirect to: answered as signed out, with Clerk's
		// handshake status.
		kind = outcomeSignedOut
	}
	// The SDK stops at exactly 3; any count of 3 or more stops here, so a
	// forged counter cannot restart the loop.
	if a.redirectCount >= 3 {
		return out
	}
	return &decision{
		kind:       kind,
		status:     wire.StatusHandshake,
		reason:     reason,
		message:    message,
		carrier:    carrier,
		location:   location,
		setCookies: []string{wire.CookieRedirectCount + "=" + formatCount(a.redirectCount+1) + "; SameSite=Lax; HttpOnly; Max-Age=2"},
	}
}

func formatCount(n float64) string { return strconv.FormatFloat(n, 'f', -1, 64) }
