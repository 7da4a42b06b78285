package authn

import (
	"cmp"
	"context"
	"encoding/json"
	"hash/maphash"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/clerkapi"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/machine"
	"github.com/clerk-edge/clerk_auth/internal/session"
	"github.com/clerk-edge/clerk_auth/internal/tokencache"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
)

// handshakeURL is buildRedirectToHandshake (@clerk/backend
// tokens/authenticateContext.ts and tokens/request.ts): the Frontend
// API's handshake endpoint, told where to come back to.
func (e *Engine) handshakeURL(a *Request, reason string) string {
	redirect := a.clerkURL
	redirect.RawQuery = removeQueryParams(redirect.RawQuery, wire.QueryDevBrowser, wire.QueryLegacyDevBrowser)
	var q strings.Builder
	appendParam(&q, wire.QueryRedirectURL, redirect.String())
	appendParam(&q, wire.QueryAPIVersion, wire.APIVersion)
	appendParam(&q, wire.QuerySuffixedCookies, strconv.FormatBool(a.suffixed))
	appendParam(&q, wire.QueryHandshakeReason, reason)
	if e.secretKey != "" {
		// docs/architecture.md, "Decision: the nonce handshake": with a
		// secret key the payload comes back as a nonce
		// we exchange at the Backend API; without one, as a signed token.
		appendParam(&q, wire.QueryHandshakeFormat, "nonce")
	}
	// A value with a machine token's prefix (ak_, mt_, oat_) is not a
	// session: Clerk's SDK would copy it into this URL, and so into the
	// browser's history and the Frontend API's logs; it is left out, and
	// the Frontend API answers as for no session.
	if t := cmp.Or(a.sessionCookie, a.tokenInHeader); t != "" && !machine.IsMachineTokenByPrefix(t) {
		appendParam(&q, wire.QuerySession, t)
	}
	if e.isDevelopment() && a.devBrowser != "" {
		appendParam(&q, wire.QueryDevBrowser, a.devBrowser)
	}
	// organization_id, last, on every handshake of a URL organization_sync
	// matches (orgsync.go).
	e.appendOrgSyncParam(&q, a)
	return e.inst.frontendAPIBaseFor(webOrigin(&a.clerkURL)) + "/v1/client/handshake?" + q.String()
}

func appendParam(b *strings.Builder, name, value string) {
	if b.Len() > 0 {
		b.WriteByte('&')
	}
	b.WriteString(formEncode(name))
	b.WriteByte('=')
	b.WriteString(formEncode(value))
}

// formEncode is the application/x-www-form-urlencoded serializer of the URL
// standard (what URLSearchParams writes): only ALPHA DIGIT *-._ stay, space
// becomes '+'.
func formEncode(s string) string {
	var b strings.Builder
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '*', c == '-', c == '.', c == '_':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// queryPair is one name=value of a query, in order.
type queryPair struct{ name, value string }

func parseQueryPairs(raw string) []queryPair {
	var pairs []queryPair
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		n, err1 := url.QueryUnescape(name)
		v, err2 := url.QueryUnescape(value)
		if err1 != nil {
			n = name
		}
		if err2 != nil {
			v = value
		}
		pairs = append(pairs, queryPair{n, v})
	}
	return pairs
}

// removeQueryParams deletes parameters as URLSearchParams.delete does: the
// order of the others is kept and the query is serialized again.
func removeQueryParams(raw string, names ...string) string {
	return rewriteQuery(raw, func(p []queryPair) []queryPair {
		out := p[:0]
		for _, q := range p {
			if !slices.Contains(names, q.name) {
				out = append(out, q)
			}
		}
		return out
	})
}

// setQueryParam is URLSearchParams.set: the first one replaced, the others
// removed, or appended when absent.
func setQueryParam(raw, name, value string) string {
	return rewriteQuery(raw, func(p []queryPair) []queryPair {
		out := p[:0]
		done := false
		for _, q := range p {
			if q.name != name {
				out = append(out, q)
			} else if !done {
				out = append(out, queryPair{name, value})
				done = true
			}
		}
		if !done {
			out = append(out, queryPair{name, value})
		}
		return out
	})
}

func appendQueryParam(raw, name, value string) string {
	return rewriteQuery(raw, func(p []queryPair) []queryPair { return append(p, queryPair{name, value}) })
}

