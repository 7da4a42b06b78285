package machine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeFetch answers from a table and counts calls per token.
type fakeFetch struct {
	mu     sync.Mutex
	calls  map[string]int
	answer func(token string) (Result, *Error)
	gate   chan struct{} // when set, every call waits for it
}

func (f *fakeFetch) fetch(ctx context.Context, kind TokenType, token string) (Result, *Error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[token]++
	f.mu.Unlock()
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return Result{}, UnexpectedError(kind, 0)
		}
	}
	return f.answer(token)
}

func (f *fakeFetch) n(token string) int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls[token] }

func ok(token string) (Result, *Error) {
	return Result{Kind: APIKey, ID: "ak_id", Subject: "user_1", UserID: "user_1"}, nil
}

func TestVerifierCoalesces(t *testing.T) {
	f := &fakeFetch{answer: ok, gate: make(chan struct{})}
	v := NewVerifier(f.fetch, Config{TTL: DefaultTTL, NegativeTTL: DefaultNegativeTTL})
	var wg sync.WaitGroup
	var signedIn atomic.Int32
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err, _ := v.Verify(context.Background(), APIKey, "ak_same")
			if err == nil && r.UserID == "user_1" {
				signedIn.Add(1)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(f.gate)
	wg.Wait()
	if f.n("ak_same") != 1 || signedIn.Load() != 50 {
		t.Fatalf("calls %d, signed in %d", f.n("ak_same"), signedIn.Load())
	}
	if _, err, hit := v.Verify(context.Background(), APIKey, "ak_same"); err != nil || !hit {
		t.Errorf("not a hit: %v %v", err, hit)
	}
	s := v.Stats()[APIKey]
	if s.Calls != 1 || s.Hits != 1 || s.Coalesced != 49 || s.CallsOK != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestVerifierTTL(t *testing.T) {
	clk := &fakeClock{t: now}
	f := &fakeFetch{answer: ok}
	v := NewVerifier(f.fetch, Config{TTL: 30 * time.Second, Now: clk.Now})
	ctx := context.Background()
	v.Verify(ctx, APIKey, "ak_1")
	clk.Add(29 * time.Second)
	if _, _, hit := v.Verify(ctx, APIKey, "ak_1"); !hit || f.n("ak_1") != 1 {
		t.Fatalf("no hit within the TTL")
	}
	clk.Add(time.Second)
	if _, _, hit := v.Verify(ctx, APIKey, "ak_1"); hit || f.n("ak_1") != 2 {
		t.Fatalf("hit at the TTL")
	}
	// The kind is part of the key.
	if _, _, hit := v.Verify(ctx, M2MToken, "ak_1"); hit {
		t.Fatalf("hit across kinds")
	}
}

func TestVerifierNeverPastTokenExpiry(t *testing.T) {
	clk := &fakeClock{t: now}
	f := &fakeFetch{answer: func(string) (Result, *Error) {
		return Result{Kind: APIKey, Subject: "user_1", Expiry: now.Add(5 * time.Second)}, nil
	}}
	v := NewVerifier(f.fetch, Config{TTL: time.Minute, Now: clk.Now})
	ctx := context.Background()
	v.Verify(ctx, APIKey, "ak_1")
	clk.Add(4 * time.Second)
	if _, _, hit := v.Verify(ctx, APIKey, "ak_1"); !hit {
		t.Fatal("no hit before expiry")
	}
	clk.Add(time.Second)
	if _, _, hit := v.Verify(ctx, APIKey, "ak_1"); hit {
		t.Fatal("hit at the token's expiry")
	}
	// Already expired when verified: not stored.
	clk.Add(time.Hour)
	v.Verify(ctx, APIKey, "ak_2")
	if p, _ := v.Len(); p != 1 {
		t.Errorf("entries %d", p)
	}
}

func TestVerifierNegativeCache(t *testing.T) {
	clk := &fakeClock{t: now}
	answers := map[string]*Error{}
	for _, st := range []int{404, 400, 401, 429, 500, 503, 0} {
		_, answers[fmt.Sprint("ak_", st)] = ParseResult(APIKey, st, nil, now)
	}
	f := &fakeFetch{answer: func(tok string) (Result, *Error) { return Result{}, answers[tok] }}
	v := NewVerifier(f.fetch, Config{TTL: DefaultTTL, NegativeTTL: 10 * time.Second, Now: clk.Now})
	ctx := context.Background()
	for tok, want := range map[string]bool{"ak_404": true, "ak_400": true, "ak_401": false, "ak_429": false, "ak_500": false, "ak_503": false, "ak_0": false} {
		_, e1, _ := v.Verify(ctx, APIKey, tok)
		_, e2, hit := v.Verify(ctx, APIKey, tok)
		if e1 == nil || e2 == nil || e1.Code != e2.Code {
			t.Fatalf("%s: %v %v", tok, e1, e2)
		}
		if hit != want || f.n(tok) != map[bool]int{true: 1, false: 2}[want] {
			t.Errorf("%s: cached %v, calls %d", tok, hit, f.n(tok))
		}
	}
	clk.Add(10 * time.Second)
	if _, _, hit := v.Verify(ctx, APIKey, "ak_404"); hit {
		t.Error("negative entry outlived its TTL")
	}
}

func TestVerifierFloodBounded(t *testing.T) {
	notFound := &Error{Kind: APIKey, Code: CodeTokenInvalid, Message: "API key not found", Status: 404, negative: true}
	f := &fakeFetch{answer: func(tok string) (Result, *Error) {
		if tok == "ak_good" {
			return ok(tok)
		}
		return Result{}, notFound
	}}
	const bound = 1000
	// Rate -1: the call budget (TestVerifierCallBudget) would stop the flood
	// before it reaches the bound.
	v := NewVerifier(f.fetch, Config{TTL: time.Minute, NegativeTTL: time.Minute, Size: 100, NegativeSize: bound, Rate: -1})
	ctx := context.Background()
	v.Verify(ctx, APIKey, "ak_good")
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 100_000 {
		v.Verify(ctx, APIKey, fmt.Sprintf("ak_%016x", r.Uint64()))
		if i%10000 == 0 {
			v.Verify(ctx, APIKey, "ak_good")
		}
	}
	p, n := v.Len()
	if n > bound || n < bound/2 || p != 1 {
		t.Fatalf("entries: positive %d, negative %d (bound %d)", p, n, bound)
	}
	if _, _, hit := v.Verify(ctx, APIKey, "ak_good"); !hit {
		t.Error("the flood evicted a verified token")
	}
}

// TestVerifierCallBudget: a flood of distinct tokens gets at most Burst
// calls at once and Rate per second after that; the rest are
// unexpected-error without a call, not cached, and a token verified before
// the flood is still answered from the cache.
func TestVerifierCallBudget(t *testing.T) {
	for _, cacheOn := range []bool{true, false} {
		clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
		var calls atomic.Int64
		f := &fakeFetch{answer: func(tok string) (Result, *Error) {
			calls.Add(1)
			if tok == "ak_good" {
				return ok(tok)
			}
			return Result{}, &Error{Kind: APIKey, Code: CodeTokenInvalid, Status: 404, negative: true}
		}}
		var skipped atomic.Int64
		cfg := Config{Now: clk.Now, Rate: 10, Burst: 20, OnCall: func(_ TokenType, r string) {
			if r == "skipped" {
				skipped.Add(1)
			}
		}}
		if cacheOn {
			cfg.TTL, cfg.NegativeTTL = time.Minute, time.Minute
		}
		v := NewVerifier(f.fetch, cfg)
		ctx := context.Background()
		v.Verify(ctx, APIKey, "ak_good")
		for i := range 500 {
			v.Verify(ctx, APIKey, fmt.Sprintf("ak_flood_%d", i))
		}
		if got := calls.Load(); got != 20 {
			t.Errorf("cache %v: %d calls in a burst, want 20", cacheOn, got)
		}
		if skipped.Load() != 481 {
			t.Errorf("cache %v: %d skipped, want 481", cacheOn, skipped.Load())
		}
		_, err, _ := v.Verify(ctx, APIKey, "ak_flood_499")
		if err == nil || err.Code != CodeUnexpectedError || err.Status != 0 {
			t.Errorf("cache %v: over budget: %+v", cacheOn, err)
		}
		if cacheOn {
			if _, err, hit := v.Verify(ctx, APIKey, "ak_good"); err != nil || !hit {
				t.Errorf("the verified token is not answered from the cache: %v %v", err, hit)
			}
		}
		clk.Add(time.Second)
		for i := range 100 {
			v.Verify(ctx, APIKey, fmt.Sprintf("ak_later_%d", i))
		}
		if got := calls.Load(); got != 30 {
			t.Errorf("cache %v: %d calls after one second, want 30", cacheOn, got)
		}
	}
}

func TestVerifierContextCancel(t *testing.T) {
	f := &fakeFetch{answer: ok, gate: make(chan struct{})}
	v := NewVerifier(f.fetch, Config{TTL: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *Error)
	go func() { _, e, _ := v.Verify(ctx, APIKey, "ak_1"); done <- e }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case e := <-done:
		if e == nil || e.Code != CodeUnexpectedError || e.Cacheable() {
			t.Fatalf("cancelled Verify: %v", e)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Verify ignored its context")
	}
	// The call goes on for others; its answer is cached.
	close(f.gate)
	deadline := time.Now().Add(2 * time.Second)
	for p, _ := v.Len(); p == 0 && time.Now().Before(deadline); p, _ = v.Len() {
		time.Sleep(time.Millisecond)
	}
	if _, e, hit := v.Verify(context.Background(), APIKey, "ak_1"); e != nil || !hit || f.n("ak_1") != 1 {
		t.Errorf("after cancel: %v hit %v calls %d", e, hit, f.n("ak_1"))
	}
}

func TestVerifierNoCacheIsClerk(t *testing.T) {
	f := &fakeFetch{answer: ok}
	v := NewVerifier(f.fetch, Config{})
	for range 3 {
		if _, e, hit := v.Verify(context.Background(), APIKey, "ak_1"); e != nil || hit {
			t.Fatal(e, hit)
		}
	}
	if f.n("ak_1") != 3 {
		t.Errorf("calls %d, want one per request", f.n("ak_1"))
	}
}

func TestVerifierShedsBeyondMaxInFlight(t *testing.T) {
	f := &fakeFetch{answer: ok, gate: make(chan struct{})}
	v := NewVerifier(f.fetch, Config{TTL: time.Minute, MaxInFlight: 2})
	for _, tok := range []string{"ak_a", "ak_b"} {
		go v.Verify(context.Background(), APIKey, tok)
	}
	time.Sleep(20 * time.Millisecond)
	_, e, _ := v.Verify(context.Background(), APIKey, "ak_c")
	close(f.gate)
	if e == nil || e.Code != CodeUnexpectedError || f.n("ak_c") != 0 {
		t.Fatalf("third token: %v, calls %d", e, f.n("ak_c"))
	}
}

func TestVerifierFetchTimeout(t *testing.T) {
	f := &fakeFetch{answer: ok, gate: make(chan struct{})}
	v := NewVerifier(f.fetch, Config{TTL: time.Minute, FetchTimeout: 20 * time.Millisecond})
	_, e, _ := v.Verify(context.Background(), APIKey, "ak_1")
	if e == nil || e.Code != CodeUnexpectedError {
		t.Fatalf("hung fetch: %v", e)
	}
	if p, n := v.Len(); p+n != 0 {
		t.Errorf("a timeout was cached")
	}
}

// TestVerifierRemembersJWTs: a verified machine JWT is answered with its
// key until the TTL or its expiry, whichever is first; ForgetJWT drops it;
// the opaque caches never answer for it; with the cache off nothing is kept.
func TestVerifierRemembersJWTs(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	v := NewVerifier(func(context.Context, TokenType, string) (Result, *Error) {
		return Result{}, UnexpectedError(M2MToken, 500)
	},
		Config{TTL: 30 * time.Second, Now: clk.Now})
	key := new(int)
	res := Result{Kind: M2MToken, Subject: "mch_1", Expiry: clk.Now().Add(10 * time.Second)}
	v.RememberJWT("a.b.c", &res, key)
	if got, ref, ok := v.LookupJWT("a.b.c"); !ok || ref != key || got.Subject != "mch_1" {
		t.Fatalf("lookup: %+v %v %v", got, ref, ok)
	}
	if _, err, _ := v.Verify(context.Background(), M2MToken, "a.b.c"); err == nil {
		t.Error("the opaque cache answered for a remembered JWT")
	}
	clk.Add(10 * time.Second)
	if _, _, ok := v.LookupJWT("a.b.c"); ok {
		t.Error("answered past the token's expiry")
	}
	res.Expiry = time.Time{}
	v.RememberJWT("a.b.c", &res, key)
	clk.Add(29 * time.Second)
	if _, _, ok := v.LookupJWT("a.b.c"); !ok {
		t.Error("forgotten within the TTL")
	}
	v.ForgetJWT("a.b.c")
	if _, _, ok := v.LookupJWT("a.b.c"); ok {
		t.Error("answered after ForgetJWT")
	}
	v.RememberJWT("a.b.c", &res, key)
	clk.Add(31 * time.Second)
	if _, _, ok := v.LookupJWT("a.b.c"); ok {
		t.Error("answered past the TTL")
	}
	off := NewVerifier(nil, Config{Now: clk.Now})
	off.RememberJWT("a.b.c", &res, key)
	if _, _, ok := off.LookupJWT("a.b.c"); ok {
		t.Error("kept with the cache off")
	}
}

// BenchmarkVerifierHit is the cost of a cached answer: an API key of
// Clerk's length from the positive cache, and a remembered machine JWT of
// a usual length.
//
// go test -run '^$' -bench BenchmarkVerifierHit -benchmem ./internal/machine
func BenchmarkVerifierHit(b *testing.B) {
	v := NewVerifier(func(context.Context, TokenType, string) (Result, *Error) { return ok("") }, Config{TTL: time.Hour})
	key := "ak_" + strings.Repeat("0123456789abcdef", 2)
	ctx := context.Background()
	v.Verify(ctx, APIKey, key)
	b.Run("api-key", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err, hit := v.Verify(ctx, APIKey, key); err != nil || !hit {
				b.Fatal("not a hit")
			}
		}
	})
	jwt := strings.Repeat("x", 200) + "." + strings.Repeat("y", 400) + "." + strings.Repeat("z", 342)
	v.RememberJWT(jwt, &Result{Kind: M2MToken, Subject: "mch_1"}, 1)
	b.Run("jwt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, found := v.LookupJWT(jwt); !found {
				b.Fatal("not found")
			}
		}
	})
}

