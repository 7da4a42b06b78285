// Package clerkauth is a Caddy HTTP handler that protects sites and APIs
// with Clerk sessions: it verifies the session token a request carries, in
// the order and with the reason codes of Clerk's own authenticateRequest, and
// passes, denies, or redirects the browser to sign in or through Clerk's
// handshake before any file or upstream is touched.
package clerkauth

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/clerk-edge/clerk_auth/internal/authn"
	"github.com/clerk-edge/clerk_auth/internal/clerkapi"
	"github.com/clerk-edge/clerk_auth/internal/demo"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/machine"
	"github.com/clerk-edge/clerk_auth/internal/orgsync"
	"github.com/clerk-edge/clerk_auth/internal/policy"
	"github.com/clerk-edge/clerk_auth/internal/tokencache"
	"github.com/clerk-edge/clerk_auth/internal/users"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// The demo instance: a key pair shipped in demo/ so that the quick start
// runs without a Clerk account. Its private key is public: never use demo
// mode for anything real.
var (
	//go:embed demo/public.pem
	demoPublicKeyPEM string
	// demoPublishableKey encodes the Frontend API host clerk.demo.localhost.
	demoPublishableKey = "pk_live_Y2xlcmsuZGVtby5sb2NhbGhvc3Qk"
)

// Handler authenticates requests with Clerk sessions. A request with a valid
// session token goes on, with the user's identity in placeholders
// ({http.auth.user.id}, ...) and X-Clerk-* request headers; any other is
// denied with Clerk's X-Clerk-Auth-Status and X-Clerk-Auth-Reason headers: a
// browser page load is redirected to sign in (or through Clerk's handshake
// when its session only needs a refresh), anything else gets 401.
//
// Decisions and key fetches are counted in Prometheus metrics on Caddy's
// /metrics (caddy_clerk_auth_*), key-set changes and key-fetch failures are
// emitted as Caddy events (clerk_auth_keys_changed,
// clerk_auth_key_fetch_failed), and `caddy clerk-diagnose` explains the
// decision on any one request.
type Handler struct {
	// PublishableKey is the instance's publishable key (pk_live_... or
	// pk_test_...). It gives the Frontend API host, from which the issuer,
	// the handshake URL, the cookie suffix, the public JWKS and the Account
	// Portal sign-in URL are derived.
	PublishableKey string `json:"publishable_key,omitempty"`

	// SecretKey is the instance's secret key (sk_...). With it, keys come
	// from the Backend API's JWKS and handshakes use Clerk's nonce format.
	// Placeholders such as {env.CLERK_SECRET_KEY} are resolved at start.
	SecretKey string `json:"secret_key,omitempty"`

	// JWTKey is the PEM "JWKS Public Key" from the Clerk Dashboard (an RSA
	// key of at least 2048 bits; smaller keys are refused). With it,
	// verification needs no network. It may be given as a placeholder:
	// {file./path/key.pem} or {env.CLERK_JWT_KEY}.
	JWTKey string `json:"jwt_key,omitempty"`

	// JWKSURL overrides where keys are fetched. The secret key is sent only
	// when the URL is on the Backend API (api_url).
	JWKSURL string `json:"jwks_url,omitempty"`

	// APIURL is the Backend API base. Default: https://api.clerk.com.
	APIURL string `json:"api_url,omitempty"`

	// AuthorizedParties are the origins (scheme://host[:port]) allowed as the
	// token's azp claim. When set, azp is required and must match exactly.
	// Clerk strongly recommends setting it.
	AuthorizedParties []string `json:"authorized_parties,omitempty"`

	// Audience are the audiences a session token may be for, as the
	// audience option of Clerk's authenticateRequest: a token that carries
	// an aud claim (a string, or a list of strings of which one must match)
	// must name one of them, or it is refused with token-verification-failed.
	// A token without aud passes, as in Clerk. Default: none (aud is not
	// checked).
	Audience []string `json:"audience,omitempty"`

	// Issuer overrides the required iss claim. Default: the Frontend API
	// of the publishable key (https://<host>), or the proxy URL when set
	// (a relative one resolved against each request's origin). Without a
	// publishable key and without this, iss is not checked.
	Issuer string `json:"issuer,omitempty"`

	// ClockSkew is the leeway for exp, nbf and iat. Default: 5s.
	ClockSkew *caddy.Duration `json:"clock_skew,omitempty"`

	// SessionParam is the query parameter naming the session a multi-session
	// client acts for; when present it must equal the token's sid.
	// Default: _clerk_session_id.
	SessionParam string `json:"session_param,omitempty"`

	// Mode is "require" (default: deny signed-out requests) or "optional"
	// (let them through anonymously, with the status and reason set).
	Mode string `json:"mode,omitempty"`

	// AllowPending lets sessions with pending tasks (sts "pending") in.
	AllowPending bool `json:"allow_pending,omitempty"`

	// SignInURL is where signed-out page loads are sent, with redirect_url
	// set to the page asked for. Default: the Account Portal's sign-in page.
	// "off" answers them 401 like any other request.
	SignInURL string `json:"sign_in_url,omitempty"`

	// ProxyURL is where the site proxies Clerk's Frontend API: an absolute
	// http(s) URL, or a path on this site ("/__clerk"), which is resolved
	// against each request's origin as @clerk/backend resolves it. It
	// becomes the handshake base and the expected issuer. A path needs
	// secret_key or jwt_key (the public JWKS has no URL before a request).
	ProxyURL string `json:"proxy_url,omitempty"`

	// Domain is a satellite application's domain.
	Domain string `json:"domain,omitempty"`

	// Satellite marks this site as a satellite of a primary domain.
	Satellite bool `json:"is_satellite,omitempty"`

	// SatelliteAutoSync makes a satellite sync with the primary on a first
	// visit without cookies (Clerk's default since Core 3 is not to).
	SatelliteAutoSync bool `json:"satellite_auto_sync,omitempty"`

	// Demo uses the demo key pair shipped in the repository's demo/ folder
	// instead of a Clerk instance. Anyone can mint demo tokens: for trying
	// the plugin only.
	Demo bool `json:"demo,omitempty"`

	// Require are authorization rules for signed-in sessions: all must
	// hold, or the request gets 403 with a reason per rule kind. With rules,
	// a session is required even in optional mode. See docs/authorization.md.
	Require []Rule `json:"require,omitempty"`

	// DenyImpersonated refuses sessions in which someone impersonates the
	// user (the token carries an act claim): 403 impersonation-denied.
	DenyImpersonated bool `json:"deny_impersonated,omitempty"`

	// UserDetails looks the signed-in user up at the Backend API (needs the
	// secret key) and publishes email, name, username and chosen public
	// metadata as placeholders and headers.
	UserDetails *UserDetails `json:"user_details,omitempty"`

	// CacheSize is how many verified tokens are remembered, so that a token
	// seen again is not verified again (its time claims, its key and the
	// per-request checks are still checked every time). 0 turns the cache
	// off. Default: 10000 (a few MB at most; see docs/performance.md).
	CacheSize *int `json:"cache_size,omitempty"`

	// UpstreamHeaders says which X-Clerk-* request headers a signed-in
	// request carries to the handlers after this one (reverse_proxy passes
	// them to the upstream): "identity" (default: user, session,
	// organization id, role and slug, actor, and the user_details fields
	// when user_details is on), "all" (identity, plus the organization
	// permissions, plans and features, which can run long) or "off" (none;
	// a static site served by file_server reads no header). The
	// placeholders are set in every case, and X-Clerk-* headers a client
	// sent are always removed.
	UpstreamHeaders string `json:"upstream_headers,omitempty"`

	// OrganizationSync makes the URL choose the active organization (Clerk's
	// organizationSyncOptions): a signed-in page load whose token has
	// another organization active goes through the handshake that activates
	// the one the URL names. See docs/organization-sync.md.
	OrganizationSync *OrganizationSync `json:"organization_sync,omitempty"`

	// AcceptsToken is Clerk's acceptsToken: the credentials this handler
	// takes. Values: session_token (the default), api_key, m2m_token,
	// oauth_token, or any (alone). One value behaves as Clerk's single
	// string, several as Clerk's array. Machine tokens are read only from
	// the Authorization header. api_key, oauth_token, any and lists need
	// secret_key; m2m_token needs machine_secret_key or secret_key. See
	// docs/machine-auth.md.
	AcceptsToken []string `json:"accepts_token,omitempty"`

	// MachineSecretKey is a machine's secret key (Clerk's
	// machineSecretKey, ak_...): opaque M2M tokens are verified as that
	// machine, so only tokens granted access to it pass. Only with
	// accepts_token m2m_token (or any, or a list with it). Placeholders
	// such as {env.CLERK_MACHINE_SECRET_KEY} are resolved at start.
	MachineSecretKey string `json:"machine_secret_key,omitempty"`

	// MachineCacheTTL is how long a verified machine token (an opaque one
	// the Backend API verified, or a machine JWT) is answered from memory:
	// a revoked API key or M2M token stops working within it. Never past
	// the token's own expiry. 0 turns the cache off: one Backend API call
	// per request, as Clerk's SDK does. Default: 30s.
	MachineCacheTTL *caddy.Duration `json:"machine_cache_ttl,omitempty"`

	// MachineCallRate bounds the Backend API calls that verify machine
	// tokens, per second (in bursts of twice as many): a cached token costs
	// none, and beyond the budget a new token gets 503 without a call, so
	// that a flood of random tokens cannot spend the instance's Backend
	// API rate limit (1,000 requests per 10 s in production, 100 in
	// development, shared with everything using the secret key). Per
	// handler. Default: 50.
	MachineCallRate float64 `json:"machine_call_rate,omitempty"`

	// DisableMetrics stops this handler from counting its decisions in the
	// caddy_clerk_auth_* Prometheus metrics and from registering them.
	DisableMetrics bool `json:"disable_metrics,omitempty"`

	inst *authn.Instance
	keys keys.Provider
	// issuerPerRequest says the expected iss is the relative proxy URL
	// resolved against each request's origin (expectedIssuer), not
	// verify.issuer.
	issuerPerRequest bool
	keyPoolKey       string
	verify           jwt.Options
	sessionParam     string
	optional         bool
	headers          upstreamHeaders
	signInURL        string
	apiURL           string
	api              *clerkapi.Client
	logger           *zap.Logger
	now              func() time.Time
	cache            *tokencache.Cache
	policy           *policy.Policy
	orgSync          *orgsync.Matcher // nil without organization_sync
	users            *users.Lookup
	events           *eventSink
	demo             *demo.Handler // the Clerk stand-in of demo mode (demo.go)
	accepts          machine.Accepts
	machine          *machine.Verifier // nil unless machine tokens are accepted
	// sessionsAccepted: accepts_token takes session tokens (the default),
	// so a signed-out page load may go to sign in.
	sessionsAccepted bool
	// engine is the decision (internal/authn), built from the fields above
	// at Provision.
	engine *authn.Engine
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.clerk_auth",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision resolves the keys and derives the instance's values.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	h.now = time.Now
	if err := h.resolveSettings(); err != nil {
		return err
	}
	if h.Demo {
		if err := h.provisionDemo(); err != nil {
			return err
		}
	}
	// The Backend API client of the handshake nonce exchange.
	h.api = clerkapi.New(h.SecretKey, keys.FetchTimeout)
	if h.PublishableKey != "" {
		inst, err := authn.NewInstance(h.PublishableKey, h.ProxyURL, h.Domain, h.Satellite)
		if err != nil {
			return fmt.Errorf("clerk_auth: publishable_key: %v", err)
		}
		h.inst = inst
	}
	h.apiURL = strings.TrimRight(h.APIURL, "/")
	if h.apiURL == "" {
		h.apiURL = wire.DefaultAPIURL
	}
	h.sessionParam = h.SessionParam
	if h.sessionParam == "" {
		h.sessionParam = "_clerk_session_id"
	}
	h.optional = h.Mode == "optional"
	h.headers, _ = parseUpstreamHeaders(h.UpstreamHeaders)
	h.verify = jwt.Options{AuthorizedParties: h.AuthorizedParties, Audience: h.Audience, Issuer: h.Issuer, Skew: 5 * time.Second}
	if h.ClockSkew != nil {
		h.verify.Skew = time.Duration(*h.ClockSkew)
	}
	if h.verify.Issuer == "" && h.inst != nil {
		h.verify.Issuer = h.inst.Issuer(h.ProxyURL)
		h.issuerPerRequest = h.inst.RelativeProxy()
	}
	switch {
	case h.SignInURL == "off":
	case h.SignInURL != "":
		h.signInURL = h.SignInURL
	case h.inst != nil:
		h.signInURL = h.inst.DefaultSignInURL()
	}
	if err := h.provisionAccepts(); err != nil {
		return err
	}
	if err := h.provisionKeys(); err != nil {
		return err
	}
	if err := h.provisionPolicy(); err != nil {
		return err
	}
	if err := h.provisionOrgSync(); err != nil {
		return err
	}
	cacheSize := tokencache.DefaultSize
	if h.CacheSize != nil {
		cacheSize = *h.CacheSize
	}
	h.cache = tokencache.New(cacheSize)
	h.provisionMachine()
	h.engine = authn.NewEngine(h.engineConfig())
	if !h.DisableMetrics {
		if err := registerMetrics(ctx.GetMetricsRegistry()); err != nil {
			return fmt.Errorf("clerk_auth: metrics: %v", err)
		}
	}
	h.attachEvents(ctx)
	if len(h.AuthorizedParties) == 0 && !h.Demo && h.sessionsAccepted {
		h.logger.Warn("authorized_parties is not set: tokens minted for any origin of this instance are accepted; Clerk recommends setting it")
	}
	if h.Demo {
		h.logger.Warn("demo mode: tokens are verified with the public demo key pair from the repository; anyone can mint them")
	}
	return nil
}

