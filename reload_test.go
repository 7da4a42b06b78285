package clerkauth

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// These tests run the handler inside a real Caddy (caddy.Load with a JSON
// config, a loopback port, the admin endpoint off) and reload its config
// while traffic flows.

// caddyConfig is one generation of the config: clerk_auth in front of a
// static response naming the generation.
func caddyConfig(t testing.TB, addr, jwksURL string, gen int) []byte {
	t.Helper()
	cfg := map[string]any{
		"admin":   map[string]any{"disabled": true},
		"logging": map[string]any{"logs": map[string]any{"default": map[string]any{"level": "ERROR"}}},
		"apps": map[string]any{"http": map[string]any{"servers": map[string]any{"soak": map[string]any{
			"listen":          []string{addr},
			"automatic_https": map[string]any{"disable": true},
			"routes": []any{map[string]any{"handle": []any{
				map[string]any{
					"handler": "clerk_auth", "publishable_key": testPK, "jwks_url": jwksURL,
					"authorized_parties": []string{testOrigin}, "sign_in_url": "off",
				},
				map[string]any{"handler": "static_response", "status_code": 200, "body": fmt.Sprintf("gen %d", gen)},
			}}},
		}}}},
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// liveToken is a valid session token at the real clock (Caddy's handler
// runs on time.Now).
func liveToken(t testing.TB, key *rsa.PrivateKey, kid string) string {
	now := time.Now().Unix()
	return testkit.SignJWT(t, key, map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid},
		sessionClaims(func(c map[string]any) { c["iat"], c["nbf"], c["exp"] = now-5, now-10, now+3600 }))
}

// keySetPoolStats counts the shared key caches and the references to them.
func keySetPoolStats() (entries, refs int) {
	remoteKeySetPool.Range(func(k, _ any) bool {
		entries++
		if n, ok := remoteKeySetPool.References(k); ok {
			refs += n
		}
		return true
	})
	return entries, refs
}

func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// trafficStats is what the load saw.
type trafficStats struct {
	valid, deniedValid, forged, forgedAccepted, transportErrors, retried atomic.Int64
	firstProblem                                                         atomic.Value
}

func (s *trafficStats) problem(format string, args ...any) {
	s.firstProblem.CompareAndSwap(nil, fmt.Sprintf(format, args...))
}

// runTraffic sends valid and forged requests from workers until stop closes.
func runTraffic(client *http.Client, base string, valid func() string, forged []string, workers int, stop <-chan struct{}, s *trafficStats) *sync.WaitGroup {
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				isForged := i%4 == 3
				tok := ""
				if isForged {
					tok = forged[(i/4)%len(forged)]
				} else {
					tok = valid()
				}
				req, _ := http.NewRequest(http.MethodGet, base+"/api", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := client.Do(req)
				if err != nil {
					// A keep-alive connection the old generation closed
					// as the client reused it: retried once, as browsers
					// do; a second failure counts.
					s.retried.Add(1)
					resp, err = client.Do(req)
				}
				if err != nil {
					s.transportErrors.Add(1)
					s.problem("transport: %v", err)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if isForged {
					s.forged.Add(1)
					if resp.StatusCode == http.StatusOK {
						s.forgedAccepted.Add(1)
						s.problem("forged token accepted")
					}
				} else {
					s.valid.Add(1)
					if resp.StatusCode != http.StatusOK {
						s.deniedValid.Add(1)
						s.problem("valid token: %d %s", resp.StatusCode, resp.Header.Get(wire.HeaderAuthReason))
					}
				}
			}
		}(w)
	}
	return &wg
}

// TestReloadUnderLoad reloads the config every 200 ms while requests run,
// alternating between a config that keeps the key set's URL (the cache is
// shared across the reload) and one that changes it (a new cache, the old
// one destroyed), then checks that goroutines, key caches and their
// references are back where they started.
func TestReloadUnderLoad(t *testing.T) {
	soak(t, 3*time.Second, 200*time.Millisecond, false)
}

// TestSoak is a longer run of mixed valid and forged traffic with reloads
// and a key rotation: 5 s by default, CLERK_AUTH_SOAK=60s for a real soak.
func TestSoak(t *testing.T) {
	d := 5 * time.Second
	if v := os.Getenv("CLERK_AUTH_SOAK"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatalf("CLERK_AUTH_SOAK: %v", err)
		}
	}
	soak(t, d, time.Second, true)
}

