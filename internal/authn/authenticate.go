package authn

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/clerk-edge/clerk_auth/internal/jsonscan"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/session"
	"github.com/clerk-edge/clerk_auth/internal/tokencache"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

func (e *Engine) cookieName(base string, suffixed bool) string {
	if suffixed && e.inst != nil {
		return e.inst.suffixedCookie(base)
	}
	return base
}

// usesSuffixedCookies is @clerk/backend's rule for choosing between
// __session and __session_<suffix> (getSuffixedOrUnSuffixedCookie in
// @clerk/backend tokens/authenticateContext.ts).
func (e *Engine) usesSuffixedCookies(a *Request) bool {
	if e.inst == nil {
		return false
	}
	suffixedUAT, hasSuffixedUAT := a.cookies.get(e.inst.suffixedCookie(wire.CookieClientUAT))
	uat, hasUAT := a.cookies.get(wire.CookieClientUAT)
	suffixedSession := a.cookie(e.inst.suffixedCookie(wire.CookieSession))
	session := a.cookie(wire.CookieSession)

	var sessionJWT *tokencache.Token
	if session != "" {
		sessionJWT, _ = e.parseToken(a, session)
		iss := claimTruthy(sessionJWT, jwt.ClaimIss)
		if !iss {
			return false
		}
		if !e.tokenBelongsToInstance(sessionJWT) {
			return true
		}
	}
	if suffixedUAT == "" && suffixedSession == "" {
		return false
	}
	var suffixedJWT *tokencache.Token
	if suffixedSession != "" {
		suffixedJWT, _ = e.parseToken(a, suffixedSession)
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
	if !e.inst.production && suffixedJWT != nil {
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
func (e *Engine) tokenBelongsToInstance(d *tokencache.Token) bool {
	iss := d.Claims[jwt.ClaimIss]
	if iss.Kind != jsonscan.String {
		return false
	}
	return stripHTTPSchemes(iss.Str) == e.inst.fapiHost
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
func (e *Engine) authenticate(ctx context.Context, a *Request) *Outcome {
	if e.dispatchAccepts {
		return e.authenticateAccepting(ctx, a)
	}
	if a.tokenInHeader != "" {
		return withTokenType(e.authenticateHeader(ctx, a))
	}
	return withTokenType(e.authenticateCookie(ctx, a))
}

// authenticateHeader is authenticateRequestWithTokenInHeader (@clerk/backend
// tokens/request.ts).
func (e *Engine) authenticateHeader(ctx context.Context, a *Request) *Outcome {
	d, decodeErr := e.parseToken(a, a.tokenInHeader)
	if decodeErr == nil && isNonSessionToken(d) {
		return signedOut(wire.ReasonTokenTypeMismatch, "", "header", true)
	}
	if decodeErr != nil {
		return e.tokenFailure(a, decodeErr, "header")
	}
	s, err := e.verifyRequestSession(ctx, a, d, e.verify.Skew)
	if err != nil {
		return e.tokenFailure(a, err, "header")
	}
	return e.signedInChecks(a, s, "header")
}

// authenticateCookie is authenticateRequestWithTokenInCookie (@clerk/backend
// tokens/request.ts).
func (e *Engine) authenticateCookie(ctx context.Context, a *Request) *Outcome {
	if a.handshakeNonce != "" || a.handshakeToken != "" {
		if d := e.resolveHandshake(ctx, a); d != nil {
			return d
		}
	}
	if d := e.multiDomainSync(a); d != nil {
		return d
	}
	if e.isDevelopment() {
		if a.query.Has(wire.QueryDevBrowser) {
			return e.maybeHandshake(a, wire.ReasonDevBrowserSync, "", "")
		}
		if a.devBrowser == "" {
			return e.maybeHandshake(a, wire.ReasonDevBrowserMissing, "", "")
		}
	}
	hasClient := a.clientUAT != 0
	hasSession := a.sessionCookie != ""
	switch {
	case !hasClient && !hasSession:
		return signedOut(wire.ReasonSessionTokenAndUATMissing, "", "", false)
	case !hasClient && hasSession:
		return e.maybeHandshake(a, wire.ReasonSessionTokenButNoClientUAT, "", "")
	case hasClient && !hasSession:
		return e.maybeHandshake(a, wire.ReasonClientUATButNoSessionToken, "", "")
	}
	d, err := e.parseToken(a, a.sessionCookie)
	if err != nil {
		return e.tokenFailure(a, err, "cookie")
	}
	if isNonSessionToken(d) {
		return signedOut(wire.ReasonTokenTypeMismatch, "", "cookie", true)
	}
	if iat := d.Claims[jwt.ClaimIat]; iat.Kind == jsonscan.Number && iat.Num < a.clientUAT {
		return e.maybeHandshake(a, wire.ReasonSessionTokenIATBeforeUAT, "", "")
	}
	s, err := e.verifyRequestSession(ctx, a, d, e.verify.Skew)
	if err != nil {
		return e.tokenFailure(a, err, "cookie")
	}
	out := e.signedInChecks(a, s, "cookie")
	if out.Status != wire.StatusSignedIn {
		return out
	}
	if e.needsCrossOriginSync(a) {
		return e.maybeHandshake(a, wire.ReasonPrimaryDomainCrossOriginSync, "Cross-origin request from satellite domain requires handshake", "")
	}
	// Organization sync comes last, on the cookie path only: a bearer
	// token never syncs (authenticateRequest, src/tokens/request.ts).
	if e.orgSync != nil {
		if d := e.orgSyncHandshake(a, s); d != nil {
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
func (e *Engine) signedInChecks(a *Request, s *session.Session, carrier string) *Outcome {
	if a.clerkURL.RawQuery != "" {
		vals, present := a.query[e.sessionParam]
		n, clean := sessionParamSpellings(a.clerkURL.RawQuery, e.sessionParam)
		if present || n > 0 {
			// One clean occurrence, which Go's parser read too (a pair with
			// a ';' it skips), naming the token's session: anything else is
			// a spelling some other parser reads as the parameter.
			if n != 1 || !clean || len(vals) != 1 || vals[0] == "" || vals[0] != s.SessionID {
				return signedOut(wire.ReasonSessionIDMismatch, "The "+e.sessionParam+" parameter does not name the session of the token.", carrier, true)
			}
		}
	}
	if carrier == "cookie" && isCrossSiteUnsafe(a, e.authorizedParties) {
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
	if s.Status == "pending" && !e.allowPending {
		return signedOut(wire.ReasonSessionPending, "The session is pending: the user has tasks to finish.", carrier, true)
	}
	a.signedIn = Outcome{Kind: SignedIn, Status: wire.StatusSignedIn, Carrier: carrier, Session: s, Key: a.key.Key, Token: a.verified}
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
func isCrossSiteUnsafe(a *Request, authorizedParties []string) bool {
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
func (e *Engine) tokenFailure(a *Request, err *jwt.Error, carrier string) *Outcome {
	e.loadCookieSources(a)
	message := err.Message + " (reason=" + err.Reason + ", token-carrier=" + carrier + ")"
	switch err.Reason {
	case wire.ReasonTokenExpired:
		return e.maybeHandshake(a, wire.ReasonSessionTokenExpired+"-refresh-"+e.refreshError(a), message, "")
	case wire.ReasonTokenNotActiveYet:
		return e.maybeHandshake(a, wire.ReasonSessionTokenNBF, message, "")
	case wire.ReasonTokenIatInTheFuture:
		return e.maybeHandshake(a, wire.ReasonSessionTokenIatInTheFuture, message, "")
	}
	out := signedOut(err.Reason, message, carrier, true)
	out.Detail = err.Detail
	return out
}

// refreshError names why no refresh was attempted. We never refresh at the
// Backend API: the handshake does the same without a secret on the hot path.
func (e *Engine) refreshError(a *Request) string {
	switch {
	case a.r.Method != http.MethodGet:
		return wire.RefreshNonEligibleNonGet
	case a.refreshCookie == "":
		return wire.RefreshNonEligibleNoCookie
	default:
		return wire.RefreshMissingAPIClient
	}
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
func (e *Engine) maybeHandshake(a *Request, reason, message, location string) *Outcome {
	e.loadCookieSources(a)
	carrier := ""
	if a.tokenInHeader != "" {
		carrier = "header"
	} else if a.sessionCookie != "" {
		carrier = "cookie"
	}
	out := signedOut(reason, message, carrier, carrier != "")
	if !a.IsDocument() || e.inst == nil {
		return out
	}
	if location == "" {
		location = e.handshakeURL(a, reason)
	}
	kind := Handshake
	if location == "" {
		// Nothing to redirect to: answered as signed out, with Clerk's
		// handshake status.
		kind = SignedOut
	}
	// The SDK stops at exactly 3; any count of 3 or more stops here, so a
	// forged counter cannot restart the loop.
	if a.redirectCount >= 3 {
		return out
	}
	return &Outcome{
		Kind:       kind,
		Status:     wire.StatusHandshake,
		Reason:     reason,
		Message:    message,
		Carrier:    carrier,
		Location:   location,
		SetCookies: []string{wire.CookieRedirectCount + "=" + formatCount(a.redirectCount+1) + "; SameSite=Lax; HttpOnly; Max-Age=2"},
	}
}

func formatCount(n float64) string { return strconv.FormatFloat(n, 'f', -1, 64) }

// SignInRedirect is where a signed-out page load goes: the sign-in URL with
// redirect_url set to the page asked for. Empty when the request is not a
// page load, when there is no sign-in URL, or when the request is for the
// sign-in page itself (so that a protected sign-in page cannot loop).
func (e *Engine) SignInRedirect(a *Request) string {
	if e.signInURL == "" || !a.IsDocument() {
		return ""
	}
	// The dev-browser token rides along to a cross-origin sign-in page.
	e.loadCookieSources(a)
	target, err := url.Parse(e.signInURL)
	if err != nil {
		return ""
	}
	relative := target.Host == ""
	if relative {
		target.Scheme, target.Host = a.clerkURL.Scheme, a.clerkURL.Host
	}
	if webOrigin(target) == webOrigin(&a.clerkURL) && target.Path == a.clerkURL.Path {
		return ""
	}
	back := a.clerkURL
	// createRedirect of @clerk/backend: "cross-origin" compares host and
	// port only.
	crossOrigin := target.Hostname()+":"+target.Port() != back.Hostname()+":"+back.Port()
	if crossOrigin && e.satellite {
		// Back from the primary's sign-in, a satellite without cookies must
		// sync, or it sends the user to sign in again.
		back.RawQuery = setQueryParam(back.RawQuery, wire.QuerySynced, "false")
	}
	target.RawQuery = setQueryParam(target.RawQuery, wire.QueryRedirectURL, back.String())
	if crossOrigin && e.isDevelopment() && a.devBrowser != "" {
		// The Account Portal must sign in this browser's dev browser.
		target.RawQuery = setQueryParam(target.RawQuery, wire.QueryDevBrowser, a.devBrowser)
	}
	if relative {
		// A path stays a path: the Location must not take its host from
		// the request's Host header, which the client writes.
		return target.RequestURI()
	}
	return target.String()
}

// Authenticate is authenticateRequest (@clerk/backend tokens/request.ts) on
// a, which Init filled: a header token decides alone; otherwise the cookies
// do. The outcome may point into a.
func (e *Engine) Authenticate(ctx context.Context, a *Request) *Outcome {
	return e.authenticate(ctx, a)
}
