package machine

import (
	"context"
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	// DefaultTTL is the positive cache's lifetime (machine_cache_ttl): a
	// revoked token stops working within it.
	DefaultTTL = 30 * time.Second
	// DefaultNegativeTTL is how long a token the Backend API rejected is
	// answered without a call.
	DefaultNegativeTTL = 10 * time.Second
	// DefaultSize bounds each cache, in entries.
	DefaultSize = 10000
	// DefaultFetchTimeout bounds one Backend API call.
	DefaultFetchTimeout = 10 * time.Second
	// DefaultMaxInFlight bounds distinct tokens being verified at once.
	DefaultMaxInFlight = 256
)

// Fetch verifies one opaque token with the Backend API: RequestFor, the
// HTTP call, ParseResult (UnexpectedError for a transport failure). It must
// honour ctx.
type Fetch func(ctx context.Context, kind TokenType, token string) (Result, *Error)

// Config configures a Verifier. Its zero value is Clerk's behaviour: no
// cache and no coalescing, one call per request.
type Config struct {
	// TTL is how long a verified token is answered from memory (never past
	// its own expiry); 0 disables the positive cache.
	TTL time.Duration
	// NegativeTTL is how long a cacheable rejection (Error.Cacheable) is
	// answered from memory; 0 disables the negative cache.
	NegativeTTL time.Duration
	// Size and NegativeSize bound the two caches in entries (default
	// DefaultSize each); a flood of rejected tokens cannot evict verified
	// ones.
	Size, NegativeSize int
	// FetchTimeout bounds a call (default DefaultFetchTimeout).
	FetchTimeout time.Duration
	// MaxInFlight bounds distinct tokens verified at once (default
	// DefaultMaxInFlight); beyond it a request gets unexpected-error
	// without a call. Negative: unbounded.
	MaxInFlight int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Verifier verifies opaque machine tokens through Fetch with a bounded
// positive cache, a bounded negative cache and one call in flight per
// token (when either cache is on). Clerk caches nothing
// (verifyMachineAuthToken calls the Backend API on every request); the
// caches are a deliberate difference, bounded by TTL. Tokens are held only
// as SHA-256 digests (with the kind), so memory holds no usable token.
type Verifier struct {
	fetch    Fetch
	cfg      Config
	now      func() time.Time
	pos, neg *ttlCache
	mu       sync.Mutex
	inflight map[digest]*call
	stats    [3]kindCounters
}

type digest [sha256.Size]byte

type call struct {
	done chan struct{}
	res  Result
	err  *Error
}

// NewVerifier returns a Verifier calling fetch.
func NewVerifier(fetch Fetch, cfg Config) *Verifier {
	if cfg.Size <= 0 {
		cfg.Size = DefaultSize
	}
	if cfg.NegativeSize <= 0 {
		cfg.NegativeSize = DefaultSize
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = DefaultFetchTimeout
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	v := &Verifier{fetch: fetch, cfg: cfg, now: cfg.Now, inflight: map[digest]*call{}}
	if v.now == nil {
		v.now = time.Now
	}
	if cfg.TTL > 0 {
		v.pos = newTTLCache(cfg.Size)
	}
	if cfg.NegativeTTL > 0 {
		v.neg = newTTLCache(cfg.NegativeSize)
	}
	return v
}

func kindIndex(k TokenType) int {
	switch k {
	case APIKey:
		return 0
	case M2MToken:
		return 1
	}
	return 2
}

// keyOf is SHA-256(kind index byte ‖ token); a token of usual length is
// hashed from a stack buffer, without allocating.
func keyOf(kind TokenType, token string) digest {
	var buf [256]byte
	if len(token) < len(buf) {
		buf[0] = byte(kindIndex(kind))
		n := copy(buf[1:], token)
		return sha256.Sum256(buf[:1+n])
	}
	return sha256.Sum256(append([]byte{byte(kindIndex(kind))}, token...))
}

// Verify verifies token of kind (api_key, m2m_token or oauth_token). fromCache
// says no call was made for this request (a hit of either cache). A call
// that another request started is waited for; ctx ending first gives
// unexpected-error, and the call goes on for the others and the cache.
func (v *Verifier) Verify(ctx context.Context, kind TokenType, token string) (res Result, err *Error, fromCache bool) {
	st := &v.stats[kindIndex(kind)]
	if v.pos == nil && v.neg == nil {
		st.Misses.Add(1)
		st.Calls.Add(1)
		cctx, cancel := context.WithTimeout(ctx, v.cfg.FetchTimeout)
		defer cancel()
		res, err = v.fetch(cctx, kind, token)
		st.count(err)
		return res, err, false
	}
	key := keyOf(kind, token)
	now := v.now()
	if e := v.pos.get(key, now); e != nil {
		st.Hits.Add(1)
		return e.res, nil, true
	}
	if e := v.neg.get(key, now); e != nil {
		st.NegativeHits.Add(1)
		return Result{}, e.err, true
	}
	st.Misses.Add(1)
	v.mu.Lock()
	c, ok := v.inflight[key]
	if ok {
		st.Coalesced.Add(1)
	} else {
		if v.cfg.MaxInFlight > 0 && len(v.inflight) >= v.cfg.MaxInFlight {
			v.mu.Unlock()
			st.Shed.Add(1)
			return Result{}, UnexpectedError(kind, 0), false
		}
		c = &call{done: make(chan struct{})}
		v.inflight[key] = c
		st.Calls.Add(1)
		go v.run(context.WithoutCancel(ctx), c, key, kind, token, st)
	}
	v.mu.Unlock()
	select {
	case <-c.done:
		return c.res, c.err, false
	case <-ctx.Done():
		st.Canceled.Add(1)
		return Result{}, UnexpectedError(kind, 0), false
	}
}

func (v *Verifier) run(ctx context.Context, c *call, key digest, kind TokenType, token string, st *kindCounters) {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.FetchTimeout)
	defer cancel()
	c.res, c.err = v.fetch(ctx, kind, token)
	st.count(c.err)
	now := v.now()
	switch {
	case c.err == nil && v.pos != nil:
		exp := now.Add(v.cfg.TTL)
		if !c.res.Expiry.IsZero() && c.res.Expiry.Before(exp) {
			exp = c.res.Expiry
		}
		if exp.After(now) {
			v.pos.put(key, &cacheEntry{res: c.res, expires: exp.UnixNano()}, now)
		}
	case c.err.Cacheable() && v.neg != nil:
		v.neg.put(key, &cacheEntry{err: c.err, expires: now.Add(v.cfg.NegativeTTL).UnixNano()}, now)
	}
	v.mu.Lock()
	delete(v.inflight, key)
	v.mu.Unlock()
	close(c.done)
}

// Len returns the entries held by the positive and negative caches.
func (v *Verifier) Len() (positive, negative int) { return v.pos.len(), v.neg.len() }

// kindCounters count one kind's requests and calls.
type kindCounters struct {
	Hits, NegativeHits, Misses, Coalesced, Shed, Canceled atomic.Uint64
	Calls, CallsOK, CallsRejected, CallsFailed            atomic.Uint64
}

func (k *kindCounters) count(err *Error) {
	switch {
	case err == nil:
		k.CallsOK.Add(1)
	case err.Cacheable():
		k.CallsRejected.Add(1)
	default:
		k.CallsFailed.Add(1)
	}
}

// KindStats are one kind's counters, for metrics.
type KindStats struct {
	// Hits and NegativeHits were answered from the positive and negative
	// caches; Misses were not; Coalesced waited for another request's call;
	// Shed got unexpected-error because MaxInFlight calls were running;
	// Canceled ended (their context) before the call they waited for.
	Hits, NegativeHits, Misses, Coalesced, Shed, Canceled uint64
	// Calls went to the Backend API: CallsOK verified, CallsRejected were
	// refused for the token (cacheable), CallsFailed failed otherwise (401,
	// 429, 5xx, network, unreadable answers).
	Calls, CallsOK, CallsRejected, CallsFailed uint64
}

// Stats returns the counters by kind (api_key, m2m_token, oauth_token).
func (v *Verifier) Stats() map[TokenType]KindStats {
	out := map[TokenType]KindStats{}
	for _, k := range []TokenType{APIKey, M2MToken, OAuthToken} {
		c := &v.stats[kindIndex(k)]
		out[k] = KindStats{
			Hits: c.Hits.Load(), NegativeHits: c.NegativeHits.Load(), Misses: c.Misses.Load(),
			Coalesced: c.Coalesced.Load(), Shed: c.Shed.Load(), Canceled: c.Canceled.Load(),
			Calls: c.Calls.Load(), CallsOK: c.CallsOK.Load(), CallsRejected: c.CallsRejected.Load(),
			CallsFailed: c.CallsFailed.Load(),
		}
	}
	return out
}

// ttlCache is a bounded map from digests to entries, sharded, each shard
// evicting with CLOCK (second chance) as the session-token cache of the
// root package does (cache.go tokenCache): a hit takes a read lock and sets
// a bit; an insertion into a full shard sweeps its ring, clearing set bits
// and evicting the first entry whose bit is clear or whose time is up.
type ttlCache struct {
	shards [16]ttlShard
}

type ttlShard struct {
	mu    sync.RWMutex
	index map[digest]int
	ring  []*cacheEntry
	cap   int
	hand  int
	_     [64]byte
}

// cacheEntry is immutable once stored, but for the CLOCK bit.
type cacheEntry struct {
	key     digest
	res     Result
	err     *Error
	expires int64 // Unix nanoseconds
	used    atomic.Bool
}

func newTTLCache(size int) *ttlCache {
	c := &ttlCache{}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.cap = max(1, size/len(c.shards))
		if i < size%len(c.shards) {
			sh.cap++
		}
		sh.index = make(map[digest]int, min(sh.cap, 1024))
	}
	return c
}

