package clerkauth

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/clerk-edge/clerk_auth/internal/authn"
	"github.com/clerk-edge/clerk_auth/internal/machine"
	"github.com/clerk-edge/clerk_auth/internal/session"
	"github.com/clerk-edge/clerk_auth/internal/users"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"go.uber.org/zap"
)

// authRequest is one request's state: Clerk's (authn.Request) and the user
// lookup the rules and user_details share (lookupUser, authorize.go).
// ServeHTTP keeps it on its stack.
type authRequest struct {
	authn.Request

	user       *users.Details
	userErr    error
	userLooked bool
}

// ServeHTTP decides on the request before anything else sees it, then
// answers from the outcome.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if h.demo != nil && h.demo.Owns(r) {
		return h.serveDemo(w, r) // demo mode's stand-in for Clerk (demo.go)
	}
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl == nil {
		repl = caddy.NewReplacer()
	}
	// The request's state lives on this stack frame: a warm request
	// allocates only the copies of the header values it publishes.
	var a authRequest
	d := h.decide(&a, r)
	return h.respond(w, r, next, repl, &a, d)
}

// decide is the whole decision on r: the engine's Authenticate
// (internal/authn: Clerk's authenticateRequest), then the rules on a
// signed-in session. It answers
// nothing; respond answers from its outcome. ServeHTTP and clerk-diagnose
// both call it. The outcome may point into a, which holds the request's
// state.
func (h *Handler) decide(a *authRequest, r *http.Request) *authn.Outcome {
	// Identity headers are ours alone: whatever a client sent is removed
	// first, whatever the outcome, and nothing it sent may remove ours.
	stripIdentityHeaders(r)
	var u url.URL
	h.setRequestURL(&u, r)
	h.engine.Init(&a.Request, r, h.now(), &u)
	d := h.engine.Authenticate(r.Context(), &a.Request)
	if d.Kind == authn.SignedIn {
		h.authorize(r.Context(), a, d)
	}
	return d
}

// respond turns a decision into the response (docs/architecture.md,
// "Decision: responses").
func (h *Handler) respond(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, repl *caddy.Replacer, a *authRequest, d *authn.Outcome) error {
	hdr := w.Header()
	for _, c := range d.SetCookies {
		hdr.Add("Set-Cookie", c)
	}
	for k, v := range d.ExtraHeaders {
		hdr[k] = v
	}
	// Our placeholders are answered on demand by one provider rather than
	// set one by one: most are never read, and each Set is a locked map write.
	repl.Map(placeholdersFor(d))
	h.publishURLOrg(repl, a) // organization_sync's {http.auth.clerk.url_org}

	if d.Status != wire.StatusSignedIn {
		h.logger.Debug("clerk session not accepted",
			zap.String("status", d.Status), zap.String("reason", d.Reason),
			zap.String("token_carrier", d.Carrier), zap.String("detail", d.Message), zap.String("cause", d.Detail))
		setDebugHeaders(hdr, d)
	}
	switch d.Kind {
	case authn.Handshake:
		h.recordDecision(d)
		if !isBuiltLocation(d.Location) {
			// Every Location is one we built on the request's host: without a
			// host (an HTTP/1.0 request may have none) it would be host-less or
			// scheme-relative, and a browser would take the path for a host.
			return caddyhttp.Error(http.StatusBadRequest, fmt.Errorf("clerk_auth: no redirect without a Host"))
		}
		// A handshake, a sync redirect, or the clean-URL redirect after a
		// development handshake: every one a URL we built.
		hdr.Set("Location", d.Location)
		hdr.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusTemporaryRedirect)
		return nil
	case authn.Denied:
		h.publishIdentity(r, d)
		return h.deny(w, repl, a, d)
	case authn.SignedIn:
		h.publishIdentity(r, d)
		if d.Session != nil {
			h.publishDetails(r, repl, a, d.Session)
		}
		h.recordDecision(d)
		removeHandshakeParams(r)
		return next.ServeHTTP(w, r)
	}
	h.recordDecision(d)
	if h.optional && h.policy.Empty() {
		// Rules are about a session: without one there is nothing to
		// check, so with rules a signed-out request is denied as in
		// require mode.
		removeHandshakeParams(r)
		return next.ServeHTTP(w, r)
	}
	if machineUnavailable(d) {
		// The Backend API could not say: the caller's token may be fine.
		hdr.Set("Retry-After", machineRetryAfter)
		return caddyhttp.Error(http.StatusServiceUnavailable, fmt.Errorf("clerk_auth: machine token not verified: %s", d.Reason))
	}
	if target := h.signInRedirect(a, d); target != "" {
		hdr.Set("Location", target)
		hdr.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusTemporaryRedirect)
		return nil
	}
	challenge := `Bearer realm="clerk"`
	if d.TokenPresented {
		challenge += `, error="invalid_token", error_description="` + d.Reason + `"`
	}
	hdr.Set("WWW-Authenticate", challenge)
	return caddyhttp.Error(http.StatusUnauthorized, fmt.Errorf("clerk_auth: signed out: %s", d.Reason))
}