// resolveSettings applies demo mode, the CLERK_* environment variables (when
// no key setting is given, as Clerk's SDKs do) and placeholders.
func (h *Handler) resolveSettings() error {
	noKeys := h.PublishableKey == "" && h.SecretKey == "" && h.JWTKey == "" && h.JWKSURL == ""
	switch {
	case h.Demo:
		if !noKeys {
			return fmt.Errorf("clerk_auth: demo: cannot be combined with publishable_key, secret_key, jwt_key or jwks_url")
		}
		h.PublishableKey, h.JWTKey = demoPublishableKey, demoPublicKeyPEM
	case noKeys:
		h.PublishableKey = os.Getenv("CLERK_PUBLISHABLE_KEY")
		h.SecretKey = os.Getenv("CLERK_SECRET_KEY")
		h.JWTKey = os.Getenv("CLERK_JWT_KEY")
	}
	repl := caddy.NewReplacer()
	for _, f := range []struct {
		name  string
		value *string
	}{
		{"publishable_key", &h.PublishableKey}, {"secret_key", &h.SecretKey}, {"jwt_key", &h.JWTKey},
		{"jwks_url", &h.JWKSURL}, {"api_url", &h.APIURL}, {"issuer", &h.Issuer}, {"proxy_url", &h.ProxyURL},
		{"sign_in_url", &h.SignInURL}, {"domain", &h.Domain}, {"machine_secret_key", &h.MachineSecretKey},
	} {
		if !strings.Contains(*f.value, "{") {
			continue
		}
		v, err := repl.ReplaceOrErr(*f.value, true, true)
		if err != nil {
			// The error names the placeholder, never its value.
			return fmt.Errorf("clerk_auth: %s: %v", f.name, err)
		}
		*f.value = v
	}
	return nil
}

