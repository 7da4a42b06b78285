package clerkauth

import (
	"context"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/session"
	"github.com/clerk-edge/clerk_auth/internal/tokencache"
)

// verifySession is the module's token verification entry point: verifyToken
// (the M2M category, the key, the signature, then the claims) against the
// handler's configured issuer, with its key source and token cache. The
// verification itself is internal/authn's (verify.go there); a request's
// token goes through the engine's decision, which also knows the issuer of
// a relative proxy URL.
func (h *Handler) verifySession(ctx context.Context, d *tokencache.Token, now time.Time) (*session.Session, *jwt.Error) {
	return h.engine.VerifySession(ctx, d, now)
}