// signInRedirect is where a signed-out request goes to sign in, "" for
// none. Machine tokens never go to sign in, nor does anything on a route
// that takes no session (Clerk never handshakes for them either).
func (h *Handler) signInRedirect(a *authRequest, d *authn.Outcome) string {
	if !h.sessionsAccepted || d.MachineRefused {
		return ""
	}
	return h.engine.SignInRedirect(&a.Request)
}

// isBuiltLocation tells whether a redirect target has the shape of the
// URLs we build: an absolute http(s) URL with a host, or a path on this
// site that no browser reads as another host ("//x", "/\x").
func isBuiltLocation(loc string) bool {
	if strings.HasPrefix(loc, "/") {
		return len(loc) == 1 || (loc[1] != '/' && loc[1] != '\\')
	}
	u, err := url.Parse(loc)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return false
	}
	rest := loc[len(u.Scheme)+len("://"):]
	return strings.HasPrefix(rest, u.Host) && !strings.ContainsAny(u.Host, "/\\")
}

// handshakeParams are the query parameters the handshake puts in a URL:
// Clerk's SDK removes them (handshake.ts, the development redirect after a
// resolved handshake). Whatever the instance, they never reach the next
// handler: __clerk_handshake is a live session token and
// __clerk_db_jwt a development browser's credential.
var handshakeParams = [...]string{wire.QueryHandshake, wire.QueryHandshakeHelp, wire.QueryDevBrowser, wire.QueryHandshakeNonce}

// removeHandshakeParams removes the handshake parameters from the request's
// URL and RequestURI, keeping every other parameter byte for byte. A query
// without them costs no allocation.
func removeHandshakeParams(r *http.Request) {
	raw := r.URL.RawQuery
	if raw == "" {
		return
	}
	kept, removed := dropQueryParams(raw, handshakeParams[:])
	if !removed {
		return
	}
	r.URL.RawQuery = kept
	if i := strings.IndexByte(r.RequestURI, '?'); i >= 0 {
		r.RequestURI = r.RequestURI[:i]
		if kept != "" {
			r.RequestURI += "?" + kept
		}
	}
}

// dropQueryParams removes the parameters whose decoded name (as
// URLSearchParams and url.ParseQuery decode it) is one of names; the others
// keep their encoding and order.
func dropQueryParams(raw string, names []string) (string, bool) {
	var b strings.Builder
	removed := false
	for rest := raw; ; {
		part, next, more := strings.Cut(rest, "&")
		name, _, _ := strings.Cut(part, "=")
		if strings.ContainsAny(name, "%+") {
			if n, err := url.QueryUnescape(name); err == nil {
				name = n
			}
		}
		drop := false
		for _, n := range names {
			if name == n {
				drop = true
				break
			}
		}
		switch {
		case drop && !removed:
			// The first removal: what came before goes in as it was.
			removed = true
			b.WriteString(raw[:len(raw)-len(rest)])
		case !drop && removed:
			if b.Len() != 0 && !strings.HasSuffix(b.String(), "&") {
				b.WriteByte('&')
			}
			b.WriteString(part)
		}
		if !more {
			break
		}
		rest = next
	}
	if !removed {
		return raw, false
	}
	return strings.TrimSuffix(b.String(), "&"), true
}

func setDebugHeaders(hdr http.Header, d *authn.Outcome) {
	hdr.Set(wire.HeaderAuthStatus, d.Status)
	hdr.Set(wire.HeaderAuthReason, d.Reason)
	if d.Message != "" {
		hdr.Set(wire.HeaderAuthMessage, d.Message)
	}
}