// provisionKeys picks the key source (docs/architecture.md, "Decision: the
// key source"): jwt_key, else an
// explicit jwks_url, else the Backend API JWKS with the secret key, else the
// Frontend API's public JWKS.
func (h *Handler) provisionKeys() error {
	if h.JWTKey != "" {
		pub, err := keys.ParsePEM(h.JWTKey)
		if err != nil {
			return fmt.Errorf("clerk_auth: jwt_key: %v", err)
		}
		h.keys = keys.Static{Key: keys.NewKey("local", "RS256", pub, "jwt_key")}
		return nil
	}
	var jwksURL, secret string
	switch {
	case h.JWKSURL != "":
		jwksURL = h.JWKSURL
		if sameOrigin(jwksURL, h.apiURL) {
			secret = h.SecretKey
		}
	case h.SecretKey != "":
		jwksURL, secret = h.apiURL+"/v1/jwks", h.SecretKey
	case h.inst != nil && h.inst.RelativeProxy():
		return fmt.Errorf("clerk_auth: proxy_url: a path (%q) needs secret_key or jwt_key: the public JWKS behind the proxy has no URL before a request gives the site's origin", h.ProxyURL)
	case h.inst != nil:
		jwksURL = h.inst.FrontendAPIBase() + "/.well-known/jwks.json"
	case h.MachineSecretKey != "":
		// An M2M-only route with a machine secret key: opaque tokens need
		// no key set, and M2M JWTs are refused as Clerk refuses them
		// without one (verifyMachineJwt: "Failed to resolve JWK").
		return nil
	default:
		return fmt.Errorf("clerk_auth: no key to verify tokens with: set publishable_key (and secret_key or jwt_key), or the CLERK_PUBLISHABLE_KEY / CLERK_SECRET_KEY / CLERK_JWT_KEY environment variables, or use demo")
	}
	h.keyPoolKey = remoteKeySetPoolKey(jwksURL, secret)
	val, _, err := remoteKeySetPool.LoadOrNew(h.keyPoolKey, func() (caddy.Destructor, error) {
		return newRemoteKeySet(jwksURL, secret, h.logger), nil
	})
	if err != nil {
		return fmt.Errorf("clerk_auth: key set: %v", err)
	}
	ks := val.(*remoteKeySet)
	ks.Logger.Store(h.logger)
	h.keys = ks
	return nil
}