func rewriteQuery(raw string, edit func([]queryPair) []queryPair) string {
	pairs := edit(parseQueryPairs(raw))
	var b strings.Builder
	for _, p := range pairs {
		appendParam(&b, p.name, p.value)
	}
	return b.String()
}

// resolveHandshake is the return leg (resolveHandshake in @clerk/backend
// tokens/handshake.ts, called from authenticateRequest in tokens/request.ts): the
// cookie directives come from a nonce exchanged at the Backend API or from a
// handshake token signed by the instance's key, never from anything else.
// A nil result means the handshake did not resolve and the normal flow goes
// on, as in Clerk's SDK.
func (e *Engine) resolveHandshake(ctx context.Context, a *Request) *Outcome {
	var directives []string
	if a.handshakeNonce != "" {
		directives = e.exchangeHandshakeNonce(ctx, a.handshakeNonce)
	} else {
		var err *jwt.Error
		directives, err = e.verifyHandshakeToken(ctx, a.handshakeToken)
		if err != nil {
			e.logger.Debug("handshake token rejected; continuing without it", zap.String("reason", err.Reason), zap.String("detail", err.LogText()))
			return nil
		}
	}
	directives = e.directivesForHost(directives, a.clerkURL.Hostname())
	out := &Outcome{SetCookies: directives, ExtraHeaders: http.Header{
		"Access-Control-Allow-Origin":      {"null"},
		"Access-Control-Allow-Credentials": {"true"},
	}}
	if e.isDevelopment() {
		clean := a.clerkURL
		clean.RawQuery = removeQueryParams(clean.RawQuery, wire.QueryHandshake, wire.QueryHandshakeHelp, wire.QueryDevBrowser, wire.QueryHandshakeNonce)
		out.Location = clean.String()
	}
	sessionToken := ""
	for _, d := range directives {
		pair, _, _ := strings.Cut(d, ";")
		name, value, _ := strings.Cut(pair, "=")
		if strings.HasPrefix(name, wire.CookieSession) {
			value, _, _ = strings.Cut(value, "=")
			sessionToken = value
		}
	}
	if sessionToken == "" {
		out.Kind, out.Status, out.Reason, out.Carrier = SignedOut, wire.StatusSignedOut, wire.ReasonSessionTokenMissing, "cookie"
		if out.Location != "" {
			out.Kind = Handshake
		}
		return out
	}
	tok, err := tokencache.Decode(sessionToken)
	var s *session.Session
	if err == nil {
		s, err = e.verifyRequestSession(ctx, a, tok, e.verify.Skew)
		if err != nil && e.isDevelopment() && isTimeReason(err.Reason) {
			// Clerk's development clock-skew allowance for the handshake.
			s, err = e.verifyRequestSession(ctx, a, tok, 24*time.Hour)
		}
	}
	if err != nil {
		e.logger.Debug("handshake session token rejected; continuing without it", zap.String("reason", err.Reason))
		return nil
	}
	checked := e.signedInChecks(a, s, "cookie")
	checked.SetCookies, checked.ExtraHeaders, checked.Location = out.SetCookies, out.ExtraHeaders, out.Location
	if checked.Location != "" {
		checked.Kind = Handshake // the clean-URL redirect
	}
	return checked
}

// directivesForHost keeps the handshake directives a browser would accept for
// host. Clerk's SDK emits them verbatim; they come only from a payload Clerk
// signed or the Backend API returned, but a cookie for another domain, or a
// directive with control characters, is never something to pass on: the
// browser rejects the first, and the second could split headers.
func (e *Engine) directivesForHost(directives []string, host string) []string {
	kept := directives[:0:0]
	for _, d := range directives {
		if domain, ok := directiveDomainMatches(d, host); !ok {
			name, _, _ := strings.Cut(d, "=")
			e.logger.Warn("handshake cookie directive dropped: not for this host",
				zap.String("cookie", strings.TrimSpace(name)), zap.String("domain", domain), zap.String("host", host))
			continue
		}
		kept = append(kept, d)
	}
	return kept
}

