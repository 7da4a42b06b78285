package clerkauth

import "time"

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