// stripIdentityHeaders removes every X-Clerk-* request header (and the
// X-Clerk_ spelling some proxies fold into the same name), every X-Clerk-*
// token of Connection and Proxy-Connection (reverse_proxy deletes the
// headers Connection names as hop-by-hop, which would delete ours after we
// set them), and every X-Clerk-* request trailer, declared or not. A request
// with none of these allocates nothing here.
func stripIdentityHeaders(r *http.Request) {
	h := r.Header
	for k := range h {
		if isIdentityHeaderName(k) {
			delete(h, k)
		}
	}
	for _, name := range [...]string{wire.HeaderConnection, wire.HeaderProxyConnection} {
		if v, ok := h[name]; ok && namesIdentityHeader(v) {
			if kept := withoutIdentityTokens(v); len(kept) != 0 {
				h[name] = kept
			} else {
				delete(h, name)
			}
		}
	}
	// Trailers announced in Trailer: the server has them as keys of
	// r.Trailer; an announcement still in the header (a body that is not
	// chunked) is hop-by-hop for reverse_proxy, but is scrubbed all the same.
	if v, ok := h[wire.HeaderTrailer]; ok && namesIdentityHeader(v) {
		if kept := withoutIdentityTokens(v); len(kept) != 0 {
			h[wire.HeaderTrailer] = kept
		} else {
			delete(h, wire.HeaderTrailer)
		}
	}
	if r.Trailer != nil {
		for k := range r.Trailer {
			if isIdentityHeaderName(k) {
				delete(r.Trailer, k)
			}
		}
		// The server fills r.Trailer when the body reaches EOF, undeclared
		// trailers included; reverse_proxy copies it at that same EOF. The
		// wrapped body removes ours in between.
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &trailerScrubber{ReadCloser: r.Body, trailer: r.Trailer}
		}
	}
}

// trailerScrubber removes X-Clerk-* trailers once the body is read to its
// end, before whoever reads it (reverse_proxy) sees io.EOF.
type trailerScrubber struct {
	io.ReadCloser
	trailer http.Header
}

func (b *trailerScrubber) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		for k := range b.trailer {
			if isIdentityHeaderName(k) {
				delete(b.trailer, k)
			}
		}
	}
	return n, err
}

// namesIdentityHeader tells whether a comma-separated list header (values
// as the client sent them) has an element that names an identity header.
func namesIdentityHeader(values []string) bool {
	for _, v := range values {
		for len(v) != 0 {
			var elem string
			elem, v, _ = strings.Cut(v, ",")
			if isIdentityHeaderName(authn.TrimHTTPWhitespace(elem)) {
				return true
			}
		}
	}
	return false
}

// withoutIdentityTokens is the list header without its identity-header
// elements (and its empty ones), one value per header line as sent.
func withoutIdentityTokens(values []string) []string {
	var out []string
	for _, v := range values {
		var kept []string
		for _, elem := range strings.Split(v, ",") {
			if elem = authn.TrimHTTPWhitespace(elem); elem != "" && !isIdentityHeaderName(elem) {
				kept = append(kept, elem)
			}
		}
		if len(kept) != 0 {
			out = append(out, strings.Join(kept, ", "))
		}
	}
	return out
}

