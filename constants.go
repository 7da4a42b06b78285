package clerkauth

import "time"

// Clerk's vocabulary, verbatim from @clerk/backend 3.x (constants.ts, errors.ts,
// tokens/authStatus.ts, tokens/request.ts). Users look these strings up in
// Clerk's docs, so they must never be renamed.

// Token verification reasons (TokenVerificationErrorReason).
const (
	reasonTokenExpired                  = "token-expired"
	reasonTokenInvalid                  = "token-invalid"
	reasonTokenInvalidAlgorithm         = "token-invalid-algorithm"
	reasonTokenInvalidAuthorizedParties = "token-invalid-authorized-parties"
	reasonTokenInvalidIssuer            = "token-invalid-issuer"
	reasonTokenInvalidSignature         = "token-invalid-signature"
	reasonTokenNotActiveYet             = "token-not-active-yet"
	reasonTokenIatInTheFuture           = "token-iat-in-the-future"
	reasonTokenVerificationFailed       = "token-verification-failed"
	reasonSecretKeyInvalid              = "secret-key-invalid"
	reasonJWKLocalMissing               = "jwk-local-missing"
	reasonJWKRemoteFailedToLoad         = "jwk-remote-failed-to-load"
	reasonJWKFailedToResolve            = "jwk-failed-to-resolve"
	reasonJWKKidMismatch                = "jwk-kid-mismatch"
)

// Request-level reasons (AuthErrorReason).
const (
	reasonClientUATButNoSessionToken   = "client-uat-but-no-session-token"
	reasonDevBrowserMissing            = "dev-browser-missing"
	reasonDevBrowserSync               = "dev-browser-sync"
	reasonPrimaryRespondsToSyncing     = "primary-responds-to-syncing"
	reasonPrimaryDomainCrossOriginSync = "primary-domain-cross-origin-sync"
	reasonSatelliteNeedsSyncing        = "satellite-needs-syncing"
	reasonSessionTokenAndUATMissing    = "session-token-and-uat-missing"
	reasonSessionTokenMissing          = "session-token-missing"
	reasonSessionTokenExpired          = "session-token-expired"
	reasonSessionTokenIATBeforeUAT     = "session-token-iat-before-client-uat"
	reasonSessionTokenNBF              = "session-token-nbf"
	reasonSessionTokenIatInTheFuture   = "session-token-iat-in-the-future"
	reasonSessionTokenButNoClientUAT   = "session-token-but-no-client-uat"
	reasonTokenTypeMismatch            = "token-type-mismatch"
	reasonUnexpectedError              = "unexpected-error"

	// reasonActiveOrganizationMismatch: organization sync's handshake
	// (handleMaybeOrganizationSyncHandshake, orgsync.go).
	reasonActiveOrganizationMismatch = "active-organization-mismatch"
)

// Refresh reasons, used as the suffix of session-token-expired-refresh-<x>.
const (
	refreshNonEligibleNoCookie = "non-eligible-no-refresh-cookie"
	refreshNonEligibleNonGet   = "non-eligible-non-get"
	refreshMissingAPIClient    = "missing-api-client"
)

// Reasons of our own (decisions A.4 to A.6 of the reference, and policy
// failures). Same kebab-case style as Clerk's.
const (
	reasonSessionIDMismatch = "session-id-mismatch"
	reasonOriginMismatch    = "origin-mismatch"
	reasonSessionPending    = "session-pending"
)

// Authorization reasons of our own: a signed-in session that fails a rule
// (403). One per rule kind, same style.
const (
	reasonMissingOrganization    = "missing-organization"
	reasonMissingRole            = "missing-role"
	reasonMissingPermission      = "missing-permission"
	reasonMissingFeature         = "missing-feature"
	reasonMissingPlan            = "missing-plan"
	reasonUserNotAllowed         = "user-not-allowed"
	reasonMissingClaim           = "missing-claim"
	reasonReverificationRequired = "reverification-required"
	reasonImpersonationDenied    = "impersonation-denied"
	reasonEmailDomainNotAllowed  = "email-domain-not-allowed"
	reasonMissingMetadata        = "missing-metadata"
	// reasonOrganizationNotFromURL: require org_from_url (orgsync.go).
	reasonOrganizationNotFromURL = "organization-not-from-url"
	// reasonUserLookupFailed: a rule needs the user's details and the
	// Backend API did not give them in time.
	reasonUserLookupFailed = "user-lookup-failed"
)