func soak(t *testing.T, duration, reloadEvery time.Duration, rotate bool) {
	// New keys must be published this long before tokens use them
	// (unknownKidInterval, 10 s in production).
	withKeyTiming(t, func(k *keys.Timing) { k.UnknownKid = 500 * time.Millisecond })
	a, b := testkit.Keys(t)
	ks := newKeyServer(t, map[string]*rsa.PublicKey{"ins_a": &a.PublicKey})
	addr := testkit.FreeAddr(t)
	base := "http://" + addr
	jwksURLs := []string{ks.url(), ks.url() + "?variant=2"}
	gen := 0
	load := func() {
		t.Helper()
		if err := caddy.Load(caddyConfig(t, addr, jwksURLs[(gen/2)%2], gen), true); err != nil {
			t.Fatalf("caddy.Load (generation %d): %v", gen, err)
		}
		gen++
	}
	t.Cleanup(func() { _ = caddy.Stop() })
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

	// Warm up: one generation, traffic, then the baseline.
	load()
	tokA := liveToken(t, a, "ins_a")
	tokB := liveToken(t, b, "ins_b")
	var current atomic.Value
	current.Store(tokA)
	forged := []string{
		liveToken(t, b, "ins_a"),
		testkit.SignJWT(t, a, map[string]any{"alg": "RS256", "kid": "ins_a"}, sessionClaims(func(c map[string]any) { c["exp"] = time.Now().Unix() - 3600 })),
		unsignedToken(map[string]any{"alg": "none", "kid": "ins_a"}, sessionClaims()),
	}
	var warm trafficStats
	stop := make(chan struct{})
	wg := runTraffic(client, base, func() string { return current.Load().(string) }, forged, 2, stop, &warm)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if warm.deniedValid.Load() != 0 || warm.valid.Load() == 0 {
		t.Fatalf("warm-up: %d valid, %d denied: %v", warm.valid.Load(), warm.deniedValid.Load(), warm.firstProblem.Load())
	}
	client.CloseIdleConnections()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	goroutinesBefore := settledGoroutines()
	stacksBefore := goroutineStacks()
	heapBefore := heapInuse()
	entriesBefore, refsBefore := keySetPoolStats()

	var s trafficStats
	stop = make(chan struct{})
	wg = runTraffic(client, base, func() string { return current.Load().(string) }, forged, 4, stop, &s)
	start := time.Now()
	rotated := false
	reloads := 0
	maxEntries, maxRefs := 0, 0
	for time.Since(start) < duration {
		time.Sleep(reloadEvery)
		load()
		reloads++
		e, r := keySetPoolStats()
		maxEntries, maxRefs = max(maxEntries, e), max(maxRefs, r)
		if rotate && !rotated && time.Since(start) > duration/3 {
			// Publish B, let it be seen, move tokens to it, retire A.
			ks.set(keysOK, map[string]*rsa.PublicKey{"ins_a": &a.PublicKey, "ins_b": &b.PublicKey})
			time.Sleep(keys.DefaultTiming.UnknownKid + 100*time.Millisecond)
			current.Store(tokB)
			time.Sleep(100 * time.Millisecond)
			ks.set(keysOK, map[string]*rsa.PublicKey{"ins_b": &b.PublicKey})
			rotated = true
		}
	}
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)
	client.CloseIdleConnections()

	if s.deniedValid.Load() != 0 || s.forgedAccepted.Load() != 0 || s.transportErrors.Load() != 0 {
		t.Errorf("%d of %d valid requests denied, %d of %d forged accepted, %d transport errors; first: %v",
			s.deniedValid.Load(), s.valid.Load(), s.forgedAccepted.Load(), s.forged.Load(), s.transportErrors.Load(), s.firstProblem.Load())
	}
	if s.valid.Load() == 0 || s.forged.Load() == 0 {
		t.Errorf("no traffic ran: %d valid, %d forged", s.valid.Load(), s.forged.Load())
	}
	// Each generation has one clerk_auth handler: one cache, one reference,
	// whatever the number of reloads (the old generation's is released
	// before Load returns).
	if maxEntries > 1 || maxRefs > 1 {
		t.Errorf("key caches after reloads: up to %d entries and %d references, want 1 and 1", maxEntries, maxRefs)
	}
	// Idle keep-alive connections are not leaks: the test client's (it can
	// pool a connection it finished dialing after CloseIdleConnections ran)
	// and http.DefaultTransport's, which key fetches use (at most two idle
	// per host, whatever the number of reloads). Closing them while waiting
	// keeps them out of the count.
	goroutinesAfter := settledGoroutinesAtMost(goroutinesBefore, func() {
		client.CloseIdleConnections()
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	})
	heapAfter := heapInuse()
	entriesAfter, refsAfter := keySetPoolStats()
	if goroutinesAfter > goroutinesBefore {
		t.Errorf("goroutines: %d before, %d after %d reloads; new ones:\n%s", goroutinesBefore, goroutinesAfter, reloads, newStacks(stacksBefore, goroutineStacks()))
	}
	if entriesAfter != entriesBefore || refsAfter != refsBefore {
		t.Errorf("key caches: %d (%d refs) before, %d (%d refs) after", entriesBefore, refsBefore, entriesAfter, refsAfter)
	}
	// Memory is reported, and only a gross leak fails the run: a heap that
	// grew by more than 32 MiB over a run whose live data is a few MiB.
	if heapAfter > heapBefore+32<<20 {
		t.Errorf("heap in use grew from %d to %d bytes", heapBefore, heapAfter)
	}
	if err := caddy.Stop(); err != nil {
		t.Fatalf("caddy.Stop: %v", err)
	}
	if e, r := keySetPoolStats(); e != 0 || r != 0 {
		t.Errorf("after Caddy stopped: %d key caches, %d references", e, r)
	}
	t.Logf("%v, %d reloads (rotation: %v): %d valid requests (%d denied), %d forged (%d accepted), %d transport errors (%d retried); "+
		"goroutines %d -> %d; heap in use %.1f -> %.1f MiB; key caches %d -> %d; key fetches %d",
		elapsed.Round(time.Millisecond), reloads, rotated, s.valid.Load(), s.deniedValid.Load(), s.forged.Load(), s.forgedAccepted.Load(),
		s.transportErrors.Load(), s.retried.Load(), goroutinesBefore, goroutinesAfter, float64(heapBefore)/(1<<20), float64(heapAfter)/(1<<20),
		entriesBefore, entriesAfter, ks.fetches.Load())
}

