// Package authn is Clerk's authenticateRequest (@clerk/backend 3.25,
// src/tokens/request.ts) for one HTTP request: the request's token sources,
// the header and cookie paths, verification with the token cache, the
// handshake (URL and return leg), multi-domain sync, the loop guard and
// organization sync's handshake, ending in one Outcome
// (docs/architecture.md, "The request path"). It knows nothing of Caddy:
// the root package builds an Engine from its configuration at Provision and
// calls it from ServeHTTP.
package authn

import (
	"github.com/clerk-edge/clerk_auth/internal/clerkapi"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/machine"
	"github.com/clerk-edge/clerk_auth/internal/orgsync"
	"github.com/clerk-edge/clerk_auth/internal/tokencache"
	"go.uber.org/zap"
)

// Config is what the decision needs of the module's configuration, already
// resolved (defaults applied, the issuer derived): see the root's
// Provision, module.go.
type Config struct {
	// Instance is what the publishable key says; nil without one.
	Instance *Instance
	// Keys verify session and handshake tokens; nil means none resolve.
	Keys keys.Provider
	// Verify are the claim checks; Verify.Issuer is the expected iss unless
	// IssuerPerRequest (a relative proxy URL, resolved per request).
	Verify           jwt.Options
	IssuerPerRequest bool
	// Cache is the verified-token cache; nil turns it off.
	Cache *tokencache.Cache
	// SecretKey turns the nonce handshake on; API and APIURL exchange the
	// nonces at the Backend API.
	SecretKey string
	API       *clerkapi.Client
	APIURL    string
	// SessionParam is the query parameter naming the session
	// (_clerk_session_id).
	SessionParam string
	// SignInURL is where signed-out page loads go ("" for none).
	SignInURL         string
	AuthorizedParties []string
	AllowPending      bool
	Satellite         bool
	SatelliteAutoSync bool
	// OrgSync is organization_sync's matcher; nil without it.
	OrgSync *orgsync.Matcher
	Logger  *zap.Logger
	// CacheHit and CacheMiss, when set, count the token cache's answers
	// (the root's metrics).
	CacheHit, CacheMiss func()
	// Accepts is acceptsToken (the zero value: session_token only).
	Accepts machine.Accepts
	// Machine verifies opaque machine tokens and remembers verified
	// machine JWTs; nil verifies JWTs without memory and refuses opaque
	// tokens (the configuration requires it when an opaque kind is
	// accepted).
	Machine *machine.Verifier
}

// Engine decides on requests with one Config. It is safe for concurrent
// use; its per-request state is a Request, which the caller owns.
type Engine struct {
	inst              *Instance
	keys              keys.Provider
	verify            jwt.Options
	issuerPerRequest  bool
	cache             *tokencache.Cache
	secretKey         string
	api               *clerkapi.Client
	apiURL            string
	sessionParam      string
	signInURL         string
	authorizedParties []string
	allowPending      bool
	satellite         bool
	satelliteAutoSync bool
	orgSync           *orgsync.Matcher
	logger            *zap.Logger
	onCacheHit        func()
	onCacheMiss       func()
	// nonces bounds the handshake nonce exchanges (handshake.go).
	nonces  *nonceLimiter
	accepts machine.Accepts
	machine *machine.Verifier
	// dispatchAccepts: acceptsToken is not the default, so requests go
	// through its dispatch (authenticateAccepting).
	dispatchAccepts bool
}

// NewEngine is an Engine for c.
func NewEngine(c Config) *Engine {
	e := &Engine{
		inst: c.Instance, keys: c.Keys, verify: c.Verify, issuerPerRequest: c.IssuerPerRequest,
		cache: c.Cache, secretKey: c.SecretKey, api: c.API, apiURL: c.APIURL,
		sessionParam: c.SessionParam, signInURL: c.SignInURL, authorizedParties: c.AuthorizedParties,
		allowPending: c.AllowPending, satellite: c.Satellite, satelliteAutoSync: c.SatelliteAutoSync,
		orgSync: c.OrgSync, logger: c.Logger, onCacheHit: c.CacheHit, onCacheMiss: c.CacheMiss,
		nonces: newNonceLimiter(), accepts: c.Accepts, machine: c.Machine, dispatchAccepts: acceptsMachine(c.Accepts),
	}
	if e.logger == nil {
		e.logger = zap.NewNop()
	}
	return e
}

func (e *Engine) isDevelopment() bool { return e.inst != nil && !e.inst.production }

func (e *Engine) cacheHit() {
	if e.onCacheHit != nil {
		e.onCacheHit()
	}
}

func (e *Engine) cacheMiss() {
	if e.onCacheMiss != nil {
		e.onCacheMiss()
	}
}
