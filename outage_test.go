package clerkauth

import (
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"go.uber.org/zap"
)

// keyServer is a JWKS endpoint whose behaviour a test switches while the
// handler runs: it serves the keys it holds, or fails in one of the ways a
// key endpoint fails. It counts fetches and records the paths asked for.
type keyServer struct {
	srv     *httptest.Server
	fetches atomic.Int64

	mu      sync.Mutex
	keys    map[string]*rsa.PublicKey
	mode    keyServerMode
	paths   []string
	release chan struct{} // closed to end every hanging request
	entered chan struct{} // receives once per request that starts hanging
}

type keyServerMode string

const (
	keysOK    keyServerMode = "ok"
	keysDown  keyServerMode = "down"  // the connection is dropped: no HTTP answer
	keys500   keyServerMode = "500"   // Internal Server Error, JSON error body
	keysHTML  keyServerMode = "html"  // 200 with an HTML page (a captive portal, a proxy's error page)
	keysEmpty keyServerMode = "empty" // 200 {"keys":[]}
	keysHang  keyServerMode = "hang"  // no answer until the test releases it
)

func newKeyServer(t testing.TB, keys map[string]*rsa.PublicKey) *keyServer {
	t.Helper()
	ks := &keyServer{keys: keys, mode: keysOK, release: make(chan struct{}), entered: make(chan struct{}, 1024)}
	ks.srv = httptest.NewServer(http.HandlerFunc(ks.serve))
	t.Cleanup(func() {
		ks.mu.Lock()
		select {
		case <-ks.release:
		default:
			close(ks.release)
		}
		ks.mu.Unlock()
		ks.srv.Close()
	})
	return ks
}

func (ks *keyServer) url() string { return ks.srv.URL + "/jwks" }

func (ks *keyServer) set(mode keyServerMode, keys map[string]*rsa.PublicKey) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.mode = mode
	if keys != nil {
		ks.keys = keys
	}
}

// releaseHanging answers every request hanging so far with the key set.
func (ks *keyServer) releaseHanging() {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	close(ks.release)
	ks.release = make(chan struct{})
}

func (ks *keyServer) seenPaths() []string {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return append([]string(nil), ks.paths...)
}

func (ks *keyServer) serve(w http.ResponseWriter, r *http.Request) {
	ks.fetches.Add(1)
	ks.mu.Lock()
	ks.paths = append(ks.paths, r.URL.RequestURI())
	mode, body, release := ks.mode, testkit.JWKS(ks.keys), ks.release
	ks.mu.Unlock()
	switch mode {
	case keysDown:
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
			}
		}
	case keys500:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"errors":[{"code":"internal_clerk_error"}]}`))
	case keysHTML:
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body>Service Unavailable</body></html>"))
	case keysEmpty:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[]}`))
	case keysHang:
		ks.entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		ks.mu.Lock()
		body = testkit.JWKS(ks.keys)
		ks.mu.Unlock()
		_, _ = w.Write(body)
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}
}

// jwksHandler is the test handler with its keys from ks instead of a PEM.
func jwksHandler(t testing.TB, ks *keyServer, edit ...func(*Handler)) *Handler {
	t.Helper()
	return newTestHandler(t, append([]func(*Handler){func(h *Handler) { h.JWTKey, h.JWKSURL = "", ks.url() }}, edit...)...)
}

// withKeyTiming shortens the key sets created during the test.
func withKeyTiming(t *testing.T, edit func(*keys.Timing)) {
	old := keys.DefaultTiming
	edit(&keys.DefaultTiming)
	t.Cleanup(func() { keys.DefaultTiming = old })
}

func bearerRequest(tok string) *http.Request {
	return newRequest(http.MethodGet, "https://app.example.com/api", "Authorization", "Bearer "+tok)
}

// outcome is a request's fate: "" when signed in, else the reason.
func outcome(h *Handler, tok string) string {
	out := serve(h, bearerRequest(tok))
	if out.upstream != nil {
		return ""
	}
	if r := out.rec.Header().Get(wire.HeaderAuthReason); r != "" {
		return r
	}
	return "no reason given"
}

