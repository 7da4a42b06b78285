package clerkauth

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// ServeHTTP decides on the request before anything else sees it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	// Identity headers are ours alone: whatever a client sent is removed
	// first, whatever the outcome.
	stripIdentityHeaders(r.Header)
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl == nil {
		repl = caddy.NewReplacer()
	}
	a := h.newAuthRequest(r, h.now())
	d := h.authenticate(r.Context(), a)
	h.recordDecision(d)
	return h.respond(w, r, next, repl, a, d)
}

// respond turns a decision into the response (decision A.8).
func (h *Handler) respond(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, repl *caddy.Replacer, a *authRequest, d *decision) error {
	hdr := w.Header()
	for _, c := range d.setCookies {
		hdr.Add("Set-Cookie", c)
	}
	for k, v := range d.extraHeaders {
		hdr[k] = v
	}
	repl.Set("http.auth.clerk.status", d.status)
	repl.Set("http.auth.clerk.reason", d.reason)

	if d.status != statusSignedIn {
		h.logger.Debug("clerk session not accepted",
			zap.String("status", d.status), zap.String("reason", d.reason),
			zap.String("token_carrier", d.carrier), zap.String("detail", d.message))
		setDebugHeaders(hdr, d)
	}
	switch {
	case d.location != "":
		// A handshake, a sync redirect, or the clean-URL redirect after a
		// development handshake: every one a URL we built.
		hdr.Set("Location", d.location)
		hdr.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusTemporaryRedirect)
		return nil
	case d.status == statusSignedIn:
		setIdentity(r, repl, d.session)
		return next.ServeHTTP(w, r)
	case h.optional:
		return next.ServeHTTP(w, r)
	}
	if target := h.signInRedirect(a); target != "" {
		hdr.Set("Location", target)
		hdr.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusTemporaryRedirect)
		return nil
	}
	challenge := `Bearer realm="clerk"`
	if d.tokenPresented {
		challenge += `, error="invalid_token", error_description="` + d.reason + `"`
	}
	hdr.Set("WWW-Authenticate", challenge)
	return caddyhttp.Error(http.StatusUnauthorized, fmt.Errorf("clerk_auth: signed out: %s", d.reason))
}

func setDebugHeaders(hdr http.Header, d *decision) {
	hdr.Set(headerAuthStatus, d.status)
	hdr.Set(headerAuthReason, d.reason)
	if d.message != "" {
		hdr.Set(headerAuthMessage, d.message)
	}
}

// signInRedirect is where a signed-out page load goes: the sign-in URL with
// redirect_url set to the page asked for. Empty when the request is not a
// page load, when there is no sign-in URL, or when the request is for the
// sign-in page itself (so that a protected sign-in page cannot loop).
func (h *Handler) signInRedirect(a *authRequest) string {
	if h.signInURL == "" || !isDocumentRequest(a.r.Method, a.secFetchDest, a.accept) {
		return ""
	}
	target, err := url.Parse(h.signInURL)
	if err != nil {
		return ""
	}
	if target.Host == "" {
		target.Scheme, target.Host = a.clerkURL.Scheme, a.clerkURL.Host
	}
	if webOrigin(target) == webOrigin(a.clerkURL) && target.Path == a.clerkURL.Path {
		return ""
	}
	target.RawQuery = setQueryParam(target.RawQuery, queryRedirectURL, a.clerkURL.String())
	return target.String()
}

// stripIdentityHeaders removes every X-Clerk-* request header (and the
// X-Clerk_ spelling some proxies fold into the same name).
func stripIdentityHeaders(h http.Header) {
	for k := range h {
		if len(k) > 8 && strings.EqualFold(k[:7], "x-clerk") && (k[7] == '-' || k[7] == '_') {
			delete(h, k)
		}
	}
}

// setIdentity publishes the session to placeholders and upstream headers.
func setIdentity(r *http.Request, repl *caddy.Replacer, s *session) {
	repl.Set("http.auth.user.id", s.userID)
	repl.Set("http.auth.user.session_id", s.sessionID)
	repl.Set("http.auth.user.org_id", s.orgID)
	repl.Set("http.auth.user.org_role", s.orgRole)
	repl.Set("http.auth.user.org_slug", s.orgSlug)
	repl.Set("http.auth.user.actor_id", s.actorID)
	for name, v := range map[string]string{
		headerUserID: s.userID, headerSessionID: s.sessionID, headerOrgID: s.orgID,
		headerOrgRole: s.orgRole, headerOrgSlug: s.orgSlug, headerActorID: s.actorID,
	} {
		if v != "" {
			r.Header.Set(name, v)
		}
	}
}

// requestURL is Clerk's clerkUrl: the URL the client asked for. Forwarded
// host and scheme count only from a proxy Caddy trusts (decision A.9).
func (h *Handler) requestURL(r *http.Request) *url.URL {
	orig := r
	if o, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok {
		orig = &o
	}
	u := &url.URL{Scheme: "http", Host: r.Host, Path: orig.URL.Path, RawPath: orig.URL.RawPath, RawQuery: orig.URL.RawQuery}
	if orig.TLS != nil {
		u.Scheme = "https"
	}
	if trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool); trusted {
		if fh := firstCommaValue(r.Header.Get("X-Forwarded-Host")); isPlainHost(fh) {
			u.Host = fh
		}
		if fp := strings.ToLower(firstCommaValue(r.Header.Get("X-Forwarded-Proto"))); fp == "http" || fp == "https" {
			u.Scheme = fp
		}
	}
	return u
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
