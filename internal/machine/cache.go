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
	DefaultFetchTimeout = 5 * time.Second
	// DefaultRate and DefaultBurst are the budget of Backend API calls:
	// Clerk allows an instance 1,000 requests per 10 s in production,
	// shared with everything that uses its secret key, and a flood of
	// random tokens at one handler must not spend it all: half of it.
	DefaultRate  = 50
	DefaultBurst = 100
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
	// Rate is how many Backend API calls may start per second, in bursts
	// of Burst (defaults DefaultRate, DefaultBurst); beyond it a request
	// gets unexpected-error without a call. Negative Rate: unbounded.
	Rate  float64
	Burst int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnCache, when set, is told of each lookup: "hit", "negative_hit" or
	// "miss" (metrics). Not called when the caches are off.
	OnCache func(kind TokenType, result string)
	// Prepare, when set, is run once on each verified result before it is
	// shared (cached, or handed to the requests waiting for it): the
	// caller's place to make, once per token, what it publishes of it
	// (Result.View).
	Prepare func(*Result)
	// OnCall, when set, is told of each Backend API call's result: "ok",
	// or the Error's code; and "skipped" for a request refused without a
	// call (MaxInFlight or the call budget).
	OnCall func(kind TokenType, result string)
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
	// budget is the token bucket of calls (Rate, Burst), under mu.
	budget     float64
	budgetTime time.Time
}

type digest [sha256.Size]byte