// provisionPolicy compiles the authorization rules and, when they or
// user_details need it, the Backend API user lookup.
func (h *Handler) provisionPolicy() error {
	p, err := compilePolicy(h.Require, h.DenyImpersonated)
	if err != nil {
		return fmt.Errorf("clerk_auth: %v", err)
	}
	h.policy = p
	if !p.NeedsUser() && h.UserDetails == nil {
		return nil
	}
	if h.SecretKey == "" {
		return fmt.Errorf("clerk_auth: user_details and the email_domain and metadata rules need secret_key (they read the user at the Backend API)")
	}
	var ttl, timeout time.Duration
	if u := h.UserDetails; u != nil {
		ttl, timeout = time.Duration(u.CacheTTL), time.Duration(u.Timeout)
	}
	h.users = users.New(h.apiURL, h.SecretKey, ttl, timeout, func() time.Time { return h.now() }, h.logger)
	return nil
}

func sameOrigin(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && authn.WebOrigin(ua) == authn.WebOrigin(ub)
}

// Validate checks the configuration; every message names the setting.
func (h *Handler) Validate() error {
	if h.Mode != "" && h.Mode != "require" && h.Mode != "optional" {
		return fmt.Errorf("clerk_auth: mode: must be require or optional, not %q", h.Mode)
	}
	if h.ProxyURL != "" {
		if err := checkProxyURL(h.ProxyURL); err != nil {
			return fmt.Errorf("clerk_auth: proxy_url: %v", err)
		}
	}
	for _, aud := range h.Audience {
		if err := checkAudienceValue(aud); err != nil {
			return fmt.Errorf("clerk_auth: audience: %v", err)
		}
	}
	for name, v := range map[string]string{"jwks_url": h.JWKSURL, "api_url": h.APIURL, "issuer": h.Issuer} {
		if v != "" {
			if err := checkAbsoluteURL(v); err != nil {
				return fmt.Errorf("clerk_auth: %s: %v", name, err)
			}
		}
	}
	if h.SignInURL != "" && h.SignInURL != "off" {
		if err := checkSignInURL(h.SignInURL); err != nil {
			return fmt.Errorf("clerk_auth: sign_in_url: %v", err)
		}
	}
	for _, o := range h.AuthorizedParties {
		if err := checkOrigin(o); err != nil {
			return fmt.Errorf("clerk_auth: authorized_parties: %v", err)
		}
	}
	if _, ok := parseUpstreamHeaders(h.UpstreamHeaders); !ok {
		return fmt.Errorf("clerk_auth: upstream_headers: must be identity, all or off, not %q", h.UpstreamHeaders)
	}
	if h.CacheSize != nil && *h.CacheSize < 0 {
		return fmt.Errorf("clerk_auth: cache_size: must not be negative")
	}
	if h.ClockSkew != nil && *h.ClockSkew < 0 {
		return fmt.Errorf("clerk_auth: clock_skew: must not be negative")
	}
	if h.UserDetails != nil {
		if err := checkUserDetails(h.UserDetails); err != nil {
			return fmt.Errorf("clerk_auth: user_details: %v", err)
		}
	}
	if h.Satellite {
		if h.Domain == "" && h.ProxyURL == "" {
			return fmt.Errorf("clerk_auth: is_satellite: needs domain or proxy_url")
		}
		if h.inst != nil && !h.inst.Production() && h.SignInURL == "" {
			return fmt.Errorf("clerk_auth: is_satellite: a development satellite needs sign_in_url (the primary's sign-in page)")
		}
	}
	return nil
}

func checkAbsoluteURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", v)
	}
	return nil
}

// checkProxyURL accepts the proxy URLs @clerk/shared isValidProxyUrl does:
// an absolute http(s) URL, or a path on this site. A path is resolved by
// prefixing the request's origin, so it must be a plain path: no "//" start
// (it reads as another host), no query or fragment.
func checkProxyURL(v string) error {
	if !authn.IsRelativeProxyURL(v) {
		if err := checkAbsoluteURL(v); err != nil {
			return fmt.Errorf("%q is neither an absolute http(s) URL nor a path on this site (/__clerk)", v)
		}
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || strings.HasPrefix(v, "//") || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(v, "?# \\") {
		return fmt.Errorf("%q is not a plain path on this site such as /__clerk (no // start, query or fragment)", v)
	}
	return nil
}

// checkAudienceValue refuses an empty audience: Clerk drops falsy entries
// from the audience list, so an empty one would silently match nothing.
func checkAudienceValue(v string) error {
	if v == "" {
		return fmt.Errorf("an audience must not be empty")
	}
	return nil
}

// checkSignInURL accepts an absolute URL or a path on this site.
func checkSignInURL(v string) error {
	if strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//") {
		if _, err := url.Parse(v); err != nil {
			return fmt.Errorf("%q is not a valid path", v)
		}
		return nil
	}
	return checkAbsoluteURL(v)
}

