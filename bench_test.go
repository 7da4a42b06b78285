package clerkauth

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/rsaverify"
	"github.com/clerk-edge/clerk_auth/internal/session"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/tokencache"
	"go.uber.org/zap"
)

// Run with: go test -run '^$' -bench . -benchmem -count 3 .
//
// Each handler benchmark runs the same request plumbing (a new replacer and
// context per request, as Caddy's server gives) around the handler, and
// the pass-through handler is the baseline: the handler's own cost is the
// difference.

// realisticClaims make a token the size of a Clerk v2 session token with an
// active organization (about 900 bytes).
func realisticClaims(c map[string]any) {
	c["jti"] = "a1b2c3d4e5f6a7b8c9d0"
	c["fva"] = []int{3, -1}
	c["pla"] = "u:free_user"
	c["fea"] = "u:feature_a,u:feature_b,o:feature_c"
	c["o"] = map[string]any{"id": "org_2xYZabcdefghijklmnopqrstu", "rol": "admin", "slg": "acme-inc", "per": "manage,read,write", "fpm": "3,7"}
	c["sub"] = "user_2abcdefghijklmnopqrstuvwxyz"
	c["sid"] = "sess_2abcdefghijklmnopqrstuvwxyz"
}

// discardWriter is a ResponseWriter that costs nothing.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

var passNext = caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	w.WriteHeader(http.StatusOK)
	return nil
})

type passThrough struct{}

func (passThrough) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	return next.ServeHTTP(w, r)
}

// benchRequests runs the handler over the requests, cycling. Each
// iteration prepares the request as Caddy's server does (a new replacer,
// the request variables, the original request) and gives it a fresh header
// map sized as net/http sizes it: growing that map for the identity headers
// is the handler's cost.
func benchRequests(b *testing.B, h caddyhttp.MiddlewareHandler, reqs []*http.Request, wantErr bool) {
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	done := reportCPU(b)
	defer done()
	defer reportGC(b)()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := serveAsCaddy(h, w, reqs[i%len(reqs)]); (err != nil) != wantErr {
			b.Fatalf("ServeHTTP: %v", err)
		}
	}
}

// serveAsCaddy runs one request through h as Caddy's server would hand it
// over: prepared with a new replacer, with a fresh header map sized as
// net/http sizes it (so that growing the map is h's cost).
func serveAsCaddy(h caddyhttp.MiddlewareHandler, w http.ResponseWriter, orig *http.Request) error {
	r := *orig
	r.Header = make(http.Header, len(orig.Header))
	for k, v := range orig.Header {
		r.Header[k] = v
	}
	return h.ServeHTTP(w, caddyhttp.PrepareRequest(&r, caddy.NewReplacer(), w, nil), passNext)
}

func mintTokens(b *testing.B, n int) []string {
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = sessionToken(b, realisticClaims, func(c map[string]any) { c["jti"] = fmt.Sprintf("jti-%d", i) })
	}
	return tokens
}

