// Package wire holds Clerk's names, verbatim from @clerk/backend 3.x
// (constants.ts, errors.ts, tokens/authStatus.ts, tokens/request.ts): reason
// codes, cookie names, query parameters, header names, auth statuses, token
// categories and the Backend API version. Users look these strings up in
// Clerk's docs, so they must never be renamed. It imports nothing of ours.
package wire

// Token verification reasons (TokenVerificationErrorReason).
const (
	ReasonTokenExpired                  = "token-expired"
	ReasonTokenInvalid                  = "token-invalid"
	ReasonTokenInvalidAlgorithm         = "token-invalid-algorithm"
	ReasonTokenInvalidAuthorizedParties = "token-invalid-authorized-parties"
	ReasonTokenInvalidIssuer            = "token-invalid-issuer"
	ReasonTokenInvalidSignature         = "token-invalid-signature"
	ReasonTokenNotActiveYet             = "token-not-active-yet"
	ReasonTokenIatInTheFuture           = "token-iat-in-the-future"
	ReasonTokenVerificationFailed       = "token-verification-failed"
	ReasonSecretKeyInvalid              = "secret-key-invalid"
	ReasonJWKLocalMissing               = "jwk-local-missing"
	ReasonJWKRemoteFailedToLoad         = "jwk-remote-failed-to-load"
	ReasonJWKFailedToResolve            = "jwk-failed-to-resolve"
	ReasonJWKKidMismatch                = "jwk-kid-mismatch"
)

// Request-level reasons (AuthErrorReason).
const (
	ReasonClientUATButNoSessionToken   = "client-uat-but-no-session-token"
	ReasonDevBrowserMissing            = "dev-browser-missing"
	ReasonDevBrowserSync               = "dev-browser-sync"
	ReasonPrimaryRespondsToSyncing     = "primary-responds-to-syncing"
	ReasonPrimaryDomainCrossOriginSync = "primary-domain-cross-origin-sync"
	ReasonSatelliteNeedsSyncing        = "satellite-needs-syncing"
	ReasonSessionTokenAndUATMissing    = "session-token-and-uat-missing"
	ReasonSessionTokenMissing          = "session-token-missing"
	ReasonSessionTokenExpired          = "session-token-expired"
	ReasonSessionTokenIATBeforeUAT     = "session-token-iat-before-client-uat"
	ReasonSessionTokenNBF              = "session-token-nbf"
	ReasonSessionTokenIatInTheFuture   = "session-token-iat-in-the-future"
	ReasonSessionTokenButNoClientUAT   = "session-token-but-no-client-uat"
	ReasonTokenTypeMismatch            = "token-type-mismatch"
	ReasonUnexpectedError              = "unexpected-error"

	// ReasonActiveOrganizationMismatch: organization sync's handshake
	// (handleMaybeOrganizationSyncHandshake of @clerk/backend's request.ts).
	ReasonActiveOrganizationMismatch = "active-organization-mismatch"
)

// Refresh reasons, used as the suffix of session-token-expired-refresh-<x>.
const (
	RefreshNonEligibleNoCookie = "non-eligible-no-refresh-cookie"
	RefreshNonEligibleNonGet   = "non-eligible-non-get"
	RefreshMissingAPIClient    = "missing-api-client"
)

// Reasons of our own (see docs/architecture.md, "Where we add checks", and policy
// failures). Same kebab-case style as Clerk's.
const (
	ReasonSessionIDMismatch = "session-id-mismatch"
	ReasonOriginMismatch    = "origin-mismatch"
	ReasonSessionPending    = "session-pending"
)

// Authorization reasons of our own: a signed-in session that fails a rule
// (403). One per rule kind, same style.
const (
	ReasonMissingOrganization    = "missing-organization"
	ReasonMissingRole            = "missing-role"
	ReasonMissingPermission      = "missing-permission"
	ReasonMissingFeature         = "missing-feature"
	ReasonMissingPlan            = "missing-plan"
	ReasonUserNotAllowed         = "user-not-allowed"
	ReasonMissingClaim           = "missing-claim"
	ReasonReverificationRequired = "reverification-required"
	ReasonImpersonationDenied    = "impersonation-denied"
	ReasonEmailDomainNotAllowed  = "email-domain-not-allowed"
	ReasonMissingMetadata        = "missing-metadata"
	// ReasonOrganizationNotFromURL: require org_from_url (orgsync.go).
	ReasonOrganizationNotFromURL = "organization-not-from-url"
	// ReasonMissingScope: require scope (a machine token without any of
	// the scopes, or a session, which has none).
	ReasonMissingScope = "missing-scope"
	// ReasonMachineNotAllowed: require machine (the principal is not one
	// of the machines listed).
	ReasonMachineNotAllowed = "machine-not-allowed"
	// ReasonUserLookupFailed: a rule needs the user's details and the
	// Backend API did not give them in time.
	ReasonUserLookupFailed = "user-lookup-failed"
)