// TestVerifierSharesPreparedResults: a verified token's result is prepared
// once and the same value answers every request for it, concurrent or
// from the cache; a failure is not prepared.
func TestVerifierSharesPreparedResults(t *testing.T) {
	var prepared atomic.Int32
	f := &fakeFetch{answer: func(tok string) (Result, *Error) {
		if tok == "ak_bad" {
			return Result{}, &Error{Kind: APIKey, Code: CodeTokenInvalid, Status: 404, negative: true}
		}
		return ok(tok)
	}}
	v := NewVerifier(f.fetch, Config{TTL: time.Minute, NegativeTTL: time.Minute, Prepare: func(r *Result) {
		prepared.Add(1)
		r.View = "made once"
	}})
	first, err, _ := v.Verify(context.Background(), APIKey, "ak_good")
	if err != nil || first.View != "made once" {
		t.Fatalf("%+v %v", first, err)
	}
	for range 20 {
		if r, _, _ := v.Verify(context.Background(), APIKey, "ak_good"); r != first {
			t.Fatal("a cached answer is another value")
		}
	}
	v.Verify(context.Background(), APIKey, "ak_bad")
	if n := prepared.Load(); n != 1 {
		t.Errorf("prepared %d times, want 1", n)
	}
	if p := v.Share(Result{Kind: M2MToken}); p.View != "made once" || prepared.Load() != 2 {
		t.Errorf("Share did not prepare: %+v", p)
	}
}
