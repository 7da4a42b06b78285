package clerkauth

import "time"

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
