package authn

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// multiDomainSync is the satellite and primary-domain sync of
// authenticateRequestWithTokenInCookie (@clerk/backend tokens/request.ts):
// satellites sync with
// the primary domain, and on development the primary answers them.
func (e *Engine) multiDomainSync(a *Request) *Outcome {
	if e.inst == nil {
		return nil
	}
	synced := a.query.Get(wire.QuerySynced)
	needsSync, completed := synced == "false", synced == "true"
	hasCookies := a.sessionCookie != "" || a.clientUAT != 0
	if e.satellite && a.header("Sec-Fetch-Dest") == "document" && a.r.Method == http.MethodGet && !completed {
		if !e.satelliteAutoSync && !hasCookies && !needsSync {
			return signedOut(wire.ReasonSessionTokenAndUATMissing, "", "", false)
		}
		if !hasCookies || needsSync {
			if e.inst.production {
				return e.maybeHandshake(a, wire.ReasonSatelliteNeedsSyncing, "", "")
			}
			u, err := url.Parse(e.signInURL)
			if err != nil {
				return signedOut(wire.ReasonSatelliteNeedsSyncing, "", "", false)
			}
			u.RawQuery = appendQueryParam(u.RawQuery, wire.QueryClerkRedirectURL, a.clerkURL.String())
			return e.maybeHandshake(a, wire.ReasonSatelliteNeedsSyncing, "", u.String())
		}
	}
	if e.isDevelopment() && !e.satellite {
		if back := a.query.Get(wire.QueryClerkRedirectURL); back != "" {
			u, err := url.Parse(back)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				// Only an absolute web URL; never javascript: or a relative path.
				return nil
			}
			if a.devBrowser != "" {
				u.RawQuery = appendQueryParam(u.RawQuery, wire.QueryDevBrowser, a.devBrowser)
			}
			u.RawQuery = setQueryParam(u.RawQuery, wire.QuerySynced, "true")
			return e.maybeHandshake(a, wire.ReasonPrimaryRespondsToSyncing, "", u.String())
		}
	}
	return nil
}

// needsCrossOriginSync is the cross-origin referrer check of
// authenticateRequestWithTokenInCookie (isCrossOriginReferrer in
// @clerk/backend tokens/request.ts): a signed-in document navigation that
// arrives from another site refreshes through the handshake once.
func (e *Engine) needsCrossOriginSync(a *Request) bool {
	if e.inst == nil || e.satellite || a.r.Method != http.MethodGet || a.header("Sec-Fetch-Dest") != "document" || a.redirectCount != 0 {
		return false
	}
	referer := a.header("Referer")
	if referer == "" {
		return false
	}
	ref, err := url.Parse(referer)
	if err != nil || ref.Scheme == "" {
		return false
	}
	if webOrigin(ref) == webOrigin(&a.clerkURL) {
		return false
	}
	return !e.isKnownClerkReferrer(a, ref)
}

func (e *Engine) isKnownClerkReferrer(a *Request, ref *url.URL) bool {
	host := strings.ToLower(ref.Hostname())
	frontendAPI := e.inst.frontendAPIFor(webOrigin(&a.clerkURL))
	fapi := frontendAPI
	if u, err := url.Parse(fapi); err == nil && u.Host != "" {
		fapi = u.Hostname()
	}
	if host == fapi {
		return true
	}
	if !e.inst.production {
		for _, sfx := range []string{".lcl.dev", ".lclstage.dev", ".lclclerk.com"} {
			if strings.HasPrefix(host, "accounts.") && strings.HasSuffix(host, sfx) {
				return true
			}
		}
		for _, sfx := range []string{".accounts.dev", ".accountsstage.dev", ".accounts.lclclerk.com"} {
			if strings.HasSuffix(host, sfx) && !strings.HasSuffix(host, ".clerk"+sfx) {
				return true
			}
		}
	}
	if !strings.Contains(frontendAPI, "://") {
		if acc, err := url.Parse(accountsBaseURL(frontendAPI)); err == nil && webOrigin(acc) == webOrigin(ref) {
			return true
		}
	}
	return false
}

// webOrigin serializes a URL's origin as the URL standard does: scheme and
// host in lower case, the default port left out, "null" for other schemes.
func webOrigin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	switch scheme {
	case "http", "ws":
		if port == "80" {
			port = ""
		}
	case "https", "wss":
		if port == "443" {
			port = ""
		}
	case "ftp":
		if port == "21" {
			port = ""
		}
	default:
		return "null"
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		return scheme + "://" + host + ":" + port
	}
	return scheme + "://" + host
}

// WebOrigin is webOrigin: a URL's origin as the URL standard serializes it.
func WebOrigin(u *url.URL) string { return webOrigin(u) }