func checkOrigin(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("%q is not an origin (scheme://host[:port])", v)
	}
	if strings.HasSuffix(v, "/") {
		return fmt.Errorf("%q: an origin has no trailing slash (azp is compared exactly)", v)
	}
	return nil
}

// Cleanup releases this handler's hold on a shared key set.
func (h *Handler) Cleanup() error {
	h.detachEvents()
	if h.keyPoolKey != "" {
		_, err := remoteKeySetPool.Delete(h.keyPoolKey)
		return err
	}
	return nil
}

// engineConfig is the decision's configuration (internal/authn), from
// the fields Provision resolved.
func (h *Handler) engineConfig() authn.Config {
	return authn.Config{
		Instance: h.inst, Keys: h.keys, Verify: h.verify, IssuerPerRequest: h.issuerPerRequest,
		Cache: h.cache, SecretKey: h.SecretKey, API: h.api, APIURL: h.apiURL,
		SessionParam: h.sessionParam, SignInURL: h.signInURL, AuthorizedParties: h.AuthorizedParties,
		AllowPending: h.AllowPending, Satellite: h.Satellite, SatelliteAutoSync: h.SatelliteAutoSync,
		OrgSync: h.orgSync, Logger: h.logger, CacheHit: h.recordCacheHit, CacheMiss: h.recordCacheMiss,
		Accepts: h.accepts, Machine: h.machine,
	}
}