// directiveDomainMatches is RFC 6265 domain-matching of a directive's Domain
// attributes (every one of them, stricter than the browser's last-wins)
// against host; a directive without one is host-only and always matches.
func directiveDomainMatches(directive, host string) (domain string, ok bool) {
	for i := 0; i < len(directive); i++ {
		if c := directive[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return "", false
		}
	}
	host = strings.ToLower(host)
	attrs := strings.Split(directive, ";")
	for _, attr := range attrs[1:] {
		name, value, _ := strings.Cut(attr, "=")
		if !strings.EqualFold(strings.TrimSpace(name), "domain") {
			continue
		}
		domain = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(value), "."))
		if domain != "" && host != domain && !strings.HasSuffix(host, "."+domain) {
			return domain, false
		}
	}
	return domain, true
}

func isTimeReason(r string) bool {
	return r == wire.ReasonTokenExpired || r == wire.ReasonTokenNotActiveYet || r == wire.ReasonTokenIatInTheFuture
}

// verifyHandshakeToken checks a handshake token as verifyHandshakeJwt does:
// typ, alg, category and signature; its time claims are not checked.
func (e *Engine) verifyHandshakeToken(ctx context.Context, token string) ([]string, *jwt.Error) {
	d, err := tokencache.Decode(token)
	if err != nil {
		return nil, err
	}
	if e.keys == nil {
		return nil, &jwt.Error{Reason: wire.ReasonJWKFailedToResolve, Message: "Failed to resolve JWK during handshake verification."}
	}
	key, err := e.keys.KeyFor(ctx, d.Kid())
	if err != nil {
		return nil, err
	}
	if cat, present := d.Cat(); present && cat != wire.JWTCategorySession && cat != wire.JWTCategoryIgnore {
		return nil, &jwt.Error{Reason: wire.ReasonTokenInvalid, Message: "Invalid handshake token category."}
	}
	if err := key.Verify(&d.Token); err != nil {
		return nil, err
	}
	raw, _ := jwt.RawClaims(d.Payload)["handshake"].([]any)
	directives := make([]string, 0, len(raw))
	for _, v := range raw {
		s, ok := v.(string)
		if !ok {
			// Clerk's SDK throws on a directive that is not a string, and
			// the handshake does not resolve; so it must not here either.
			return nil, &jwt.Error{Reason: wire.ReasonTokenInvalid, Message: "Handshake payload holds a directive that is not a string."}
		}
		directives = append(directives, s)
	}
	return directives, nil
}

// nonceLimiter bounds what handshake nonces cost at the Backend API, where
// each exchange is a call with the secret key that any client can cause by
// sending a __clerk_handshake_nonce: one exchange per distinct nonce at a
// time (concurrent requests share it), a nonce that failed is not tried
// again for nonceFailureTTL, and exchanges draw on a token bucket of
// nonceExchangeBurst refilled at nonceExchangeRate per second. A nonce not
// exchanged gives no directives: the handshake does not resolve, and the
// request goes on as one without it (signed out, or a new handshake).
type nonceLimiter struct {
	group singleflight.Group
	seed  maphash.Seed

	mu     sync.Mutex
	failed map[uint64]time.Time // keyed hash of a nonce → when it may be tried again
	tokens float64
	last   time.Time
	// warned is when the last "over the limit" warning was logged: one
	// per nonceFailureTTL, however long the flood.
	warned time.Time
}

func newNonceLimiter() *nonceLimiter {
	return &nonceLimiter{seed: maphash.MakeSeed(), failed: map[uint64]time.Time{}, tokens: nonceExchangeBurst}
}

// recentlyFailed tells whether the nonce of hash k failed within the TTL.
func (l *nonceLimiter) recentlyFailed(k uint64, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	until, ok := l.failed[k]
	if ok && now.After(until) {
		delete(l.failed, k)
		return false
	}
	return ok
}

func (l *nonceLimiter) recordFailure(k uint64, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failed) >= maxFailedNonces {
		for n, until := range l.failed {
			if now.After(until) {
				delete(l.failed, n)
			}
		}
		if len(l.failed) >= maxFailedNonces {
			// Still full of live entries: the bucket bounds the cost of
			// forgetting them.
			clear(l.failed)
		}
	}
	l.failed[k] = now.Add(nonceFailureTTL)
}

// take draws one exchange from the bucket; warn says a refusal should be
// logged (the first in a while).
func (l *nonceLimiter) take(now time.Time) (ok, warn bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() {
		l.tokens = min(nonceExchangeBurst, l.tokens+now.Sub(l.last).Seconds()*nonceExchangeRate)
	}
	l.last = now
	if l.tokens < 1 {
		if now.Sub(l.warned) >= nonceFailureTTL {
			l.warned = now
			return false, true
		}
		return false, false
	}
	l.tokens--
	return true, false
}