// eventually polls cond every few milliseconds; the deadline only keeps a
// broken build from hanging, it is not what the test measures.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestKeyEndpointDownAtStart(t *testing.T) {
	withKeyTiming(t, func(k *keys.Timing) { k.Retry, k.UnknownKid = 20*time.Millisecond, 100*time.Millisecond })
	a, _ := testkit.Keys(t)
	ks := newKeyServer(t, map[string]*rsa.PublicKey{"ins_a": &a.PublicKey})
	ks.set(keysDown, nil)
	h := jwksHandler(t, ks) // provisions: Caddy starts without Clerk
	h.useLogger(zap.NewNop())
	tok := sessionToken(t)
	if got := outcome(h, tok); got != wire.ReasonJWKRemoteFailedToLoad {
		t.Fatalf("with the key endpoint down: %q, want %s", got, wire.ReasonJWKRemoteFailedToLoad)
	}
	ks.set(keysOK, nil)
	denied := 0
	eventually(t, "keys to arrive once the endpoint is back", func() bool {
		switch got := outcome(h, tok); got {
		case "":
			return true
		case wire.ReasonJWKRemoteFailedToLoad:
			denied++
			return false
		default:
			t.Fatalf("while waiting for keys: %q", got)
			return false
		}
	})
	t.Logf("accepted without a restart after %d more denials and %d fetches", denied, ks.fetches.Load())
}

// TestKeyEndpointFailures: each way the endpoint fails, at start (denied with
// a reason) and after a warm-up (the last good keys keep verifying).
func TestKeyEndpointFailures(t *testing.T) {
	a, b := testkit.Keys(t)
	for _, c := range []struct {
		name        string
		mode        keyServerMode
		keys        map[string]*rsa.PublicKey
		atStart     string // reason at start
		afterWarmUp string // outcome after warm-up: "" is signed in
	}{
		{"Down", keysDown, nil, wire.ReasonJWKRemoteFailedToLoad, ""},
		{"InternalServerError", keys500, nil, wire.ReasonJWKRemoteFailedToLoad, ""},
		{"HTML", keysHTML, nil, wire.ReasonJWKRemoteFailedToLoad, ""},
		{"EmptySet", keysEmpty, nil, wire.ReasonJWKRemoteFailedToLoad, ""},
		// A set without our kid is a rotation as far as anyone can tell:
		// it replaces the keys, and tokens of the old kid stop verifying.
		{"SetWithoutOurKid", keysOK, map[string]*rsa.PublicKey{"ins_b": &b.PublicKey}, wire.ReasonJWKKidMismatch, wire.ReasonJWKKidMismatch},
	} {
		t.Run(c.name+"AtStart", func(t *testing.T) {
			withKeyTiming(t, func(k *keys.Timing) { k.Retry = time.Hour })
			ks := newKeyServer(t, map[string]*rsa.PublicKey{"ins_a": &a.PublicKey})
			ks.set(c.mode, c.keys)
			h := jwksHandler(t, ks)
			h.useLogger(zap.NewNop())
			if got := outcome(h, sessionToken(t)); got != c.atStart {
				t.Errorf("outcome %q, want %q", got, c.atStart)
			}
		})
		t.Run(c.name+"AfterWarmUp", func(t *testing.T) {
			withKeyTiming(t, func(k *keys.Timing) {
				k.Refresh, k.Retry, k.UnknownKid = 10*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond
			})
			ks := newKeyServer(t, map[string]*rsa.PublicKey{"ins_a": &a.PublicKey})
			h := jwksHandler(t, ks)
			h.useLogger(zap.NewNop())
			tok := sessionToken(t)
			if got := outcome(h, tok); got != "" {
				t.Fatalf("warm-up request denied: %q", got)
			}
			ks.set(c.mode, c.keys)
			n := ks.fetches.Load()
			eventually(t, "three background refreshes against the failing endpoint", func() bool { return ks.fetches.Load() >= n+3 })
			if got := outcome(h, tok); got != c.afterWarmUp {
				t.Errorf("outcome %q, want %q", got, c.afterWarmUp)
			}
		})
	}
}

