package clerkauth

import (
	"strings"

	"github.com/clerk-edge/clerk_auth/internal/machine"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// reasonDoc explains one reason code in plain words: what happened, and what
// to do about it. The diagnose command prints it and docs/reasons.md is
// generated from it, so the two never disagree.
type reasonDoc struct {
	Code    string
	Meaning string
	Fix     string
}

// reasonCatalog lists every reason clerk_auth can give, in the order of the
// troubleshooting page: the usual ones first, then the browser flows, then
// key and configuration trouble.
var reasonCatalog = []reasonDoc{
	{wire.ReasonSessionTokenAndUATMissing,
		"The request carries no session at all: no Authorization header, no __session cookie and no __client_uat cookie. The visitor is not signed in, or the cookies never reach Caddy.",
		"Sign in first. An API client must send `Authorization: Bearer <token>` with a token from Clerk's `getToken()`. If the browser is signed in, check that the app and Caddy share the cookie's domain (Clerk sets `__session` on the app's domain)."},
	{wire.ReasonSessionTokenExpired + "-refresh-*",
		"The session token has expired. Clerk session tokens live 60 seconds and the browser SDK renews them in the background; the suffix says why clerk_auth did not refresh it: `non-eligible-no-refresh-cookie` (no refresh cookie), `non-eligible-non-get` (not a GET), `missing-api-client` (clerk_auth never refreshes at the Backend API; the handshake does it instead).",
		"Page loads are sent through Clerk's handshake, which renews the token. API calls must fetch a fresh token with `getToken()` right before each request rather than reuse an old one. If fresh tokens are refused too, check the server's clock (NTP) or widen `clock_skew`."},
	{wire.ReasonTokenInvalidAuthorizedParties,
		"The token's `azp` claim (the origin of the page that asked for it) is not one of `authorized_parties`, or the token has no `azp` while `authorized_parties` is set.",
		"Add the frontend's exact origin to `authorized_parties`: scheme, host and port, no trailing slash (`https://app.example.com`, `http://localhost:3000`)."},
	{wire.ReasonTokenInvalidIssuer,
		"The token's `iss` claim is not the Frontend API of the configured instance (or `proxy_url`, or `issuer`). The token was minted by another Clerk instance, typically development tokens against production keys or the reverse.",
		"Use the publishable key of the instance that signs the frontend in (pk_test_ and pk_live_ are different instances). Behind Clerk's proxy, set `proxy_url`. To accept another issuer on purpose, set `issuer`."},
	{wire.ReasonTokenInvalidSignature,
		"The token's signature does not verify with the configured key: it was signed by another instance's key, or altered after it was signed.",
		"Copy `jwt_key` again from the Dashboard (API keys, JWKS Public Key) of the same instance as the publishable key, or drop `jwt_key` to use the instance's JWKS. A token that was edited by hand never verifies."},
	{wire.ReasonJWKKidMismatch,
		"The token names a key id (`kid`) that is not in the instance's key set: it comes from another instance, or Clerk rotated its keys and the new ones are not fetched yet (clerk_auth fetches again at most every 10 seconds).",
		"Check that the publishable key and secret key (or `jwks_url`) belong to the instance that minted the token. After a key rotation it resolves on its own within seconds."},
	{wire.ReasonTokenInvalid,
		"The token is not a well-formed JWT (three base64url parts with JSON inside), has a `typ` other than JWT, or is a machine token on a session route. For a machine token (`accepts_token`): the Backend API does not know it (`API key not found`), it is revoked, expired or inactive, or an M2M JWT has another category than M2M's.",
		"Send the session token itself: the `__session` cookie's value or `getToken()`'s result, whole, without quotes or a second `Bearer`; for a machine token, one that is live, from this instance (docs/machine-auth.md)."},
	{wire.ReasonTokenTypeMismatch,
		"The token is not of a type this route accepts (`accepts_token`, Clerk's `acceptsToken`): on a session route, an OAuth access token, a machine (M2M) token, an API key or a JWT template token; on a machine route, a session token or a machine token of another type.",
		"Send the credential the route takes (a session token is `getToken()` without a template), or add its type to `accepts_token` (docs/machine-auth.md)."},
	{machine.ReasonNoTokenInHeader,
		"The route accepts only one machine token type (`accepts_token api_key`, `m2m_token` or `oauth_token`) and the request has no token in `Authorization` (Clerk's own wording, spaces included).",
		"Send the token as `Authorization: Bearer <token>`: machine tokens are never read from cookies, `x-api-key` or the query."},
	{wire.ReasonMissingScope,
		"A `require scope` rule refused the request: the machine token has none of the scopes listed (a session token has no scopes at all).",
		"Create the API key or token with one of the scopes, or list the scope it has."},
	{wire.ReasonMachineNotAllowed,
		"A `require machine` rule refused the request: the token's machine (an M2M token's subject, or a machine-owned API key's) is not one listed.",
		"Add the machine id (`mch_...`) to the rule, or call with a token of a listed machine."},
	{wire.ReasonSessionPending,
		"The token is valid but the session is pending (`sts: pending`): the user still has tasks to finish, such as choosing an organization. Clerk's SDK treats such a session as signed out.",
		"Let the user finish the session tasks in the frontend, or set `allow_pending` to let pending sessions in."},
	{wire.ReasonSessionIDMismatch,
		"The `_clerk_session_id` query parameter (see `session_param`) names another session than the token's `sid`, or is empty or repeated, or is spelled another way that some server framework reads as the same parameter (after a `;`, percent-encoded, with `.`, `+`, a space or `[]`, in another case). In a multi-session app, the cookie holds the active session's token only.",
		"To act for a session that is not the active one, send that session's token as `Authorization: Bearer` (`session.getToken()`), or switch the active session first."},
	{wire.ReasonOriginMismatch,
		"A state-changing request (POST, PUT, DELETE, ...) authenticated by the cookie came from another origin (`Origin` or `Sec-Fetch-Site: cross-site`): clerk_auth refuses it as cross-site request forgery.",
		"Send cross-origin API calls with `Authorization: Bearer <token>` instead of relying on cookies, or add the calling origin to `authorized_parties`."},
	{wire.ReasonSessionTokenIATBeforeUAT,
		"The session cookie is older than the client state (`__client_uat`): the user signed out or switched sessions in another tab since the token was minted.",
		"Page loads are sent through the handshake, which brings a current token. An API client should fetch a new token with `getToken()`."},
	{wire.ReasonClientUATButNoSessionToken,
		"The browser has Clerk's `__client_uat` cookie but no `__session` cookie: the session token was removed or never set on this domain.",
		"Page loads are sent through the handshake to restore it. If it keeps happening, check that nothing strips the `__session` cookie and that the app and Caddy share its domain."},
	{wire.ReasonSessionTokenButNoClientUAT,
		"The browser has a `__session` cookie but no `__client_uat` cookie, which Clerk's SDK always sets alongside it.",
		"Page loads are sent through the handshake. If it persists, check for a proxy or another app on the domain that drops or overwrites Clerk's cookies."},
	{wire.ReasonSessionTokenNBF,
		"The session token is not valid yet (`nbf` in the future, beyond `clock_skew`).",
		"The server's clock is behind: synchronize it (NTP), or widen `clock_skew`."},
	{wire.ReasonSessionTokenIatInTheFuture,
		"The session token says it was issued in the future (`iat`, beyond `clock_skew`).",
		"The server's clock is behind: synchronize it (NTP), or widen `clock_skew`."},
	{wire.ReasonTokenExpired,
		"The token has expired (its `exp` is past, beyond `clock_skew`). For session tokens clerk_auth reports this as `session-token-expired-refresh-*`.",
		"Use a fresh token; check the server's clock."},
	{wire.ReasonTokenNotActiveYet,
		"The token's `nbf` is in the future. For session tokens clerk_auth reports this as `session-token-nbf`.",
		"Synchronize the server's clock, or widen `clock_skew`."},
	{wire.ReasonTokenIatInTheFuture,
		"The token's `iat` is in the future. For session tokens clerk_auth reports this as `session-token-iat-in-the-future`.",
		"Synchronize the server's clock, or widen `clock_skew`."},
	{wire.ReasonTokenVerificationFailed,
		"The token's claims are malformed (no string `sub`, an `exp`, `nbf` or `iat` that is not a number), its `aud` names none of the configured `audience` values, or its algorithm differs from the one its key is pinned to.",
		"The token was not minted by Clerk for a session, or not for this audience; send a session token meant for this site, or add its `aud` to `audience`. For an M2M or OAuth JWT (`accepts_token`) this is every failed check, expiry and signature included, as in Clerk's SDK; an OAuth token must carry an `aud` naming one of `audience` when it is set."},
	{wire.ReasonTokenInvalidAlgorithm,
		"The token is signed with an algorithm other than RS256, RS384 or RS512.",
		"Clerk signs session tokens with RS256; this token was made elsewhere."},
	// Authorization rules (require ..., deny impersonated): the session is
	// valid, a rule refused it, the answer is 403. The codes are literals so
	// that this list can name them before the rules' constants exist.
	{"missing-role",
		"The user is signed in but their role in the active organization is none of the roles a `require role` rule lists (or no organization is active).",
		"Give the user the role in the Dashboard or with the Backend API, and make sure the frontend made that organization active (`setActive`, `<OrganizationSwitcher />`); a new role shows in the next session token."},
	{"missing-organization",
		"The user is signed in but has no active organization, or not one that a `require org` rule lists (by id or slug).",
		"Let the user choose the organization in the frontend (`setActive`), or add its id or slug to the rule."},
	{"missing-permission",
		"The active organization gives the user none of the permissions a `require permission` rule lists.",
		"Grant the permission to the user's role in the Dashboard; it appears in the next session token."},
	{"missing-feature",
		"None of the features a `require feature` rule lists is in the session token (`fea`).",
		"Enable the feature for the user's or organization's plan in Clerk Billing."},
	{"missing-plan",
		"The user or organization has none of the plans a `require plan` rule lists (`pla` in the session token).",
		"Subscribe to the plan, or list it in the rule."},
	{"user-not-allowed",
		"The user id is not one a `require user` rule lists.",
		"Add the user id (`user_...`) to the rule."},
	{"missing-claim",
		"The session token lacks a claim value a `require claim` rule asks for.",
		"Add the claim to the session token (Dashboard: Sessions, customize session token), or fix the rule's path or value."},
	{"reverification-required",
		"The user has not verified their identity recently enough for a `require verified_within` rule (`fva` in the session token).",
		"Clerk's frontend asks the user to verify again (reverification) when it gets this answer; retry the request afterwards."},
	{"impersonation-denied",
		"The session is an impersonation (`act` claim) and `deny impersonated` refuses those.",
		"Sign in as the user, not through impersonation."},
	{"email-domain-not-allowed",
		"The user's primary email address is not in a domain a `require email_domain` rule lists.",
		"Add the domain to the rule, or have the user make an address in that domain primary."},
	{"missing-metadata",
		"The user's public metadata lacks a value a `require metadata` rule asks for.",
		"Set the public metadata on the user (Dashboard or Backend API)."},
	{"organization-not-from-url",
		"The user is signed in but the active organization is not the one the URL names (`organization_sync`), as a `require org_from_url` rule asks; on a personal account URL, an organization is active. Page loads first go through the handshake that switches organizations; this answer comes after three tries failed (the organization does not exist, or the user is not a member), or for a request that is not a page load.",
		"Check the organization id or slug in the URL and that the user is a member. An API client must switch the active organization itself (`setActive`) before calling, or send a token of that organization."},
	{"user-lookup-failed",
		"A rule needs the user's details from Clerk's Backend API, which did not give them in time; the rule denies rather than guess.",
		"Check that Caddy reaches the Backend API and that `secret_key` is right; requests that need no such rule are not affected."},
	{wire.ReasonDevBrowserMissing,
		"Development instance: the browser has no dev-browser token (`__clerk_db_jwt`), which development instances use instead of third-party cookies.",
		"Page loads are sent through the handshake, which creates one. If it loops, make sure the Clerk frontend SDK runs on the page and that `__clerk_db_jwt` is not stripped."},
	{wire.ReasonDevBrowserSync,
		"Development instance: the URL carries `__clerk_db_jwt` after a redirect, and the handshake stores it as a cookie.",
		"Nothing to do: the next page load carries the cookie."},
	{wire.ReasonSatelliteNeedsSyncing,
		"Satellite domain: the browser has not synchronized its session with the primary domain yet.",
		"Nothing to do for page loads: they are redirected to the primary domain and back. Check `domain`, `is_satellite` and, for development, `sign_in_url`."},
	{wire.ReasonPrimaryRespondsToSyncing,
		"Development primary domain: a satellite asked this site for the session (`__clerk_redirect_url`), and it sends the browser back.",
		"Nothing to do."},
	{wire.ReasonActiveOrganizationMismatch,
		"`organization_sync`: the URL names another organization (or the personal account) than the one active in the session token, so the page load goes through Clerk's handshake, which activates it. Organization sync never signs anyone out: a request that is not a page load goes on with the token's organization.",
		"Nothing to do: one redirect, then the page. If it repeats three times, the organization in the URL does not exist or the user is not a member; the page is then served with the current organization."},
	{wire.ReasonPrimaryDomainCrossOriginSync,
		"The page was opened from another site (a cross-origin `Referer`), so Clerk checks the session once through the handshake before the page loads.",
		"Nothing to do: one redirect, then the page."},
	{wire.ReasonJWKRemoteFailedToLoad,
		"The instance's key set (JWKS) could not be fetched: the endpoint is unreachable, answered with an error, or sent something that is not a key set; and no earlier keys are held.",
		"Check that Caddy reaches the JWKS URL (`jwks_url`, the Backend API, or the Frontend API), or set `jwt_key` to verify without the network."},
	{wire.ReasonSecretKeyInvalid,
		"The Backend API refused the secret key while fetching the key set, or the key (`secret_key`, or `machine_secret_key` for M2M tokens) that verifies machine tokens.",
		"Copy `secret_key` (or `machine_secret_key`) again from the Dashboard of the same instance as the publishable key."},
	{wire.ReasonJWKFailedToResolve,
		"No key is configured to verify tokens with.",
		"Set `publishable_key` with `secret_key` or `jwt_key` (or the CLERK_* environment variables)."},
	{wire.ReasonJWKLocalMissing,
		"No local key is configured.",
		"Set `jwt_key`."},
	{wire.ReasonSessionTokenMissing,
		"No session token was found.",
		"Sign in, or send `Authorization: Bearer <token>`."},
	{wire.ReasonUnexpectedError,
		"Something failed that is not about the token itself; for a machine token, the Backend API could not verify it (down, slow, 429 or 5xx, an answer that cannot be read, or the handler's budget of verify calls spent): the response is 503 with `Retry-After`.",
		"Look at Caddy's log (warn level) for the detail; retry later. A flood of unknown tokens spends the call budget (docs/machine-auth.md)."},
}

var reasonIndex = func() map[string]reasonDoc {
	m := make(map[string]reasonDoc, len(reasonCatalog))
	for _, r := range reasonCatalog {
		m[r.Code] = r
	}
	return m
}()

// explainReason returns the plain-words explanation of a reason code; the
// session-token-expired-refresh-<why> family shares one entry.
func explainReason(code string) (reasonDoc, bool) {
	if strings.HasPrefix(code, wire.ReasonSessionTokenExpired+"-refresh-") {
		code = wire.ReasonSessionTokenExpired + "-refresh-*"
	}
	r, ok := reasonIndex[code]
	return r, ok
}
