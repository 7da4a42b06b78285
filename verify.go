package clerkauth

import (
	"context"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/session"
	"github.com/clerk-edge/clerk_auth/internal/tokencache"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// verifySession is verifyToken: the M2M category, the key, the signature,
// then the claims. Every error path returns a jwt.Error. It checks the
// handler's configured issuer; a request's token goes through
// verifyRequestSession, which also knows the issuer of a relative proxy URL.
func (h *Handler) verifySession(ctx context.Context, d *tokencache.Token, now time.Time) (*session.Session, *jwt.Error) {
	return h.verifySessionWithSkew(ctx, d, now, h.verify.Skew, h.verify.Issuer, nil)
}

// verifyRequestSession is verifySession for the token of request a, with
// the issuer expected for it. What it learns of the key is left in a.key,
// and the token in a.verified: the outcome carries them.
func (h *Handler) verifyRequestSession(ctx context.Context, a *authRequest, d *tokencache.Token, skew time.Duration) (*session.Session, *jwt.Error) {
	a.key, a.verified = keyUse{}, d.Raw
	return h.verifySessionWithSkew(ctx, d, a.now, skew, h.expectedIssuer(a), &a.key)
}

// expectedIssuer is the iss a's token must carry: the configured or
// derived issuer, or, with a relative proxy URL, that path resolved against
// the request's origin as @clerk/backend resolves the proxy URL
// (authenticateContext.ts).
func (h *Handler) expectedIssuer(a *authRequest) string {
	if h.issuerPerRequest {
		return h.inst.frontendAPIFor(webOrigin(&a.clerkURL))
	}
	return h.verify.Issuer
}

// errNoRequestIssuer: a relative proxy URL's issuer needs a request.
var errNoRequestIssuer = &jwt.Error{Reason: wire.ReasonTokenInvalidIssuer, Message: "Invalid JWT issuer claim (iss): the proxy URL is a path and there is no request to resolve it against."}

// verifySessionWithSkew notes in ku, unless it is nil, the key it used, or
// the kid it asked for and the key source's error.
func (h *Handler) verifySessionWithSkew(ctx context.Context, d *tokencache.Token, now time.Time, skew time.Duration, issuer string, ku *keyUse) (*session.Session, *jwt.Error) {
	if h.issuerPerRequest && issuer == "" {
		return nil, errNoRequestIssuer
	}
	if d.Verified {
		e := d.Entry
		if h.keyStillHeld(e.Key) {
			// Everything but iss and the time claims was decided by this
			// handler with this key, and its options (audience, authorized
			// parties) are fixed for its life, as is its cache: only the
			// clock can have changed, and, with a relative proxy URL, the
			// issuer, which depends on the request's origin.
			if h.issuerPerRequest && d.Claims[jwt.ClaimIss].AsString() != issuer {
				return nil, jwt.IssuerMismatch(issuer)
			}
			if ku != nil {
				ku.key = e.Key
			}
			if err := jwt.VerifyTimeClaims(&d.Claims, skew, now); err != nil {
				if err == jwt.ErrExpired {
					h.cache.Remove(e)
				}
				return nil, err
			}
			return &e.Session, nil
		}
		h.cache.Remove(e)
		if d, _ = tokencache.Decode(d.Raw); d == nil {
			return nil, jwt.ErrDecode
		}
	}
	if cat, _ := d.Cat(); cat == wire.JWTCategoryM2M {
		return nil, &jwt.Error{Reason: wire.ReasonTokenInvalid, Message: "Invalid session token category."}
	}
	if h.keys == nil {
		return nil, &jwt.Error{Reason: wire.ReasonJWKFailedToResolve, Message: "Failed to resolve JWK during verification."}
	}
	key, kerr := h.keys.KeyFor(ctx, d.Kid())
	if ku != nil {
		*ku = keyUse{kid: d.Kid(), key: key, err: kerr}
	}
	if kerr != nil {
		return nil, kerr
	}
	if err := key.Verify(&d.Token); err != nil {
		return nil, err
	}
	opts := h.verify
	opts.Skew, opts.Issuer = skew, issuer
	if err := jwt.VerifyClaims(&d.Claims, &opts, now); err != nil {
		return nil, err
	}
	if h.cache != nil && h.keyStillHeld(key) {
		e := tokencache.Complete(d, key)
		h.cache.Put(e, now, skew)
		return &e.Session, nil
	}
	return session.New(&d.Claims, d.Payload), nil
}

// parseToken decodes token once per request, and not at all when it has
// verified before: then the cache has it decoded.
func (h *Handler) parseToken(a *authRequest, token string) (*tokencache.Token, *jwt.Error) {
	for i := range a.parsed {
		if p := &a.parsed[i]; p.token == token && (p.d != nil || p.err != nil) {
			return p.d, p.err
		}
	}
	var p parsedToken
	p.token = token
	if e := h.cache.Get(token); e != nil {
		p.d = &e.JWT
		h.recordCacheHit()
	} else {
		if h.cache != nil {
			h.recordCacheMiss()
		}
		p.d, p.err = tokencache.Decode(token)
	}
	if a.parsed[0].token == "" {
		a.parsed[0] = p
	} else {
		a.parsed[1] = p
	}
	return p.d, p.err
}

// keyStillHeld tells whether the key source still has key: what a key that
// left the set verified is not served from the cache.
func (h *Handler) keyStillHeld(key *keys.Key) bool {
	kh, ok := h.keys.(keys.Holder)
	return ok && kh.Holds(key)
}