// TestKeyEndpointSlow: requests that arrive while the first fetch is under
// way wait for that one fetch, however many they are.
func TestKeyEndpointSlow(t *testing.T) {
	a, _ := testkit.Keys(t)
	const waiting = 50
	for _, c := range []struct {
		name    string
		answer  bool   // the endpoint answers in time
		outcome string // of every waiting request
	}{
		{"AnswersLate", true, ""},
		{"NeverAnswers", false, wire.ReasonJWKRemoteFailedToLoad},
	} {
		t.Run(c.name, func(t *testing.T) {
			withKeyTiming(t, func(k *keys.Timing) {
				k.Retry, k.UnknownKid, k.FetchTimeout = time.Hour, time.Hour, 500*time.Millisecond
			})
			ks := newKeyServer(t, map[string]*rsa.PublicKey{"ins_a": &a.PublicKey})
			ks.set(keysHang, nil)
			h := jwksHandler(t, ks)
			h.useLogger(zap.NewNop())
			<-ks.entered // the start-up fetch is hanging
			tok := sessionToken(t)
			var wg sync.WaitGroup
			outcomes := make(chan string, waiting)
			var longest atomic.Int64
			for i := 0; i < waiting; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					start := time.Now()
					outcomes <- outcome(h, tok)
					if d := int64(time.Since(start)); d > longest.Load() {
						longest.Store(d)
					}
				}()
			}
			if c.answer {
				time.Sleep(100 * time.Millisecond) // let the requests queue up
				ks.releaseHanging()
			}
			wg.Wait()
			close(outcomes)
			for got := range outcomes {
				if got != c.outcome {
					t.Errorf("outcome %q, want %q", got, c.outcome)
				}
			}
			if n := ks.fetches.Load(); n != 1 {
				t.Errorf("%d requests caused %d fetches, want the one in flight", waiting, n)
			}
			t.Logf("%d waiting requests, %d fetch, longest wait %v (fetch timeout %v)", waiting, ks.fetches.Load(), time.Duration(longest.Load()), keys.DefaultTiming.FetchTimeout)
		})
	}
}

// TestUnknownKidFlood: tokens naming random kids cost at most one fetch per
// unknown-kid interval, whatever their number.
func TestUnknownKidFlood(t *testing.T) {
	a, _ := testkit.Keys(t)
	for _, interval := range []time.Duration{keys.UnknownKidInterval, 100 * time.Millisecond} {
		t.Run(interval.String(), func(t *testing.T) {
			withKeyTiming(t, func(k *keys.Timing) { k.UnknownKid = interval })
			ks := newKeyServer(t, map[string]*rsa.PublicKey{"ins_a": &a.PublicKey})
			h := jwksHandler(t, ks)
			h.useLogger(zap.NewNop())
			if got := outcome(h, sessionToken(t)); got != "" {
				t.Fatalf("warm-up request denied: %q", got)
			}
			const flood, workers = 5000, 4
			claims := mustJSON(sessionClaims())
			start := time.Now()
			var wg sync.WaitGroup
			var wrong atomic.Int64
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := w; i < flood; i += workers {
						// The kid is looked up before the signature is
						// checked, so the token need not be signed.
						hb := fmt.Sprintf(`{"alg":"RS256","kid":"ins_%08x"}`, i)
						tok := base64.RawURLEncoding.EncodeToString([]byte(hb)) + "." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".c2ln"
						if outcome(h, tok) != wire.ReasonJWKKidMismatch {
							wrong.Add(1)
						}
					}
				}(w)
			}
			wg.Wait()
			elapsed := time.Since(start)
			fetches := ks.fetches.Load() - 1 // the warm-up fetch
			bound := int64(elapsed/interval) + 1
			if wrong.Load() != 0 {
				t.Errorf("%d random-kid tokens were not denied with %s", wrong.Load(), wire.ReasonJWKKidMismatch)
			}
			if fetches > bound {
				t.Errorf("%d random-kid tokens in %v caused %d fetches; at most %d allowed", flood, elapsed, fetches, bound)
			}
			t.Logf("%d random-kid tokens in %v: %d fetches (bound %d at one per %v)", flood, elapsed.Round(time.Millisecond), fetches, bound, interval)
		})
	}
}