func BenchmarkHandler(b *testing.B) {
	token := sessionToken(b, realisticClaims)
	bearerReq := func(t string) *http.Request {
		return newRequest(http.MethodGet, "https://app.example.com/assets/app.js", "Authorization", "Bearer "+t, "Accept", "*/*", "User-Agent", "bench")
	}
	cookieReq := newRequest(http.MethodGet, "https://app.example.com/assets/app.js",
		"Cookie", "__session="+token+"; __client_uat=1766999000; _ga=GA1.1.123", "Accept", "*/*", "Sec-Fetch-Dest", "script", "User-Agent", "bench")

	b.Run("passthrough", func(b *testing.B) {
		benchRequests(b, passThrough{}, []*http.Request{bearerReq(token)}, false)
	})
	b.Run("warm-bearer", func(b *testing.B) {
		h := benchHandler(b)
		benchRequests(b, h, []*http.Request{bearerReq(token)}, false)
	})
	b.Run("warm-all-headers", func(b *testing.B) {
		// upstream_headers all: the permission, plan and feature headers
		// too, eight in all, which outgrow the small header map of a
		// request with three headers.
		h := benchHandler(b, func(h *Handler) { h.UpstreamHeaders = "all" })
		benchRequests(b, h, []*http.Request{bearerReq(token)}, false)
	})
	b.Run("warm-user", func(b *testing.B) {
		// A session without an organization: two identity headers
		// instead of five.
		user := sessionToken(b, realisticClaims, func(c map[string]any) { delete(c, "o") })
		h := benchHandler(b)
		benchRequests(b, h, []*http.Request{bearerReq(user)}, false)
	})
	b.Run("warm-cookie", func(b *testing.B) {
		h := benchHandler(b)
		benchRequests(b, h, []*http.Request{cookieReq}, false)
	})
	b.Run("no-token", func(b *testing.B) {
		h := benchHandler(b)
		benchRequests(b, h, []*http.Request{newRequest(http.MethodGet, "https://app.example.com/api", "Accept", "*/*")}, true)
	})
	// The cold requests: 512 distinct tokens, more than the cold handler's
	// cache holds.
	var coldReqs []*http.Request
	coldRequests := func(b *testing.B) []*http.Request {
		if coldReqs == nil {
			for _, t := range mintTokens(b, 512) {
				coldReqs = append(coldReqs, bearerReq(t))
			}
		}
		return coldReqs
	}
	b.Run("passthrough-cold", func(b *testing.B) {
		// The baseline of cold-bearer: the same requests, cycled the same
		// way, so that only the handler differs.
		benchRequests(b, passThrough{}, coldRequests(b), false)
	})
	b.Run("cold-bearer", func(b *testing.B) {
		// Cycling over more tokens than the cache holds misses every time
		// (CLOCK on a cyclic pattern): each request verifies and inserts.
		size := 256
		h := benchHandler(b, func(h *Handler) { h.CacheSize = &size })
		keys := countKeyLookupsB(b, h)
		benchRequests(b, h, coldRequests(b), false)
		b.ReportMetric(float64(keys.lookups.Load())/float64(b.N), "verifies/op")
	})
}

// BenchmarkColdFullCache is the cold case with a cache of the load
// benchmark's size (bench/Caddyfile: 4096 entries) kept full, cycling over
// twice as many tokens: the garbage collector then marks a full cache's
// entries, as in a server under a flood of new tokens.
func BenchmarkColdFullCache(b *testing.B) {
	const size = 4096
	var reqs []*http.Request
	for _, t := range mintTokens(b, 2*size) {
		reqs = append(reqs, newRequest(http.MethodGet, "https://app.example.com/assets/app.js", "Authorization", "Bearer "+t, "Accept", "*/*", "User-Agent", "bench"))
	}
	b.Run("passthrough", func(b *testing.B) { benchRequests(b, passThrough{}, reqs, false) })
	b.Run("cold-bearer", func(b *testing.B) {
		n := size
		h := benchHandler(b, func(h *Handler) { h.CacheSize = &n })
		benchRequests(b, h, reqs, false)
	})
}

// benchHandler is the test handler logging as Caddy does by default (no
// debug lines).
func benchHandler(b *testing.B, edit ...func(*Handler)) *Handler {
	h := newTestHandler(b, edit...)
	h.useLogger(zap.NewNop())
	return h
}

func countKeyLookupsB(b *testing.B, h *Handler) *countingKeys {
	c := &countingKeys{Static: h.keys.(keys.Static)}
	h.useKeys(c)
	return c
}