// remoteKeySetPool shares key sets across handlers and config reloads.
var remoteKeySetPool = caddy.NewUsagePool()

// remoteKeySetPoolKey scopes a key set to its URL and credentials: two
// instances never share keys, and the secret itself is not kept as a key.
func remoteKeySetPoolKey(url, secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return url + "|" + hex.EncodeToString(sum[:8])
}

// remoteKeySet is a key set as the pool shares it: the keys, and the event
// sinks of the handlers using it (events.go).
type remoteKeySet struct {
	*keys.Remote
	sinks eventSinks
}

// newRemoteKeySet starts fetching url's keys with the secret key, reporting
// each fetch to metrics and events.
func newRemoteKeySet(url, secretKey string, logger *zap.Logger) *remoteKeySet {
	ks := new(remoteKeySet)
	ks.Remote = keys.NewRemote(url, clerkapi.New(secretKey, keys.FetchTimeout), logger, ks.reportFetch)
	return ks
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)

// UserDetails turns on the lookup of the signed-in user at Clerk's Backend
// API (GET /v1/users/{id}, with the secret key), for what session tokens
// usually lack: primary email and its verification, name, username, public
// metadata. They become placeholders and X-Clerk-User-* request headers.
// Rules that need them (email_domain, metadata) look the user up whether or
// not this is set.
type UserDetails struct {
	// CacheTTL is how long a user's details are reused. Default: 1m.
	// Details are not revoked with the session, so keep this short when
	// rules depend on them.
	CacheTTL caddy.Duration `json:"cache_ttl,omitempty"`

	// Timeout bounds how long a request waits for a lookup. A request that
	// needs the details for a rule is denied when it passes
	// (user-lookup-failed); any other goes on without them. Default: 2s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// Metadata are the public metadata keys published as
	// {http.auth.user.metadata.<key>} and X-Clerk-User-Metadata-<key>.
	Metadata []string `json:"metadata,omitempty"`
}

var metadataKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// checkUserDetails validates the user_details settings.
func checkUserDetails(cfg *UserDetails) error {
	if cfg.CacheTTL < 0 {
		return fmt.Errorf("cache_ttl: must not be negative")
	}
	if cfg.Timeout < 0 {
		return fmt.Errorf("timeout: must not be negative")
	}
	for _, k := range cfg.Metadata {
		if !metadataKeyPattern.MatchString(k) {
			return fmt.Errorf("metadata: %q: a key is letters, digits, '_' and '-'", k)
		}
	}
	return nil
}