// TestKeyRotationUnderLoad: the instance publishes a new key, tokens move to
// it, the old key is retired; no valid token is denied on the way, no forged
// one accepted, and the retired key stops verifying once dropped.
func TestKeyRotationUnderLoad(t *testing.T) {
	withKeyTiming(t, func(k *keys.Timing) { k.Refresh, k.UnknownKid = 200*time.Millisecond, 50*time.Millisecond })
	a, b := testkit.Keys(t)
	ks := newKeyServer(t, map[string]*rsa.PublicKey{"ins_a": &a.PublicKey})
	h := jwksHandler(t, ks)
	h.useLogger(zap.NewNop())
	tokA := sessionToken(t)
	tokB := testkit.SignJWT(t, b, map[string]any{"alg": "RS256", "typ": "JWT", "kid": "ins_b"}, sessionClaims())
	forged := []string{
		testkit.SignJWT(t, b, map[string]any{"alg": "RS256", "kid": "ins_a"}, sessionClaims()), // B's signature, A's kid
		testkit.SignJWT(t, a, map[string]any{"alg": "RS256", "kid": "ins_b"}, sessionClaims()), // the retired key posing as the new one
	}

	var phase atomic.Int32 // 1: A only; 2: A and B; 3: B only
	phase.Store(1)
	var valid, deniedValid, forgedSent, forgedAccepted atomic.Int64
	var firstDenial atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := phase.Load()
				tok := tokA
				if p == 3 || (p == 2 && i%2 == 1) {
					tok = tokB
				}
				if got := outcome(h, tok); got != "" {
					deniedValid.Add(1)
					firstDenial.CompareAndSwap(nil, fmt.Sprintf("phase %d: %s", p, got))
				}
				valid.Add(1)
				if i%5 == 0 {
					forgedSent.Add(1)
					if outcome(h, forged[i%2]) == "" {
						forgedAccepted.Add(1)
					}
				}
			}
		}(w)
	}
	run := func(d time.Duration) { time.Sleep(d) }
	run(300 * time.Millisecond)
	// Publish B, and give it the unknown-kid interval before tokens use it
	// (publish-before-use, as a key rotation does).
	ks.set(keysOK, map[string]*rsa.PublicKey{"ins_a": &a.PublicKey, "ins_b": &b.PublicKey})
	run(100 * time.Millisecond)
	phase.Store(2)
	run(500 * time.Millisecond)
	phase.Store(3)
	run(100 * time.Millisecond)
	// Retire A.
	ks.set(keysOK, map[string]*rsa.PublicKey{"ins_b": &b.PublicKey})
	n := ks.fetches.Load()
	eventually(t, "two refreshes after A was dropped", func() bool { return ks.fetches.Load() >= n+2 })
	retired := outcome(h, tokA)
	run(300 * time.Millisecond)
	close(stop)
	wg.Wait()

	if deniedValid.Load() != 0 {
		t.Errorf("%d of %d valid requests denied during the rotation; first: %v", deniedValid.Load(), valid.Load(), firstDenial.Load())
	}
	if forgedAccepted.Load() != 0 {
		t.Errorf("%d of %d forged requests accepted", forgedAccepted.Load(), forgedSent.Load())
	}
	if retired != wire.ReasonJWKKidMismatch {
		t.Errorf("the retired key's token after it was dropped: %q, want %s", retired, wire.ReasonJWKKidMismatch)
	}
	t.Logf("rotation under load: %d valid requests (0 denied), %d forged (0 accepted), %d key fetches", valid.Load(), forgedSent.Load(), ks.fetches.Load())
}
