package authn

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// Instance holds what Clerk derives from the publishable key
// (parsePublishableKey in @clerk/shared keys.ts, and authenticateContext.ts
// of @clerk/backend): the Frontend API host, the instance type and the
// cookie suffix.
type Instance struct {
	publishableKey string
	// keyHost is the Frontend API host encoded in the key: the primary's.
	keyHost string
	// fapiHost is originalFrontendApi in @clerk/backend, the host tokens
	// are issued by: keyHost, or clerk.<domain> for a production satellite
	// (a proxy does not change it).
	fapiHost string
	// frontendAPI is where browsers are sent for the handshake: the proxy URL
	// when one is set, clerk.<domain> for a production satellite, else fapiHost.
	// With a relative proxy URL it is the path (trailing '/' trimmed), which
	// frontendAPIFor resolves against each request's origin.
	frontendAPI string
	// relativeProxy says proxy_url is a path on the site (/__clerk).
	relativeProxy bool
	production    bool
	// cookieSuffix names the suffixed cookies (__session_<suffix>).
	cookieSuffix string
	// suffixedNames are the suffixed names of the cookies read on every
	// request, made once.
	suffixedNames map[string]string
}

// suffixedCookie is base + "_" + cookieSuffix.
func (in *Instance) suffixedCookie(base string) string {
	if n, ok := in.suffixedNames[base]; ok {
		return n
	}
	return base + "_" + in.cookieSuffix
}

// parsePublishableKey follows @clerk/shared parsePublishableKey: pk_live_ or
// pk_test_, three parts, base64 of "<fapi host>$".
func parsePublishableKey(pk string) (host string, production bool, err error) {
	if pk == "" {
		return "", false, errors.New("publishable key is empty")
	}
	if !strings.HasPrefix(pk, "pk_live_") && !strings.HasPrefix(pk, "pk_test_") {
		return "", false, errors.New("publishable key must start with pk_live_ or pk_test_")
	}
	parts := strings.Split(pk, "_")
	if len(parts) != 3 {
		return "", false, errors.New("publishable key must have the form pk_<live|test>_<base64>")
	}
	decoded, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(parts[2], "="))
	if err != nil {
		return "", false, errors.New("publishable key is not valid base64")
	}
	s := string(decoded)
	if !strings.HasSuffix(s, "$") || strings.Count(s, "$") != 1 || !strings.Contains(s[:len(s)-1], ".") {
		return "", false, errors.New("publishable key does not encode a Frontend API host")
	}
	return s[:len(s)-1], strings.HasPrefix(pk, "pk_live_"), nil
}

// cookieSuffix is the first 8 characters of base64url(SHA-1(publishable key)),
// as @clerk/shared getCookieSuffix computes it.
func cookieSuffix(pk string) string {
	sum := sha1.Sum([]byte(pk))
	return base64.URLEncoding.EncodeToString(sum[:])[:8]
}

func NewInstance(pk, proxyURL, domain string, satellite bool) (*Instance, error) {
	host, prod, err := parsePublishableKey(pk)
	if err != nil {
		return nil, err
	}
	in := &Instance{
		publishableKey: pk,
		keyHost:        host,
		fapiHost:       host,
		frontendAPI:    host,
		production:     prod,
		cookieSuffix:   cookieSuffix(pk),
	}
	in.suffixedNames = map[string]string{}
	for _, base := range []string{wire.CookieSession, wire.CookieClientUAT, wire.CookieRefresh, wire.CookieDevBrowser} {
		in.suffixedNames[base] = base + "_" + in.cookieSuffix
	}
	if prod && satellite && domain != "" {
		in.fapiHost = "clerk." + domain
		in.frontendAPI = in.fapiHost
	}
	if proxyURL != "" {
		in.frontendAPI = strings.TrimRight(proxyURL, "/")
		in.relativeProxy = isRelativeProxyURL(proxyURL)
	}
	return in, nil
}

// isRelativeProxyURL is @clerk/shared isProxyUrlRelative: a proxy URL that
// starts with '/' is a path on the site.
func isRelativeProxyURL(v string) bool { return strings.HasPrefix(v, "/") }

// frontendAPIFor is the Frontend API of a request whose origin (as the URL
// standard serializes it) is origin. A relative proxy URL is resolved as
// AuthenticateContext does in @clerk/backend (authenticateContext.ts):
// `${clerkUrl.origin}${proxyUrl}`; anything else does not depend on the
// request.
func (in *Instance) frontendAPIFor(origin string) string {
	if in.relativeProxy {
		return origin + in.frontendAPI
	}
	return in.frontendAPI
}