// BenchmarkVerify is verification alone (decode, header checks, signature,
// claims, session) against the RSA work it cannot avoid: SHA-256 of the
// signing input and rsa.VerifyPKCS1v15, on the same token.
func BenchmarkVerify(b *testing.B) {
	token := sessionToken(b, realisticClaims)
	d0, err := tokencache.Decode(token)
	if err != nil {
		b.Fatal(err)
	}
	// The key as the handler holds it: parsed from the PEM jwt_key.
	pub := benchHandler(b).keys.(keys.Static).Key.Pub
	sig, serr := base64.RawURLEncoding.DecodeString(d0.Sig)
	if serr != nil {
		b.Fatal(serr)
	}
	b.Run("raw-rsa-pkcs1v15", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for i := 0; i < b.N; i++ {
			sum := sha256.Sum256([]byte(d0.SigningInput))
			if rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) != nil {
				b.Fatal("bad signature")
			}
		}
	})
	b.Run("raw-prepared", func(b *testing.B) {
		// The same with the key's prepared modulus, as the handler
		// verifies (internal/rsaverify).
		prepared := rsaverify.Prepare(benchHandler(b).keys.(keys.Static).Key.Pub)
		b.ReportAllocs()
		defer reportCPU(b)()
		for i := 0; i < b.N; i++ {
			sum := sha256.Sum256([]byte(d0.SigningInput))
			if prepared.VerifyPKCS1v15(crypto.SHA256, sum[:], sig) != nil {
				b.Fatal("bad signature")
			}
		}
	})
	b.Run("decode-and-verify", func(b *testing.B) {
		zero := 0
		h := benchHandler(b, func(h *Handler) { h.CacheSize = &zero })
		ctx := context.Background()
		b.ReportAllocs()
		defer reportCPU(b)()
		for i := 0; i < b.N; i++ {
			d, err := tokencache.Decode(token)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := h.verifySession(ctx, d, testNow); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode-only", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for i := 0; i < b.N; i++ {
			if _, err := tokencache.Decode(token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("session-and-entitlements", func(b *testing.B) {
		// What a verified token costs once before it is cached: the
		// session and the values its headers publish.
		b.ReportAllocs()
		defer reportCPU(b)()
		for i := 0; i < b.N; i++ {
			if s := session.New(&d0.Claims, d0.Payload); s.Entitlements().PermsValue == "" {
				b.Fatal("no permissions")
			}
		}
	})
	b.Run("cache-hit", func(b *testing.B) {
		h := benchHandler(b)
		if d, _ := tokencache.Decode(token); d == nil {
			b.Fatal("no token")
		} else if _, err := h.verifySession(context.Background(), d, testNow); err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		defer reportCPU(b)()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			e := h.cache.Get(token)
			if e == nil {
				b.Fatal("miss")
			}
			if _, err := h.verifySession(ctx, &e.JWT, testNow); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCacheMemory fills a default-sized cache with distinct tokens of
// realistic size, then floods it with three times as many, and reports the
// heap per entry after the fill and after the flood.
func BenchmarkCacheMemory(b *testing.B) {
	token := sessionToken(b, realisticClaims)
	variant := cacheTokenVariants(b)
	for n := 0; n < b.N; n++ {
		c := tokencache.New(tokencache.DefaultSize)
		fill := func(from, to int) {
			for i := from; i < to; i++ {
				d, err := tokencache.Decode(variant(i))
				if err != nil {
					b.Fatal(err)
				}
				c.Put(tokencache.Complete(d, nil), testNow, 0)
			}
		}
		before := heapInUse()
		fill(0, tokencache.DefaultSize)
		afterFill := heapInUse()
		fill(tokencache.DefaultSize, 4*tokencache.DefaultSize)
		afterFlood := heapInUse()
		b.ReportMetric(float64(afterFill-before)/float64(c.Len()), "B/entry")
		b.ReportMetric(float64(afterFlood-before)/float64(c.Len()), "B/entry-after-flood")
		b.ReportMetric(float64(len(token)), "token-bytes")
		runtime.KeepAlive(c)
	}
}

// reportGC reports the garbage collector's CPU per operation, all threads
// (gc-ns/op: mark assists, dedicated background marking and pauses, as
// runtime/metrics estimates them; not the marking done on idle processors,
// which a loaded server has none of), and the collections per thousand
// operations. reportCPU counts only the benchmark's thread, which leaves
// out the background mark workers.
func reportGC(b *testing.B) func() {
	read := gcMetrics()
	runtime.GC()
	gc0, n0 := read()
	return func() {
		gc1, n1 := read()
		b.ReportMetric((gc1-gc0)*1e9/float64(b.N), "gc-ns/op")
		b.ReportMetric(float64(n1-n0)*1000/float64(b.N), "gcs/kop")
	}
}

// gcMetrics returns a reader of the collector's CPU seconds (but idle
// marking) and its number of cycles.
func gcMetrics() func() (gcSec float64, cycles uint64) {
	samples := []metrics.Sample{
		{Name: "/cpu/classes/gc/mark/assist:cpu-seconds"},
		{Name: "/cpu/classes/gc/mark/dedicated:cpu-seconds"},
		{Name: "/cpu/classes/gc/pause:cpu-seconds"},
		{Name: "/gc/cycles/total:gc-cycles"},
	}
	return func() (float64, uint64) {
		metrics.Read(samples)
		return samples[0].Value.Float64() + samples[1].Value.Float64() + samples[2].Value.Float64(), samples[3].Value.Uint64()
	}
}

// BenchmarkCacheGC is what a full default-sized cache of realistic entries
// costs each garbage collection: one forced collection per operation, its
// wall time, and the collector's CPU (all threads, idle marking included,
// as a forced cycle's marking is all the work there is), against the same
// collection with the cache empty. A cold request's share is this times
// the collections per request, which its allocations decide.
func BenchmarkCacheGC(b *testing.B) {
	variant := cacheTokenVariants(b)
	var emptyScan, emptyLive float64
	for _, full := range []bool{false, true} {
		name := "empty"
		if full {
			name = "full"
		}
		b.Run(name, func(b *testing.B) {
			c := tokencache.New(tokencache.DefaultSize)
			for i := 0; full && i < tokencache.DefaultSize; i++ {
				d, err := tokencache.Decode(variant(i))
				if err != nil {
					b.Fatal(err)
				}
				c.Put(tokencache.Complete(d, nil), testNow, 0)
			}
			if full && c.Len() < tokencache.DefaultSize*9/10 { // shards fill unevenly
				b.Fatalf("%d entries", c.Len())
			}
			total := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/gc/scan/heap:bytes"}, {Name: "/gc/heap/live:bytes"}}
			runtime.GC()
			metrics.Read(total)
			start := total[0].Value.Float64()
			// The heap the last cycle could scan (objects with pointers, up
			// to their last pointer) and the heap it found live: with the
			// cache full, their growth over the empty cache's, per entry.
			scan, live := float64(total[1].Value.Uint64()), float64(total[2].Value.Uint64())
			if !full {
				emptyScan, emptyLive = scan, live
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				runtime.GC()
			}
			b.StopTimer()
			metrics.Read(total)
			b.ReportMetric((total[0].Value.Float64()-start)*1e6/float64(b.N), "gc-cpu-µs/cycle")
			if full {
				b.ReportMetric((scan-emptyScan)/float64(c.Len()), "scan-B/entry")
				b.ReportMetric((live-emptyLive)/float64(c.Len()), "live-B/entry")
			}
			runtime.KeepAlive(c)
		})
	}
}

// cacheTokenVariants returns distinct tokens that decode like a realistic one:
// the i-th has jti i and i in its signature's tail, which the cache hashes
// (their signatures are not checked here).
func cacheTokenVariants(b *testing.B) func(i int) string {
	token := sessionToken(b, realisticClaims)
	d0, _ := tokencache.Decode(token)
	head, _, _ := strings.Cut(token, ".")
	sig := token[strings.LastIndexByte(token, '.'):]
	return func(i int) string {
		payload := strings.Replace(d0.Payload, `"jti":"a1b2c3d4e5f6a7b8c9d0"`, fmt.Sprintf(`"jti":"%020d"`, i), 1)
		// Digits are base64url; the last character keeps its clean bits.
		return head + "." + testkit.RawURL(payload) + sig[:len(sig)-21] + fmt.Sprintf("%020d", i) + sig[len(sig)-1:]
	}
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