// exchangeHandshakeNonce asks the Backend API for the payload of a nonce
// handshake, within the nonceLimiter's bounds. Failures give no directives,
// as in Clerk's SDK.
func (e *Engine) exchangeHandshakeNonce(ctx context.Context, nonce string) []string {
	if e.secretKey == "" || e.nonces == nil {
		return nil
	}
	l := e.nonces
	k := maphash.String(l.seed, nonce)
	if l.recentlyFailed(k, time.Now()) {
		e.logger.Debug("handshake nonce failed recently; not exchanged again")
		return nil
	}
	ch := l.group.DoChan(nonce, func() (any, error) {
		if ok, warn := l.take(time.Now()); !ok {
			if warn {
				e.logger.Warn("handshake nonces not exchanged: more than the exchange limit allows (logged once per 10 s)",
					zap.Float64("per_second", nonceExchangeRate), zap.Int("burst", nonceExchangeBurst))
			} else {
				e.logger.Debug("handshake nonce not exchanged: over the exchange limit")
			}
			return []string(nil), nil
		}
		// The exchange is not tied to the request that started it: a
		// client that goes away does not fail the others waiting on it.
		fctx, cancel := context.WithTimeout(context.Background(), keys.FetchTimeout)
		defer cancel()
		directives, ok := e.fetchHandshakePayload(fctx, nonce)
		if !ok {
			l.recordFailure(k, time.Now())
		}
		return directives, nil
	})
	select {
	case res := <-ch:
		d, _ := res.Val.([]string)
		return d
	case <-ctx.Done():
		return nil
	}
}

// maxHandshakePayloadBytes bounds what is read of a nonce exchange's answer.
const maxHandshakePayloadBytes = 1 << 20

// fetchHandshakePayload is one nonce exchange at the Backend API; ok is
// false when it did not give a payload.
func (e *Engine) fetchHandshakePayload(ctx context.Context, nonce string) (directives []string, ok bool) {
	u := e.apiURL + "/v1/clients/handshake_payload?nonce=" + url.QueryEscape(nonce)
	status, body, err := e.api.Get(ctx, u, maxHandshakePayloadBytes)
	if err != nil && status == 0 {
		e.logger.Warn("handshake nonce exchange failed", zap.String("error", clerkapi.RedactURLError(err)))
		return nil, false
	}
	if status != http.StatusOK {
		e.logger.Warn("handshake nonce exchange failed", zap.Int("status", status))
		return nil, false
	}
	var payload struct {
		Directives []string `json:"directives"`
	}
	if err != nil || json.Unmarshal(body, &payload) != nil {
		e.logger.Warn("handshake nonce exchange answered something that is not a payload")
		return nil, false
	}
	return payload.Directives, true
}

// Bounds of the handshake nonce exchange (nonceLimiter): a genuine browser
// exchanges one nonce per handshake, so these leave room for bursts of
// page loads while a flood of bogus nonces costs the Backend API at most
// 10 calls a second per handler.
const (
	nonceExchangeRate  = 10.0 // exchanges per second, sustained
	nonceExchangeBurst = 20   // exchanges at once after a quiet spell
	nonceFailureTTL    = 10 * time.Second
	maxFailedNonces    = 4096
)

// NonceExchangeRate and NonceExchangeBurst are the nonceLimiter's bounds,
// for the tests that hold a flood to them (docs/architecture.md, "Decision:
// the nonce handshake").
const (
	NonceExchangeRate  = nonceExchangeRate
	NonceExchangeBurst = nonceExchangeBurst
)

// FormEncode is formEncode, URLSearchParams' serializer.
func FormEncode(s string) string { return formEncode(s) }

// AppendQueryParam is URLSearchParams.append on a raw query, serialized again.
func AppendQueryParam(raw, name, value string) string { return appendQueryParam(raw, name, value) }

// DirectiveDomainMatches is directiveDomainMatches: whether a handshake
// cookie directive is one a browser would accept for host.
func DirectiveDomainMatches(directive, host string) (domain string, ok bool) {
	return directiveDomainMatches(directive, host)
}