// isIdentityHeaderName matches X-Clerk-* with '_' for any '-' (X_Clerk_User_Id):
// CGI, FastCGI and several proxies fold both spellings into one variable, so
// a client's X_Clerk_User_Id could otherwise stand in for ours.
func isIdentityHeaderName(k string) bool {
	const prefix = "x-clerk-"
	if len(k) <= len(prefix) {
		return false
	}
	// Every request runs this over every header: compare bytes, folding
	// case and '_' by hand, with no allocation.
	for i := 0; i < len(prefix); i++ {
		c := k[i]
		switch {
		case c == '_':
			c = '-'
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// publishIdentity sets the upstream headers of a signed-in (or denied)
// outcome: the session's, or the machine token's.
func (h *Handler) publishIdentity(r *http.Request, d *authn.Outcome) {
	if d.Machine != nil {
		publishMachine(r, d.Machine, h.headers)
		return
	}
	publishSession(r, d.Session, h.headers, h.machine != nil)
}

// upstreamHeaders is which session headers go on to the next handlers
// (upstream_headers).
type upstreamHeaders uint8

const (
	upstreamIdentity upstreamHeaders = iota // the default
	upstreamAll
	upstreamOff
)

// parseUpstreamHeaders reads upstream_headers; "" is the default.
func parseUpstreamHeaders(v string) (upstreamHeaders, bool) {
	switch v {
	case "", "identity":
		return upstreamIdentity, true
	case "all":
		return upstreamAll, true
	case "off":
		return upstreamOff, true
	}
	return upstreamIdentity, false
}

// sessionHeaderValues are one request's copies of the values it publishes
// to upstream headers: a later handler may edit a header value in place,
// and the session they come from is shared by every request that carries
// its token.
type sessionHeaderValues [len(session.IdentityHeaders) + len(session.EntitlementHeaders) + 1]string

// publishSession sets the identity headers of a signed-in request and, with
// upstream_headers all, its organization permission, plan and feature
// headers, in one allocation. The placeholders come from the session
// (session.placeholder) whatever is published here. withType adds
// X-Clerk-Token-Type: session_token, on handlers that also take machine
// tokens, so that an upstream tells the two apart.
func publishSession(r *http.Request, s *session.Session, which upstreamHeaders, withType bool) {
	if which == upstreamOff {
		return
	}
	vals := s.Identity()
	buf := new(sessionHeaderValues)
	if withType {
		n := len(buf) - 1
		buf[n] = string(machine.SessionToken)
		r.Header[wire.HeaderTokenType] = buf[n : n+1 : n+1]
	}
	for i, v := range vals {
		if v != "" {
			buf[i] = v
			r.Header[session.IdentityHeaders[i]] = buf[i : i+1 : i+1]
		}
	}
	if which != upstreamAll {
		return
	}
	e := s.Entitlements()
	for i, v := range [...]string{e.PermsValue, e.PlansValue, e.FeaturesValue} {
		if v != "" && e.HeaderValid[i] {
			n := len(session.IdentityHeaders) + i
			buf[n] = v
			r.Header[session.EntitlementHeaders[i]] = buf[n : n+1 : n+1]
		}
	}
}

// placeholdersFor answers {http.auth.clerk.status}, {http.auth.clerk.reason}
// and, when signed in, the session's {http.auth.user.*} values. A value set
// with repl.Set (a rule's reason, user details) is found before these. A
// signed-in request's come from its session, made once per session.
//
// Every other {http.auth.user.*} and {http.auth.clerk.*} placeholder is
// answered too, empty: a signed-out request has no user, a session may have
// no organization or actor, and user details may be off or not found. An
// unknown placeholder would stay in the text as it is written, and a header
// such as "X-User: {http.auth.user.id}" would reach an upstream with a
// non-empty user id for an anonymous visitor.
func placeholdersFor(d *authn.Outcome) caddy.ReplacerFunc {
	if d.Status == wire.StatusSignedIn && d.Session != nil {
		return d.Session.Placeholders
	}
	if d.Status == wire.StatusSignedIn && d.Machine != nil {
		return viewOf(d.Machine).placeholders
	}
	status, reason := d.Status, d.Reason
	return func(key string) (any, bool) {
		switch key {
		case "http.auth.clerk.status":
			return session.StatusValue(status), true
		case "http.auth.clerk.reason":
			return reason, true
		}
		return session.OwnPlaceholder(key)
	}
}

// requestURL is Clerk's clerkUrl: the URL the client asked for. Forwarded
// host and scheme count only from a proxy Caddy trusts (docs/architecture.md,
// "Decision: forwarded headers").
func (h *Handler) requestURL(r *http.Request) *url.URL {
	u := new(url.URL)
	h.setRequestURL(u, r)
	return u
}

// setRequestURL is requestURL into u.
func (h *Handler) setRequestURL(u *url.URL, r *http.Request) {
	origURL, origTLS := r.URL, r.TLS != nil
	if o, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok {
		origURL, origTLS = o.URL, o.TLS != nil
	}
	*u = url.URL{Scheme: "http", Host: r.Host, Path: origURL.Path, RawPath: origURL.RawPath, RawQuery: origURL.RawQuery}
	if origTLS {
		u.Scheme = "https"
	}
	// Most requests carry no forwarded headers: look the trust up only
	// when there is something to trust.
	if len(r.Header["X-Forwarded-Host"]) == 0 && len(r.Header["X-Forwarded-Proto"]) == 0 {
		return
	}
	if trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool); trusted {
		if fh := firstCommaValue(r.Header.Get("X-Forwarded-Host")); isPlainHost(fh) {
			u.Host = fh
		}
		if fp := strings.ToLower(firstCommaValue(r.Header.Get("X-Forwarded-Proto"))); fp == "http" || fp == "https" {
			u.Scheme = fp
		}
	}
}

func firstCommaValue(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.TrimSpace(first)
}

// isPlainHost accepts host[:port] and nothing that could change the URL's
// structure.
func isPlainHost(h string) bool {
	return h != "" && !strings.ContainsAny(h, "/\\?#@ \t")
}