// frontendAPIBaseFor is frontendAPIBase for a request of origin origin.
func (in *Instance) frontendAPIBaseFor(origin string) string {
	if in.relativeProxy {
		return origin + in.frontendAPI
	}
	return in.frontendAPIBase()
}

// frontendAPIBase is the absolute base URL of the Frontend API. With a
// relative proxy URL there is none without a request: see frontendAPIBaseFor.
func (in *Instance) frontendAPIBase() string {
	if strings.HasPrefix(in.frontendAPI, "http://") || strings.HasPrefix(in.frontendAPI, "https://") {
		return strings.TrimRight(in.frontendAPI, "/")
	}
	return "https://" + in.frontendAPI
}

// issuer is the iss every session token of this instance carries (README,
// "Where we differ from Clerk's SDK"): the proxy URL when one is set, else
// https://<fapi host>. A relative proxy URL gives no issuer here: it is
// resolved per request (frontendAPIFor).
func (in *Instance) issuer(proxyURL string) string {
	if isRelativeProxyURL(proxyURL) {
		return ""
	}
	if proxyURL != "" {
		return strings.TrimRight(proxyURL, "/")
	}
	return "https://" + in.fapiHost
}

// accountsBaseURL is @clerk/shared buildAccountsBaseUrl: the Account Portal
// origin for a Frontend API host.
func accountsBaseURL(fapiHost string) string {
	if fapiHost == "" {
		return ""
	}
	host := strings.Replace(fapiHost, "clerk.accountsstage.", "accountsstage.", 1)
	// The first "clerk." is replaced, taking "clerk.accounts." whole when it
	// starts there (the regex /clerk\.accounts\.|clerk\./ of the SDK).
	if i := strings.Index(host, "clerk."); i >= 0 {
		if strings.HasPrefix(host[i:], "clerk.accounts.") {
			host = host[:i] + "accounts." + host[i+len("clerk.accounts."):]
		} else {
			host = host[:i] + "accounts." + host[i+len("clerk."):]
		}
	}
	return "https://" + host
}

// defaultSignInURL is the Account Portal sign-in page of the instance.
func (in *Instance) defaultSignInURL() string {
	return accountsBaseURL(in.keyHost) + "/sign-in"
}

func (in *Instance) String() string {
	kind := "development"
	if in.production {
		kind = "production"
	}
	return fmt.Sprintf("%s instance %s", kind, in.fapiHost)
}

// IsRelativeProxyURL is isRelativeProxyURL (@clerk/shared isProxyUrlRelative).
func IsRelativeProxyURL(v string) bool { return isRelativeProxyURL(v) }

// CookieSuffix is cookieSuffix (@clerk/shared getCookieSuffix).
func CookieSuffix(pk string) string { return cookieSuffix(pk) }

// Production tells whether the key is a production instance's (pk_live_).
func (in *Instance) Production() bool { return in.production }

// RelativeProxy says proxy_url is a path on the site.
func (in *Instance) RelativeProxy() bool { return in.relativeProxy }

// FAPIHost is the host tokens are issued by (originalFrontendApi).
func (in *Instance) FAPIHost() string { return in.fapiHost }

// Suffix is the cookie suffix of the instance (__session_<suffix>).
func (in *Instance) Suffix() string { return in.cookieSuffix }

// SuffixedCookie is base + "_" + the cookie suffix.
func (in *Instance) SuffixedCookie(base string) string { return in.suffixedCookie(base) }

// Issuer is issuer: the iss of the instance's tokens for proxyURL, "" for a
// relative proxy URL (resolved per request).
func (in *Instance) Issuer(proxyURL string) string { return in.issuer(proxyURL) }

// FrontendAPIBase is frontendAPIBase: the absolute Frontend API base URL.
func (in *Instance) FrontendAPIBase() string { return in.frontendAPIBase() }

// DefaultSignInURL is the Account Portal sign-in page of the instance.
func (in *Instance) DefaultSignInURL() string { return in.defaultSignInURL() }

// ParsePublishableKey is parsePublishableKey (@clerk/shared).
func ParsePublishableKey(pk string) (host string, production bool, err error) {
	return parsePublishableKey(pk)
}