type call struct {
	done chan struct{}
	res  *Result
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
	if cfg.Rate == 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	v := &Verifier{fetch: fetch, cfg: cfg, now: cfg.Now, inflight: map[digest]*call{}, budget: float64(cfg.Burst)}
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
// hashed from a stack buffer, without allocating. Verified JWTs are
// remembered under jwtTag, so that the two never meet.
func keyOf(kind TokenType, token string) digest { return keyOfTag(byte(kindIndex(kind)), token) }

const jwtTag = 8

func keyOfTag(tag byte, token string) digest {
	var buf [1024]byte
	if len(token) < len(buf) {
		buf[0] = tag
		n := copy(buf[1:], token)
		return sha256.Sum256(buf[:1+n])
	}
	return sha256.Sum256(append([]byte{tag}, token...))
}

// takeBudget takes one call from the token bucket; v.mu is held.
func (v *Verifier) takeBudget(now time.Time) bool {
	if v.cfg.Rate < 0 {
		return true
	}
	if el := now.Sub(v.budgetTime).Seconds(); el > 0 {
		v.budget = min(float64(v.cfg.Burst), v.budget+el*v.cfg.Rate)
	}
	v.budgetTime = now
	if v.budget < 1 {
		return false
	}
	v.budget--
	return true
}

func (v *Verifier) onCache(kind TokenType, result string) {
	if v.cfg.OnCache != nil {
		v.cfg.OnCache(kind, result)
	}
}

func (v *Verifier) callSkipped(kind TokenType) {
	if v.cfg.OnCall != nil {
		v.cfg.OnCall(kind, "skipped")
	}
}

func (v *Verifier) onCall(kind TokenType, err *Error) {
	if v.cfg.OnCall == nil {
		return
	}
	if err == nil {
		v.cfg.OnCall(kind, "ok")
		return
	}
	v.cfg.OnCall(kind, err.Code)
}

// Verify verifies token of kind (api_key, m2m_token or oauth_token). fromCache
// says no call was made for this request (a hit of either cache). A call
// that another request started is waited for; ctx ending first gives
// unexpected-error, and the call goes on for the others and the cache.
//
// The result is shared with every request for the same token: read-only.
func (v *Verifier) Verify(ctx context.Context, kind TokenType, token string) (res *Result, err *Error, fromCache bool) {
	st := &v.stats[kindIndex(kind)]
	now := v.now()
	if v.pos == nil && v.neg == nil {
		st.Misses.Add(1)
		v.mu.Lock()
		ok := v.takeBudget(now)
		v.mu.Unlock()
		if !ok {
			st.Shed.Add(1)
			v.callSkipped(kind)
			return nil, UnexpectedError(kind, 0), false
		}
		st.Calls.Add(1)
		cctx, cancel := context.WithTimeout(ctx, v.cfg.FetchTimeout)
		defer cancel()
		r, ferr := v.fetch(cctx, kind, token)
		st.count(ferr)
		v.onCall(kind, ferr)
		if ferr != nil {
			return nil, ferr, false
		}
		return v.Share(r), nil, false
	}
	key := keyOf(kind, token)
	if e := v.pos.get(key, now); e != nil {
		st.Hits.Add(1)
		v.onCache(kind, "hit")
		return e.res, nil, true
	}
	if e := v.neg.get(key, now); e != nil {
		st.NegativeHits.Add(1)
		v.onCache(kind, "negative_hit")
		return nil, e.err, true
	}
	st.Misses.Add(1)
	v.onCache(kind, "miss")
	v.mu.Lock()
	c, ok := v.inflight[key]
	if ok {
		st.Coalesced.Add(1)
	} else {
		if v.cfg.MaxInFlight > 0 && len(v.inflight) >= v.cfg.MaxInFlight || !v.takeBudget(now) {
			v.mu.Unlock()
			st.Shed.Add(1)
			v.callSkipped(kind)
			return nil, UnexpectedError(kind, 0), false
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
		return nil, UnexpectedError(kind, 0), false
	}
}

func (v *Verifier) run(ctx context.Context, c *call, key digest, kind TokenType, token string, st *kindCounters) {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.FetchTimeout)
	defer cancel()
	r, err := v.fetch(ctx, kind, token)
	st.count(err)
	v.onCall(kind, err)
	if err == nil {
		c.res = v.Share(r)
	}
	c.err = err
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

// LookupJWT returns what RememberJWT kept for token (a verified machine
// JWT; Result.Kind says of which kind) and its ref, while it is fresh. The
// caller checks that ref (the key that verified it) still holds. Nothing is
// found with the positive cache off. A hit costs a digest of the token and
// a map lookup: the token is not decoded.
func (v *Verifier) LookupJWT(token string) (*Result, any, bool) {
	if v.pos == nil {
		return nil, nil, false
	}
	e := v.pos.get(keyOfTag(jwtTag, token), v.now())
	if e == nil {
		return nil, nil, false
	}
	v.onCache(e.res.Kind, "hit")
	return e.res, e.ref, true
}

// Share is r as the verifier shares a verified result: on the heap, with
// Config.Prepare run on it once. JWT results go through it too
// (internal/authn), so that a remembered JWT is prepared as an opaque
// token is.
func (v *Verifier) Share(r Result) *Result {
	p := new(Result)
	*p = r
	if v.cfg.Prepare != nil {
		v.cfg.Prepare(p)
	}
	return p
}

// CountJWTMiss reports a machine JWT of kind that LookupJWT did not find
// (metrics): its kind is known only once it is decoded.
func (v *Verifier) CountJWTMiss(kind TokenType) {
	if v.pos != nil {
		v.onCache(kind, "miss")
	}
}

// RememberJWT keeps a verified machine JWT's result for TTL, never past
// its expiry (exp: the claims verified until then), with ref, the key that
// verified it. A JWT's signature cannot be revoked, but the key can leave
// the key set: the caller checks ref on every hit.
func (v *Verifier) RememberJWT(token string, res *Result, ref any) {
	if v.pos == nil {
		return
	}
	now := v.now()
	exp := now.Add(v.cfg.TTL)
	if !res.Expiry.IsZero() && res.Expiry.Before(exp) {
		exp = res.Expiry
	}
	if !exp.After(now) {
		return
	}
	v.pos.put(keyOfTag(jwtTag, token), &cacheEntry{res: res, ref: ref, expires: exp.UnixNano()}, now)
}

// ForgetJWT drops what RememberJWT kept for token (its key left the set).
func (v *Verifier) ForgetJWT(token string) {
	if v.pos != nil {
		v.pos.remove(keyOfTag(jwtTag, token))
	}
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
	res     *Result
	err     *Error
	ref     any   // RememberJWT's key
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

// remove makes k's entry expired; its slot is reused by CLOCK.
func (c *ttlCache) remove(k digest) {
	sh := c.shard(k)
	sh.mu.Lock()
	if i, ok := sh.index[k]; ok {
		sh.ring[i] = &cacheEntry{key: k} // expired: the next sweep takes it
	}
	sh.mu.Unlock()
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