// reverificationErrorReason is clerk_error.reason of Clerk's reverification
// hint (@clerk/shared authorization-errors.ts), which its frontend detects.
const reverificationErrorReason = "reverification-error"

// Cookie names.
const (
	cookieSession        = "__session"
	cookieClientUAT      = "__client_uat"
	cookieRefresh        = "__refresh"
	cookieHandshake      = "__clerk_handshake"
	cookieHandshakeNonce = "__clerk_handshake_nonce"
	cookieDevBrowser     = "__clerk_db_jwt"
	cookieRedirectCount  = "__clerk_redirect_count"
)

// Query parameters.
const (
	queryHandshake        = "__clerk_handshake"
	queryHandshakeNonce   = "__clerk_handshake_nonce"
	queryHandshakeHelp    = "__clerk_help"
	queryDevBrowser       = "__clerk_db_jwt"
	queryLegacyDevBrowser = "__dev_session"
	querySynced           = "__clerk_synced"
	queryClerkRedirectURL = "__clerk_redirect_url"
	queryRedirectURL      = "redirect_url"
	queryHandshakeReason  = "__clerk_hs_reason"
	queryHandshakeFormat  = "format"
	querySuffixedCookies  = "suffixed_cookies"
	querySession          = "__session"
	queryAPIVersion       = "__clerk_api_version"
)

// Response and request headers.
const (
	headerAuthStatus  = "X-Clerk-Auth-Status"
	headerAuthReason  = "X-Clerk-Auth-Reason"
	headerAuthMessage = "X-Clerk-Auth-Message"

	// Identity headers we set for upstreams; any the client sent are removed.
	headerUserID    = "X-Clerk-User-Id"
	headerSessionID = "X-Clerk-Session-Id"
	headerOrgID     = "X-Clerk-Org-Id"
	headerOrgRole   = "X-Clerk-Org-Role"
	headerOrgSlug   = "X-Clerk-Org-Slug"
	headerActorID   = "X-Clerk-Actor-Id"

	// Request headers whose values name other headers: reverse_proxy
	// deletes what Connection names (hop-by-hop), Proxy-Connection is its
	// old spelling, and Trailer announces trailers.
	headerConnection      = "Connection"
	headerProxyConnection = "Proxy-Connection"
	headerTrailer         = "Trailer"
	headerUpgrade         = "Upgrade"

	// Organization and billing claims.
	headerOrgPermissions = "X-Clerk-Org-Permissions"
	headerPlan           = "X-Clerk-Plan"
	headerFeatures       = "X-Clerk-Features"

	// User details from the Backend API (user_details).
	headerUserEmail         = "X-Clerk-User-Email"
	headerUserEmailVerified = "X-Clerk-User-Email-Verified"
	headerUserFirstName     = "X-Clerk-User-First-Name"
	headerUserLastName      = "X-Clerk-User-Last-Name"
	headerUserUsername      = "X-Clerk-User-Username"
	// headerUserMetadataPrefix + key, for each public metadata key asked for.
	headerUserMetadataPrefix = "X-Clerk-User-Metadata-"
)

// msgKeysNotLoaded is the X-Clerk-Auth-Message of every failure to load the
// key set: a client learns the reason code and this, never where the keys
// are fetched from or why it failed (that goes to the log).
const msgKeysNotLoaded = "The instance's key set could not be loaded."

// minRSAExponent is the smallest public exponent a verification key may
// have (Clerk's keys use 65537); smaller or even ones are refused at load.
const minRSAExponent = 65537

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

// Auth statuses, as Clerk names them.
const (
	statusSignedIn  = "signed-in"
	statusSignedOut = "signed-out"
	statusHandshake = "handshake"
)

// Token categories in the protected header (tokens/jwtCategories.ts).
const (
	jwtCategorySession = "cl_B7d4PD111AAA"
	jwtCategoryM2M     = "cl_B7d4PD333AAA"
	jwtCategoryIgnore  = "cl_I7d4PD111III"
)

// clerkAPIVersion is the Backend API version @clerk/backend 3.25 speaks; it is
// sent on JWKS fetches and in the handshake URL.
const clerkAPIVersion = "2026-05-12"

const defaultAPIURL = "https://api.clerk.com"
