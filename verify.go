package clerkauth

import "github.com/clerk-edge/clerk_auth/internal/jwt"

// decodedJWT is a decoded token as the module holds it: inside the cache
// entry it was decoded into (decodeJWT allocates both at once). verified
// says the entry is complete (the token verified), set before the entry is
// published; once it is, the token is shared read-only through the cache.
type decodedJWT struct {
	jwt.Token
	entry    *cacheEntry
	verified bool
}

// decodeJWT is @clerk/backend decodeJwt (jwt.DecodeInto), into a new cache
// entry: a token that verifies needs no second allocation for its entry.
func decodeJWT(token string) (*decodedJWT, *jwt.Error) {
	e := new(cacheEntry)
	d := &e.jwt
	d.entry = e
	if err := jwt.DecodeInto(&d.Token, token); err != nil {
		return nil, err
	}
	return d, nil
}