func (c *ttlCache) shard(k digest) *ttlShard { return &c.shards[k[0]&15] }

func (c *ttlCache) get(k digest, now time.Time) *cacheEntry {
	if c == nil {
		return nil
	}
	sh := c.shard(k)
	var e *cacheEntry
	sh.mu.RLock()
	if i, ok := sh.index[k]; ok {
		e = sh.ring[i]
	}
	sh.mu.RUnlock()
	if e == nil || now.UnixNano() >= e.expires {
		return nil
	}
	if !e.used.Load() {
		e.used.Store(true)
	}
	return e
}

func (c *ttlCache) put(k digest, e *cacheEntry, now time.Time) {
	e.key = k
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if i, ok := sh.index[k]; ok {
		sh.ring[i] = e
		return
	}
	if len(sh.ring) < sh.cap {
		sh.index[k] = len(sh.ring)
		sh.ring = append(sh.ring, e)
		return
	}
	nowNs := now.UnixNano()
	for {
		old := sh.ring[sh.hand]
		if old.used.Load() && old.expires > nowNs {
			old.used.Store(false)
			sh.hand = (sh.hand + 1) % len(sh.ring)
			continue
		}
		delete(sh.index, old.key)
		sh.ring[sh.hand] = e
		sh.index[k] = sh.hand
		sh.hand = (sh.hand + 1) % len(sh.ring)
		return
	}
}

func (c *ttlCache) len() int {
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