// ReverificationErrorReason is clerk_error.reason of Clerk's reverification
// hint (@clerk/shared authorization-errors.ts), which its frontend detects.
const ReverificationErrorReason = "reverification-error"

// Cookie names.
const (
	CookieSession        = "__session"
	CookieClientUAT      = "__client_uat"
	CookieRefresh        = "__refresh"
	CookieHandshake      = "__clerk_handshake"
	CookieHandshakeNonce = "__clerk_handshake_nonce"
	CookieDevBrowser     = "__clerk_db_jwt"
	CookieRedirectCount  = "__clerk_redirect_count"
)

// Query parameters.
const (
	QueryHandshake        = "__clerk_handshake"
	QueryHandshakeNonce   = "__clerk_handshake_nonce"
	QueryHandshakeHelp    = "__clerk_help"
	QueryDevBrowser       = "__clerk_db_jwt"
	QueryLegacyDevBrowser = "__dev_session"
	QuerySynced           = "__clerk_synced"
	QueryClerkRedirectURL = "__clerk_redirect_url"
	QueryRedirectURL      = "redirect_url"
	QueryHandshakeReason  = "__clerk_hs_reason"
	QueryHandshakeFormat  = "format"
	QuerySuffixedCookies  = "suffixed_cookies"
	QuerySession          = "__session"
	QueryAPIVersion       = "__clerk_api_version"
)

// Response and request headers.
const (
	HeaderAuthStatus  = "X-Clerk-Auth-Status"
	HeaderAuthReason  = "X-Clerk-Auth-Reason"
	HeaderAuthMessage = "X-Clerk-Auth-Message"

	// Identity headers we set for upstreams; any the client sent are removed.
	HeaderUserID    = "X-Clerk-User-Id"
	HeaderSessionID = "X-Clerk-Session-Id"
	HeaderOrgID     = "X-Clerk-Org-Id"
	HeaderOrgRole   = "X-Clerk-Org-Role"
	HeaderOrgSlug   = "X-Clerk-Org-Slug"
	HeaderActorID   = "X-Clerk-Actor-Id"

	// Machine tokens' headers (docs/machine-auth.md). X-Clerk-User-Id
	// carries only ever a user id: a machine or an organization is named
	// here, never there.
	HeaderTokenType  = "X-Clerk-Token-Type"
	HeaderSubject    = "X-Clerk-Subject"
	HeaderMachineID  = "X-Clerk-Machine-Id"
	HeaderTokenID    = "X-Clerk-Token-Id"
	HeaderScopes     = "X-Clerk-Scopes"
	HeaderAPIKeyName = "X-Clerk-Api-Key-Name"
	HeaderClientID   = "X-Clerk-Client-Id"

	// Request headers whose values name other headers: reverse_proxy
	// deletes what Connection names (hop-by-hop), Proxy-Connection is its
	// old spelling, and Trailer announces trailers.
	HeaderConnection      = "Connection"
	HeaderProxyConnection = "Proxy-Connection"
	HeaderTrailer         = "Trailer"
	HeaderUpgrade         = "Upgrade"

	// Organization and billing claims.
	HeaderOrgPermissions = "X-Clerk-Org-Permissions"
	HeaderPlan           = "X-Clerk-Plan"
	HeaderFeatures       = "X-Clerk-Features"

	// User details from the Backend API (user_details).
	HeaderUserEmail         = "X-Clerk-User-Email"
	HeaderUserEmailVerified = "X-Clerk-User-Email-Verified"
	HeaderUserFirstName     = "X-Clerk-User-First-Name"
	HeaderUserLastName      = "X-Clerk-User-Last-Name"
	HeaderUserUsername      = "X-Clerk-User-Username"
	// HeaderUserMetadataPrefix + key, for each public metadata key asked for.
	HeaderUserMetadataPrefix = "X-Clerk-User-Metadata-"
)

// Auth statuses, as Clerk names them.
const (
	StatusSignedIn  = "signed-in"
	StatusSignedOut = "signed-out"
	StatusHandshake = "handshake"
)

// Token categories in the protected header (tokens/jwtCategories.ts).
const (
	JWTCategorySession = "cl_B7d4PD111AAA"
	JWTCategoryM2M     = "cl_B7d4PD333AAA"
	JWTCategoryIgnore  = "cl_I7d4PD111III"
)

// APIVersion is the Backend API version @clerk/backend 3.25 speaks; it is
// sent on JWKS fetches and in the handshake URL.
const APIVersion = "2026-05-12"

// DefaultAPIURL is the Backend API a handler talks to unless api_url says otherwise.
const DefaultAPIURL = "https://api.clerk.com"
