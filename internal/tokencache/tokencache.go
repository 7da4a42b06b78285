// Package tokencache remembers session tokens that verified: the decoded
// token, the key that verified it and its session, in one allocation made
// when the token is decoded (Decode), found by a keyed hash of the token's
// tail and confirmed by comparing the whole token.
package tokencache

import (
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/jsparse"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/session"
)

// defaultCacheSize is how many verified tokens a handler keeps. Session
// tokens live 60 s, so it is about the number of sessions active in a
// minute that the cache serves without verifying again.
const DefaultSize = 10000

// tokenCache remembers tokens that verified, so that the same token is not
// verified again while nothing that decided its answer can have changed: it
// holds the decoded token, the session and the key that verified it. What
// changes with time or with the request is checked again on every hit by
// the caller: the time claims, that the key is still in the key set, and
// the per-request checks. Only successes are stored: an attacker without a
// validly signed token of the instance cannot put anything in it, and
// nothing in it can deny a token.
//
// Entries are found by a keyed 64-bit hash of the token's last bytes
// (maphash, seeded per cache; see hashToken) and confirmed by comparing the
// whole token, so a hit costs a short hash, a read lock and a string
// comparison, and allocates nothing.
//
// The bound is in entries, split over shards that each evict with CLOCK
// (second chance): a hit only sets a bit, and an insertion into a full
// shard sweeps the ring, clearing set bits and evicting the first entry
// whose bit is clear (or whose token has expired). A flood of distinct
// tokens is seen once each and so is evicted first, while an entry that is
// hit at least once per sweep of its shard stays: the hot set is not
// dropped wholesale, and the read path never takes a write lock, as an LRU
// list would.
type Cache struct {
	seed   maphash.Seed
	shift  uint // a hash's top bits choose its shard
	shards []cacheShard
}

type cacheShard struct {
	mu    sync.RWMutex
	index map[uint64]int // hash → position in ring
	ring  []*Entry
	cap   int
	hand  int
	_     [64]byte // keeps shards' locks on separate cache lines
}

// cacheEntry is a verified token. It is immutable once published, but for
// the CLOCK bit. Decode allocates it around the token it decodes, so that
// a token that verifies needs no second allocation for its entry.
type Entry struct {
	hash uint64
	JWT  Token
	Key  *keys.Key
	// ExpiresMs is exp in JavaScript milliseconds, +Inf when exp is not a
	// valid date (then it never expires, as in Clerk).
	ExpiresMs float64
	used      atomic.Bool
	// Session is the token's, in the same allocation as the entry.
	Session session.Session
}

// newTokenCache returns a cache of size entries, or nil (no caching) when
// size is not positive.
func New(size int) *Cache {
	if size <= 0 {
		return nil
	}
	shards := 1
	if size >= 1024 {
		shards = 16
	}
	c := &Cache{seed: maphash.MakeSeed(), shards: make([]cacheShard, shards)}
	for n := shards; n > 1; n >>= 1 {
		c.shift++
	}
	c.shift = 64 - c.shift
	for i := range c.shards {
		sh := &c.shards[i]
		sh.cap = size / shards
		if i < size%shards {
			sh.cap++
		}
		sh.index = make(map[uint64]int, min(sh.cap, 1024))
	}
	return c
}

func (c *Cache) shardOf(h uint64) *cacheShard {
	if c.shift == 64 {
		return &c.shards[0]
	}
	return &c.shards[h>>c.shift]
}

// hashedTail is how much of a token's end is hashed: 64 base64url
// characters of the signature, which differ between any two tokens that
// verify. Tokens that share a tail (a forgery reusing a real token's
// signature) share a hash and are told apart by the whole-token comparison:
// a collision is a miss, never a hit, so hashing less than the whole token
// costs nothing in safety, and a 1 KB token is not hashed on every request.
const hashedTail = 64

func (c *Cache) hashToken(token string) uint64 {
	return maphash.String(c.seed, token[max(0, len(token)-hashedTail):])
}

