package authn

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
func (e *Engine) verifySession(ctx context.Context, d *tokencache.Token, now time.Time) (*session.Session, *jwt.Error) {
	return e.verifySessionWithSkew(ctx, d, now, e.verify.Skew, e.verify.Issuer, nil)
}

// verifyRequestSession is verifySession for the token of request a, with
// the issuer expected for it. What it learns of the key is left in a.key,
// and the token in a.verified: the outcome carries them.
func (e *Engine) verifyRequestSession(ctx context.Context, a *Request, d *tokencache.Token, skew time.Duration) (*session.Session, *jwt.Error) {
	a.key, a.verified = KeyUse{}, d.Raw
	return e.verifySessionWithSkew(ctx, d, a.now, skew, e.expectedIssuer(a), &a.key)
}

// expectedIssuer is the iss a's token must carry: the configured or
// derived issuer, or, with a relative proxy URL, that path resolved against
// the request's origin as @clerk/backend resolves the proxy URL
// (authenticateContext.ts).
func (e *Engine) expectedIssuer(a *Request) string {
	if e.issuerPerRequest {
		return e.inst.frontendAPIFor(webOrigin(&a.clerkURL))
	}
	return e.verify.Issuer
}

// errNoRequestIssuer: a relative proxy URL's issuer needs a request.
var errNoRequestIssuer = &jwt.Error{Reason: wire.ReasonTokenInvalidIssuer, Message: "Invalid JWT issuer claim (iss): the proxy URL is a path and there is no request to resolve it against."}

// verifySessionWithSkew notes in ku, unless it is nil, the key it used, or
// the kid it asked for and the key source's error.
func (e *Engine) verifySessionWithSkew(ctx context.Context, d *tokencache.Token, now time.Time, skew time.Duration, issuer string, ku *KeyUse) (*session.Session, *jwt.Error) {
	if e.issuerPerRequest && issuer == "" {
		return nil, errNoRequestIssuer
	}
	if d.Verified {
		ent := d.Entry
		if e.keyStillHeld(ent.Key) {
			// Everything but iss and the time claims was decided by this
			// handler with this key, and its options (audience, authorized
			// parties) are fixed for its life, as is its cache: only the
			// clock can have changed, and, with a relative proxy URL, the
			// issuer, which depends on the request's origin.
			if e.issuerPerRequest && d.Claims[jwt.ClaimIss].AsString() != issuer {
				return nil, jwt.IssuerMismatch(issuer)
			}
			if ku != nil {
				ku.Key = ent.Key
			}
			if err := jwt.VerifyTimeClaims(&d.Claims, skew, now); err != nil {
				if err == jwt.ErrExpired {
					e.cache.Remove(ent)
				}
				return nil, err
			}
			return &ent.Session, nil
		}
		e.cache.Remove(ent)
		if d, _ = tokencache.Decode(d.Raw); d == nil {
			return nil, jwt.ErrDecode
		}
	}
	if cat, _ := d.Cat(); cat == wire.JWTCategoryM2M {
		return nil, &jwt.Error{Reason: wire.ReasonTokenInvalid, Message: "Invalid session token category."}
	}
	if e.keys == nil {
		return nil, &jwt.Error{Reason: wire.ReasonJWKFailedToResolve, Message: "Failed to resolve JWK during verification."}
	}
	key, kerr := e.keys.KeyFor(ctx, d.Kid())
	if ku != nil {
		*ku = KeyUse{Kid: d.Kid(), Key: key, Err: kerr}
	}
	if kerr != nil {
		return nil, kerr
	}
	if err := key.Verify(&d.Token); err != nil {
		return nil, err
	}
	opts := e.verify
	opts.Skew, opts.Issuer = skew, issuer
	if err := jwt.VerifyClaims(&d.Claims, &opts, now); err != nil {
		return nil, err
	}
	if e.cache != nil && e.keyStillHeld(key) {
		ent := tokencache.Complete(d, key)
		e.cache.Put(ent, now, skew)
		return &ent.Session, nil
	}
	return session.New(&d.Claims, d.Payload), nil
}

// parseToken decodes token once per request, and not at all when it has
// verified before: then the cache has it decoded.
func (e *Engine) parseToken(a *Request, token string) (*tokencache.Token, *jwt.Error) {
	for i := range a.parsed {
		if p := &a.parsed[i]; p.token == token && (p.d != nil || p.err != nil) {
			return p.d, p.err
		}
	}
	var p parsedToken
	p.token = token
	if ent := e.cache.Get(token); ent != nil {
		p.d = &ent.JWT
		e.cacheHit()
	} else {
		if e.cache != nil {
			e.cacheMiss()
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
func (e *Engine) keyStillHeld(key *keys.Key) bool {
	kh, ok := e.keys.(keys.Holder)
	return ok && kh.Holds(key)
}

// VerifySession is verifySession, the module's token verification entry
// point (the root's verify.go): the handler's configured issuer.
func (e *Engine) VerifySession(ctx context.Context, d *tokencache.Token, now time.Time) (*session.Session, *jwt.Error) {
	return e.verifySession(ctx, d, now)
}

// VerifyRequestSession is verifyRequestSession for clerk-diagnose: a's
// token d, with the issuer expected for a; a.KeyUse() says what it learned
// of the key.
func (e *Engine) VerifyRequestSession(ctx context.Context, a *Request, d *tokencache.Token, skew time.Duration) (*session.Session, *jwt.Error) {
	return e.verifyRequestSession(ctx, a, d, skew)
}