// goroutineStacks counts goroutines by their stack (pprof's debug=1 form).
func goroutineStacks() map[string]int {
	var b strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
	out := map[string]int{}
	for _, block := range strings.Split(b.String(), "\n\n")[1:] {
		var n int
		head, rest, _ := strings.Cut(block, "\n")
		fmt.Sscanf(head, "%d @", &n)
		out[rest] += n
	}
	return out
}

func newStacks(before, after map[string]int) string {
	var b strings.Builder
	for stack, n := range after {
		if n > before[stack] {
			fmt.Fprintf(&b, "%d more of:\n%s\n", n-before[stack], stack)
		}
	}
	return b.String()
}

// settledGoroutines is the goroutine count once it stops changing.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for i := 0; i < 50; i++ {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			return n
		}
		n = m
	}
	return n
}

// settledGoroutinesAtMost waits for connections and timers of the load to
// wind down, up to a few seconds, and returns the count then.
func settledGoroutinesAtMost(want int, each func()) int {
	deadline := time.Now().Add(10 * time.Second)
	n := runtime.NumGoroutine()
	for n > want && time.Now().Before(deadline) {
		each()
		time.Sleep(20 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

// TestCaddyBoundsHeaderSize: Caddy reads at most 16 KiB of request headers
// by default, so a huge token or cookie header never reaches the handler.
func TestCaddyBoundsHeaderSize(t *testing.T) {
	a, _ := testkit.Keys(t)
	ks := newKeyServer(t, map[string]*rsa.PublicKey{"ins_a": &a.PublicKey})
	addr := testkit.FreeAddr(t)
	if err := caddy.Load(caddyConfig(t, addr, ks.url(), 0), true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = caddy.Stop() })
	for _, h := range []struct{ name, value string }{
		{"Authorization", "Bearer " + strings.Repeat("a", 1<<20)},
		{"Cookie", "__client_uat=1; __session=" + strings.Repeat("a", 1<<20)},
		{"Cookie", strings.Repeat("a=b; ", 4<<10)},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api", nil)
		req.Header.Set(h.name, h.value)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s of %d bytes: %v", h.name, len(h.value), err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%s of %d bytes: status %d, want 431", h.name, len(h.value), resp.StatusCode)
		}
	}
	http.DefaultClient.CloseIdleConnections()
}