// Get returns the entry of token (any spelling canonicalToken folds), or nil.
func (c *Cache) Get(token string) *Entry {
	if c == nil {
		return nil
	}
	token = jwt.Canonical(token)
	h := c.hashToken(token)
	sh := c.shardOf(h)
	var e *Entry
	sh.mu.RLock()
	if i, ok := sh.index[h]; ok {
		e = sh.ring[i]
	}
	sh.mu.RUnlock()
	// Reaching the comparison takes a collision of a secretly seeded hash;
	// the comparison makes a collision a miss, never another's session.
	if e == nil || e.JWT.Raw != token {
		return nil
	}
	if !e.used.Load() {
		e.used.Store(true)
	}
	return e
}

// newCacheEntry completes the entry around d, a token that has just
// verified, with its session, and links it from d, before anyone else can
// see d.
func Complete(d *Token, key *keys.Key) *Entry {
	e := d.Entry
	// The token as sent may be a slice of a whole Cookie or Authorization
	// header: DecodeInto copied it into the allocation of the decoded
	// payload, so that the entry holds the token's bytes and nothing around
	// them. The entry keys on the canonical spelling, so that it is found
	// by every spelling of the same credential.
	tok := jwt.Canonical(d.Raw)
	d.Raw, d.SigningInput, d.Sig = tok, tok[:len(d.SigningInput)], tok[len(d.SigningInput)+1:]
	e.Key, e.ExpiresMs = key, math.Inf(1)
	e.Session.Init(&d.Claims, d.Payload)
	if t, ok := jsparse.DateMs(d.Claims[jwt.ClaimExp].Num); ok {
		e.ExpiresMs = t
	}
	d.Verified = true
	return e
}

// Put stores e, evicting when its shard is full. now and skew say which
// entries are expired and go first.
func (c *Cache) Put(e *Entry, now time.Time, skew time.Duration) {
	if c == nil {
		return
	}
	e.hash = c.hashToken(e.JWT.Raw)
	deadMs := float64(now.UnixMilli() - skew.Milliseconds())
	sh := c.shardOf(e.hash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if i, ok := sh.index[e.hash]; ok {
		sh.ring[i] = e
		return
	}
	if len(sh.ring) < sh.cap {
		sh.index[e.hash] = len(sh.ring)
		sh.ring = append(sh.ring, e)
		return
	}
	// Terminates within one sweep and a step: every pass clears a bit.
	for {
		v := sh.ring[sh.hand]
		if v.used.Load() && v.ExpiresMs > deadMs {
			v.used.Store(false)
			sh.hand = (sh.hand + 1) % len(sh.ring)
			continue
		}
		delete(sh.index, v.hash)
		sh.ring[sh.hand] = e
		sh.index[e.hash] = sh.hand
		sh.hand = (sh.hand + 1) % len(sh.ring)
		return
	}
}

// Remove drops e if it is still stored.
func (c *Cache) Remove(e *Entry) {
	if c == nil {
		return
	}
	sh := c.shardOf(e.hash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i, ok := sh.index[e.hash]
	if !ok || sh.ring[i] != e {
		return
	}
	delete(sh.index, e.hash)
	last := len(sh.ring) - 1
	if i != last {
		sh.ring[i] = sh.ring[last]
		sh.index[sh.ring[i].hash] = i
	}
	sh.ring[last] = nil
	sh.ring = sh.ring[:last]
	if sh.hand >= len(sh.ring) {
		sh.hand = 0
	}
}

// Len is the number of entries.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		n += len(sh.ring)
		sh.mu.RUnlock()
	}
	return n
}

// Capacity is the bound in entries.
func (c *Cache) Capacity() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		n += c.shards[i].cap
	}
	return n
}

// Token is a decoded token as the module holds it: inside the cache
// entry it was decoded into (Decode allocates both at once). Verified
// says the entry is complete (the token verified), set before the entry is
// published; once it is, the token is shared read-only through the cache.
type Token struct {
	jwt.Token
	Entry    *Entry
	Verified bool
}

// Decode is @clerk/backend decodeJwt (jwt.DecodeInto), into a new cache
// entry: a token that verifies needs no second allocation for its entry.
func Decode(token string) (*Token, *jwt.Error) {
	e := new(Entry)
	d := &e.JWT
	d.Entry = e
	if err := jwt.DecodeInto(&d.Token, token); err != nil {
		return nil, err
	}
	return d, nil
}
