package clerkauth

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/authn"
	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// The attacks of the outside review on token spellings, the session
// parameter, what clients are told, the clients that carry the secret key,
// and the nonce exchange. Cases that fit the table of attack_test.go are
// run through the same assertions (runAttacks); the rest are tests of their
// own, named TestAttack...

// runAttacks runs cases as TestAttacks does: denied, with the status and
// the reason in the header and the placeholder, nothing secret logged.
func runAttacks(t *testing.T, cases []attack) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h *Handler
			if c.handler != nil {
				h = c.handler(t)
			} else {
				h = newTestHandler(t)
			}
			logs := observeLogs(h)
			r := c.request(t)
			out := serve(h, r)
			if out.upstream != nil {
				t.Fatalf("the attack was let through (user %q)", out.repl.ReplaceAll("{http.auth.user.id}", ""))
			}
			if got := out.status(); got != c.status {
				t.Errorf("status %d, want %d (err %v)", got, c.status, out.err)
			}
			if got := out.rec.Header().Get(wire.HeaderAuthReason); got != c.reason {
				t.Errorf("X-Clerk-Auth-Reason %q, want %q", got, c.reason)
			}
			if got, _ := out.repl.GetString("http.auth.clerk.reason"); got != c.reason {
				t.Errorf("reason placeholder %q, want %q", got, c.reason)
			}
			if c.check != nil {
				c.check(t, out)
			}
			requireNoSecretsLogged(t, logs, h, r)
		})
	}
}

// insertInSignature puts s in the middle of the token's signature.
func insertInSignature(tok, s string) string {
	i := strings.LastIndexByte(tok, '.') + 40
	return tok[:i] + s + tok[i:]
}

// insertInPart puts s in the middle of the token's header (0) or payload (1).
func insertInPart(tok string, part int, s string) string {
	h, p, sig := splitToken(tok)
	parts := []string{h, p}
	parts[part] = parts[part][:len(parts[part])/2] + s + parts[part][len(parts[part])/2:]
	return parts[0] + "." + parts[1] + "." + sig
}

func TestAttacksTokenSpelling(t *testing.T) {
	bearerReq := func(tok string) *http.Request {
		return newRequest(http.MethodGet, "https://app.example.com/api", "Authorization", "Bearer "+tok)
	}
	cookieRaw := func(v string) *http.Request {
		return newRequest(http.MethodGet, "https://app.example.com/api", "Cookie", "__session="+v+"; __client_uat=1")
	}
	var cases []attack
	for _, v := range []struct{ name, s string }{{"CRLF", "\r\n"}, {"LF", "\n"}, {"CR", "\r"}, {"ManyCRLF", strings.Repeat("\r\n", 200)}} {
		cases = append(cases,
			attack{name: "Token" + v.name + "InSignature", status: 401, reason: wire.ReasonTokenInvalid,
				request: func(t *testing.T) *http.Request { return bearerReq(insertInSignature(sessionToken(t), v.s)) }},
			attack{name: "Token" + v.name + "InHeaderPart", status: 401, reason: wire.ReasonTokenInvalid,
				request: func(t *testing.T) *http.Request { return bearerReq(insertInPart(sessionToken(t), 0, v.s)) }},
			attack{name: "Token" + v.name + "InPayloadPart", status: 401, reason: wire.ReasonTokenInvalid,
				request: func(t *testing.T) *http.Request { return bearerReq(insertInPart(sessionToken(t), 1, v.s)) }},
		)
	}
	// In a cookie, CR and LF arrive percent-encoded: the cookie value is
	// decoded before it is read as a token.
	for _, enc := range []struct{ name, s string }{{"PercentCRLF", "%0D%0A"}, {"PercentLF", "%0a"}, {"PercentCR", "%0d"}} {
		cases = append(cases, attack{name: "Token" + enc.name + "InSignatureInCookie", status: 401, reason: wire.ReasonTokenInvalid,
			request: func(t *testing.T) *http.Request { return cookieRaw(insertInSignature(sessionToken(t), enc.s)) }})
	}
	runAttacks(t, cases)
}

// TestAttackTokenSpellingsShareOneCacheEntry: the spellings Clerk accepts
// (padding after the signature, as its loose base64url parser drops it) are
// one cache entry; the ones it refuses are refused and stored nowhere.
func TestAttackTokenSpellingsShareOneCacheEntry(t *testing.T) {
	h := newTestHandler(t)
	tok := sessionToken(t)
	accepted := []string{tok, tok + "=", tok + "==", tok + strings.Repeat("=", 100)}
	refused := []string{}
	for i := 0; i < 50; i++ {
		refused = append(refused, insertInSignature(tok, strings.Repeat("\n", i+1)), insertInSignature(tok, strings.Repeat("\r\n", i+1)))
	}
	for _, v := range accepted {
		if out := serve(h, bearerRequest(v)); out.upstream == nil {
			t.Fatalf("a spelling Clerk accepts was denied: %s", out.rec.Header().Get(wire.HeaderAuthReason))
		}
	}
	for _, v := range refused {
		if out := serve(h, bearerRequest(v)); out.upstream != nil {
			t.Fatal("a token with CR or LF was accepted")
		}
	}
	if n := h.cache.Len(); n != 1 {
		t.Errorf("%d spellings of one credential made %d cache entries, want 1", len(accepted)+len(refused), n)
	}
}

// TestAttackCacheBytesPerEntry floods a handler with distinct valid tokens
// of realistic size, each in a Cookie header that also carries 4 KB of
// other cookies (analytics, a CSRF token), and measures the heap each cache
// entry holds: an entry holds its token, not the header it came in.
func TestAttackCacheBytesPerEntry(t *testing.T) {
	if testing.Short() {
		t.Skip("signs a thousand tokens")
	}
	const n = 1000
	h := newTestHandler(t)
	others := "_ga=" + strings.Repeat("g", 2000) + "; csrftoken=" + strings.Repeat("c", 2000)
	toks := make([]string, n)
	for i := range toks {
		toks[i] = sessionToken(t, realisticClaims, func(c map[string]any) { c["jti"] = fmt.Sprintf("%020d", i) })
	}
	tokLen := len(toks[0])
	// Each request and its header are made, served and dropped: what the
	// heap holds afterwards beyond the tokens themselves is the cache's.
	before := heapInUse()
	for _, tok := range toks {
		r := newRequest(http.MethodGet, "https://app.example.com/api", "Cookie", others+"; __session="+tok+"; __client_uat=1")
		if out := serve(h, r); out.upstream == nil {
			t.Fatalf("denied: %s", out.rec.Header().Get(wire.HeaderAuthReason))
		}
	}
	after := heapInUse()
	runtime.KeepAlive(toks)
	if got := h.cache.Len(); got != n {
		t.Fatalf("%d entries, want %d", got, n)
	}
	per := float64(after-before) / n
	t.Logf("%d entries of %d-byte tokens from %d-byte Cookie headers: %.0f bytes per entry", n, tokLen, len(others)+tokLen+30, per)
	if per > 4096 {
		t.Errorf("%.0f bytes per cache entry for a %d-byte token; want under 4 KB (the entry must not keep the request's header)", per, tokLen)
	}
	runtime.KeepAlive(h)
}

func TestAttacksSessionParamSpellings(t *testing.T) {
	withQuery := func(q string) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			return newRequest(http.MethodGet, "https://app.example.com/api?"+q, "Authorization", "Bearer "+sessionToken(t))
		}
	}
	var cases []attack
	for _, q := range []struct{ name, query string }{
		{"SemicolonSeparated", "x=1;_clerk_session_id=sess_2"},
		{"SemicolonAfterValue", "_clerk_session_id=sess_1;x=1"},
		{"SemicolonOnlyRightSession", "x=1;_clerk_session_id=sess_1"},
		{"PHPDot", "_clerk.session_id=sess_2"},
		{"PHPSpaceEncoded", "_clerk%20session_id=sess_2"},
		{"PHPPlus", "_clerk+session_id=sess_2"},
		{"PHPLeadingSpace", "%20_clerk_session_id=sess_2"},
		{"PHPUnmatchedBracket", "_clerk[session_id=sess_2"},
		{"ArrayEmpty", "_clerk_session_id[]=sess_2"},
		{"ArrayEmptyEncoded", "_clerk_session_id%5B%5D=sess_2"},
		{"ArrayIndexed", "_clerk_session_id[0]=sess_2"},
		{"PercentEncodedUnderscore", "_clerk%5Fsession_id=sess_1"},
		{"PercentEncodedLetter", "_clerk_%73ession_id=sess_1"},
		{"UpperCase", "_CLERK_SESSION_ID=sess_2"},
		{"MixedCase", "_Clerk_Session_Id=sess_2"},
		{"CleanPlusPHPDot", "_clerk_session_id=sess_1&_clerk.session_id=sess_2"},
		{"CleanPlusArray", "_clerk_session_id=sess_1&_clerk_session_id[]=sess_2"},
		{"CleanPlusSemicolon", "_clerk_session_id=sess_1&x=1;_clerk_session_id=sess_2"},
	} {
		cases = append(cases, attack{name: "SessionParam" + q.name, status: 401, reason: wire.ReasonSessionIDMismatch, request: withQuery(q.query)})
	}
	// A configured name is folded the same way.
	custom := func(t *testing.T) *Handler {
		return newTestHandler(t, func(h *Handler) { h.SessionParam = "active_sid" })
	}
	for _, q := range []struct{ name, query string }{
		{"Dot", "active.sid=sess_2"}, {"Array", "active_sid[]=sess_2"}, {"Semicolon", "a=1;active_sid=sess_2"}, {"Case", "ACTIVE_SID=sess_2"},
	} {
		cases = append(cases, attack{name: "ConfiguredSessionParam" + q.name, status: 401, reason: wire.ReasonSessionIDMismatch, handler: custom, request: withQuery(q.query)})
	}
	// In a cookie-authenticated request too.
	cases = append(cases, attack{name: "SessionParamPHPDotWithCookie", status: 401, reason: wire.ReasonSessionIDMismatch,
		request: func(t *testing.T) *http.Request {
			return newRequest(http.MethodGet, "https://app.example.com/api?_clerk.session_id=sess_2", "Cookie", "__session="+sessionToken(t)+"; __client_uat=1")
		}})
	runAttacks(t, cases)
}

// TestSessionParamCleanOccurrenceStillSignsIn: one clean occurrence naming
// the token's session, and look-alike names that no parser folds into it,
// are let through.
func TestSessionParamCleanOccurrenceStillSignsIn(t *testing.T) {
	h := newTestHandler(t)
	for _, q := range []string{"", "_clerk_session_id=sess_1", "a=1&_clerk_session_id=sess_1&b=2", "_clerk_session_idx=sess_2", "x_clerk_session_id=sess_2", "_clerk_session=sess_2"} {
		r := newRequest(http.MethodGet, "https://app.example.com/api?"+q, "Authorization", "Bearer "+sessionToken(t))
		if out := serve(h, r); out.upstream == nil {
			t.Errorf("query %q denied: %s", q, out.rec.Header().Get(wire.HeaderAuthReason))
		}
	}
}

// closedPortURL is an http URL on loopback where nothing listens.
func closedPortURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String()
	l.Close()
	return u
}

func TestAttacksAuthMessageHoldsNoNetworkDetail(t *testing.T) {
	closed := closedPortURL(t)
	host := strings.TrimPrefix(closed, "http://")
	fixedMessage := func(leak ...string) func(*testing.T, served) {
		return func(t *testing.T, out served) {
			m := out.rec.Header().Get(wire.HeaderAuthMessage)
			if !strings.HasPrefix(m, keys.MsgKeysNotLoaded) {
				t.Errorf("X-Clerk-Auth-Message %q, want the fixed text %q", m, keys.MsgKeysNotLoaded)
			}
			for _, s := range append(leak, "dial", "lookup", "tcp", "127.0.0.1", "connect", "answered") {
				if strings.Contains(m, s) {
					t.Errorf("X-Clerk-Auth-Message %q tells the client %q", m, s)
				}
			}
		}
	}
	down := newKeyServer(t, nil)
	down.set(keys500, nil)
	cases := []attack{
		{name: "KeyEndpointRefusedMessage", status: 401, reason: wire.ReasonJWKRemoteFailedToLoad,
			handler: func(t *testing.T) *Handler {
				return newTestHandler(t, func(h *Handler) { h.JWTKey, h.JWKSURL = "", closed+"/jwks" })
			},
			request: func(t *testing.T) *http.Request { return bearerRequest(sessionToken(t)) },
			check:   fixedMessage(host)},
		{name: "KeyEndpointUnresolvableHostMessage", status: 401, reason: wire.ReasonJWKRemoteFailedToLoad,
			handler: func(t *testing.T) *Handler {
				return newTestHandler(t, func(h *Handler) { h.JWTKey, h.JWKSURL = "", "http://clerk-keys.internal.invalid/jwks" })
			},
			request: func(t *testing.T) *http.Request { return bearerRequest(sessionToken(t)) },
			check:   fixedMessage("internal", "invalid", "no such host", ":53")},
		{name: "KeyEndpoint500Message", status: 401, reason: wire.ReasonJWKRemoteFailedToLoad,
			handler: func(t *testing.T) *Handler { return jwksHandler(t, down) },
			request: func(t *testing.T) *http.Request { return bearerRequest(sessionToken(t)) },
			check:   fixedMessage("500")},
		{name: "IssuerMismatchMessageNamesNoConfiguration", status: 401, reason: wire.ReasonTokenInvalidIssuer,
			request: func(t *testing.T) *http.Request {
				return bearerRequest(sessionToken(t, func(c map[string]any) { c["iss"] = "https://clerk.other.com" }))
			},
			check: func(t *testing.T, out served) {
				if m := out.rec.Header().Get(wire.HeaderAuthMessage); strings.Contains(m, testFAPIHost) {
					t.Errorf("X-Clerk-Auth-Message %q names the configured issuer", m)
				}
			}},
	}
	runAttacks(t, cases)
}

// TestAttackKeyLoadDetailGoesToTheLog: what the client is not told, the
// operator is.
func TestAttackKeyLoadDetailGoesToTheLog(t *testing.T) {
	closed := closedPortURL(t)
	h := newTestHandler(t, func(h *Handler) { h.JWTKey, h.JWKSURL = "", closed+"/jwks" })
	logs := observeLogs(h)
	serve(h, bearerRequest(sessionToken(t)))
	host := strings.TrimPrefix(closed, "http://")
	found := false
	for _, e := range logs.All() {
		if strings.Contains(fmt.Sprint(e.ContextMap()), host) {
			found = true
		}
	}
	if !found {
		t.Errorf("no log entry says which address the key fetch failed to reach")
	}
}

// recorder is a server that records whether it was asked anything and
// whether an Authorization header reached it; it answers with next.
type recorder struct {
	srv      *httptest.Server
	requests atomic.Int32
	authSeen atomic.Int32
}

func newRecorder(t *testing.T, next http.HandlerFunc) *recorder {
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.requests.Add(1)
		if r.Header.Get("Authorization") != "" {
			rec.authSeen.Add(1)
		}
		next(w, r)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

// newRedirector answers every request with a 302 to the same path on to.
func newRedirector(t *testing.T, to string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, to+r.URL.RequestURI(), http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAttacksRedirectsNotFollowed(t *testing.T) {
	a, b := testkit.Keys(t)
	noSecretForwarded := func(rec *recorder) func(*testing.T, served) {
		return func(t *testing.T, out served) {
			if n := rec.authSeen.Load(); n != 0 {
				t.Errorf("the redirect target got the Authorization header %d times", n)
			}
			if n := rec.requests.Load(); n != 0 {
				t.Errorf("the redirect was followed %d times", n)
			}
		}
	}
	// The Backend API's JWKS (with the secret key) redirects to another
	// port of the same host, which serves the instance's real keys.
	bapiKeys := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(testkit.JWKS(map[string]*rsa.PublicKey{"ins_a": &a.PublicKey}))
	})
	// jwks_url (no secret) redirects to another host's keys: key B.
	foreignKeys := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(testkit.JWKS(map[string]*rsa.PublicKey{"ins_b": &b.PublicKey}))
	})
	foreignAddr := strings.Replace(foreignKeys.srv.URL, "127.0.0.1", "localhost", 1)
	// The nonce exchange redirects to a server that hands out a payload.
	nonceTarget := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"directives": []string{"__session=" + sessionToken(t), "__client_uat=1"}})
	})
	// The user lookup redirects to a Backend API that knows the user.
	users := newFakeBAPI(t)
	usersRec := newRecorder(t, users.srv.Config.Handler.ServeHTTP)

	cases := []attack{
		{name: "BackendAPIJWKSRedirectToOtherPort", status: 401, reason: wire.ReasonJWKRemoteFailedToLoad,
			handler: func(t *testing.T) *Handler {
				red := newRedirector(t, bapiKeys.srv.URL)
				return newTestHandler(t, func(h *Handler) { h.JWTKey, h.APIURL = "", red.URL })
			},
			request: func(t *testing.T) *http.Request { return bearerRequest(sessionToken(t)) },
			check:   noSecretForwarded(bapiKeys)},
		{name: "JWKSURLRedirectToAnotherHost", status: 401, reason: wire.ReasonJWKRemoteFailedToLoad,
			handler: func(t *testing.T) *Handler {
				red := newRedirector(t, foreignAddr)
				return newTestHandler(t, func(h *Handler) { h.JWTKey, h.JWKSURL = "", red.URL+"/jwks" })
			},
			request: func(t *testing.T) *http.Request {
				return bearerRequest(testkit.SignJWT(t, b, map[string]any{"alg": "RS256", "kid": "ins_b"}, sessionClaims()))
			},
			check: noSecretForwarded(foreignKeys)},
		{name: "NonceExchangeRedirectToOtherPort", status: 401, reason: wire.ReasonSessionTokenMissing,
			handler: func(t *testing.T) *Handler {
				red := newRedirector(t, nonceTarget.srv.URL)
				return newTestHandler(t, func(h *Handler) { h.APIURL = red.URL })
			},
			request: func(t *testing.T) *http.Request {
				return newRequest(http.MethodGet, "https://app.example.com/api?__clerk_handshake_nonce=n1")
			},
			check: noSecretForwarded(nonceTarget)},
		{name: "UserLookupRedirectToOtherPort", status: 403, reason: wire.ReasonUserLookupFailed,
			handler: func(t *testing.T) *Handler {
				red := newRedirector(t, usersRec.srv.URL)
				return newTestHandler(t, func(h *Handler) {
					h.SecretKey, h.APIURL = testUserSecret, red.URL
					h.Require = []Rule{{Kind: "email_domain", Values: []string{"example.com"}}}
				})
			},
			request: func(t *testing.T) *http.Request { return signedInRequest(t) },
			check:   noSecretForwarded(usersRec)},
	}
	runAttacks(t, cases)
}

// countingBAPI is a Backend API whose nonce exchange counts its calls,
// answers 404 for every nonce (none is genuine) and takes delay to answer.
type countingBAPI struct {
	srv   *httptest.Server
	calls atomic.Int32
	delay time.Duration
}

func newCountingBAPI(t *testing.T, delay time.Duration) *countingBAPI {
	c := &countingBAPI{delay: delay}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.calls.Add(1)
		time.Sleep(c.delay)
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"errors":[{"code":"resource_not_found"}]}`))
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func nonceRequest(method, nonce string, inCookie bool) *http.Request {
	if inCookie {
		return newRequest(method, "https://app.example.com/api", "Cookie", "__clerk_handshake_nonce="+nonce)
	}
	return newRequest(method, "https://app.example.com/api?__clerk_handshake_nonce="+nonce)
}

// TestAttackNonceRepeatedIsExchangedOnce: the same bogus nonce, over and
// over, in the query or a cookie, with any method, costs one call.
func TestAttackNonceRepeatedIsExchangedOnce(t *testing.T) {
	for _, v := range []struct {
		name     string
		method   string
		inCookie bool
	}{{"GETQuery", http.MethodGet, false}, {"POSTCookie", http.MethodPost, true}, {"DELETEQuery", http.MethodDelete, false}} {
		t.Run(v.name, func(t *testing.T) {
			bapi := newCountingBAPI(t, 0)
			h := newTestHandler(t, func(h *Handler) { h.APIURL = bapi.srv.URL })
			for i := 0; i < 100; i++ {
				if out := serve(h, nonceRequest(v.method, "bogus", v.inCookie)); out.upstream != nil {
					t.Fatal("a bogus nonce signed in")
				}
			}
			if n := bapi.calls.Load(); n != 1 {
				t.Errorf("100 requests with one bogus nonce made %d Backend API calls, want 1", n)
			}
		})
	}
}

// TestAttackNonceConcurrentShareOneExchange: requests carrying the same
// nonce at the same time wait for one exchange.
func TestAttackNonceConcurrentShareOneExchange(t *testing.T) {
	bapi := newCountingBAPI(t, 200*time.Millisecond)
	h := newTestHandler(t, func(h *Handler) { h.APIURL = bapi.srv.URL })
	var wg sync.WaitGroup
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			serve(h, nonceRequest(http.MethodGet, "same", false))
		}()
	}
	wg.Wait()
	if n := bapi.calls.Load(); n != 1 {
		t.Errorf("30 concurrent requests with one nonce made %d Backend API calls, want 1", n)
	}
}

// TestAttackNonceFloodIsRateLimited: distinct bogus nonces draw on the
// exchange bucket: at most its burst plus its rate over the flood's time.
func TestAttackNonceFloodIsRateLimited(t *testing.T) {
	bapi := newCountingBAPI(t, 0)
	h := newTestHandler(t, func(h *Handler) { h.APIURL = bapi.srv.URL })
	start := time.Now()
	const n = 300
	for i := 0; i < n; i++ {
		if out := serve(h, nonceRequest(http.MethodGet, fmt.Sprintf("bogus_%d", i), i%2 == 0)); out.upstream != nil {
			t.Fatal("a bogus nonce signed in")
		}
	}
	elapsed := time.Since(start)
	bound := authn.NonceExchangeBurst + int(elapsed.Seconds()*authn.NonceExchangeRate) + 1
	got := int(bapi.calls.Load())
	t.Logf("%d distinct bogus nonces in %v: %d Backend API calls (bound %d)", n, elapsed.Round(time.Millisecond), got, bound)
	if got > bound {
		t.Errorf("%d Backend API calls, want at most %d", got, bound)
	}
}

// TestAttackNonceWithHeaderTokenIsNotExchanged: as in Clerk's
// authenticateRequest, a request with a header token never resolves a
// handshake, so its nonce costs nothing.
func TestAttackNonceWithHeaderTokenIsNotExchanged(t *testing.T) {
	bapi := newCountingBAPI(t, 0)
	h := newTestHandler(t, func(h *Handler) { h.APIURL = bapi.srv.URL })
	r := newRequest(http.MethodGet, "https://app.example.com/api?__clerk_handshake_nonce=x", "Authorization", "Bearer "+sessionToken(t))
	serve(h, r)
	if n := bapi.calls.Load(); n != 0 {
		t.Errorf("a header-token request exchanged its nonce (%d calls)", n)
	}
}

// smallExponentKey is an RSA-2048 key with e = 3, made by hand (crypto/rsa
// only makes e = 65537), and a PKCS#1 v1.5 RS256 signer for it.
type smallExponentKey struct {
	pub rsa.PublicKey
	d   *big.Int
}

var (
	e3Once sync.Once
	e3Key  *smallExponentKey
)

func newSmallExponentKey(t *testing.T) *smallExponentKey {
	e3Once.Do(func() {
		three := big.NewInt(3)
		one := big.NewInt(1)
		for {
			p, _ := rand.Prime(rand.Reader, 1024)
			q, _ := rand.Prime(rand.Reader, 1024)
			phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
			n := new(big.Int).Mul(p, q)
			d := new(big.Int).ModInverse(three, phi)
			if d == nil || n.BitLen() != 2048 {
				continue
			}
			e3Key = &smallExponentKey{pub: rsa.PublicKey{N: n, E: 3}, d: d}
			return
		}
	})
	return e3Key
}

func (k *smallExponentKey) sign(t *testing.T, header, claims map[string]any) string {
	input := base64.RawURLEncoding.EncodeToString([]byte(mustJSON(header))) + "." + base64.RawURLEncoding.EncodeToString([]byte(mustJSON(claims)))
	sum := sha256.Sum256([]byte(input))
	prefix := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	em := make([]byte, 256)
	em[1] = 1
	tail := append(prefix, sum[:]...)
	for i := 2; i < len(em)-len(tail)-1; i++ {
		em[i] = 0xff
	}
	copy(em[len(em)-len(tail):], tail)
	s := new(big.Int).Exp(new(big.Int).SetBytes(em), k.d, k.pub.N).FillBytes(make([]byte, 256))
	if rsa.VerifyPKCS1v15(&k.pub, crypto.SHA256, sum[:], s) != nil {
		t.Fatal("the e=3 signer is broken")
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(s)
}

func TestAttacksHeaderTypeAndKeyExponent(t *testing.T) {
	a, _ := testkit.Keys(t)
	e3 := newSmallExponentKey(t)
	jwks := newKeyServer(t, map[string]*rsa.PublicKey{"ins_a": &a.PublicKey, "ins_e3": &e3.pub})
	typNull := func(t *testing.T) string {
		return testkit.SignJWT(t, a, map[string]any{"alg": "RS256", "kid": "ins_a", "typ": nil}, sessionClaims())
	}
	cases := []attack{
		{name: "TypNull", status: 401, reason: wire.ReasonTokenInvalid,
			request: func(t *testing.T) *http.Request { return bearerRequest(typNull(t)) }},
		{name: "TypNullInCookie", status: 401, reason: wire.ReasonTokenInvalid,
			request: func(t *testing.T) *http.Request {
				return newRequest(http.MethodGet, "https://app.example.com/api", "Cookie", "__session="+typNull(t)+"; __client_uat=1")
			}},
		{name: "TypNullViaJWKS", status: 401, reason: wire.ReasonTokenInvalid,
			handler: func(t *testing.T) *Handler { return jwksHandler(t, jwks) },
			request: func(t *testing.T) *http.Request { return bearerRequest(typNull(t)) }},
		{name: "KeyExponent3InJWKS", status: 401, reason: wire.ReasonJWKKidMismatch,
			handler: func(t *testing.T) *Handler { return jwksHandler(t, jwks) },
			request: func(t *testing.T) *http.Request {
				return bearerRequest(e3.sign(t, map[string]any{"alg": "RS256", "typ": "JWT", "kid": "ins_e3"}, sessionClaims()))
			}},
	}
	runAttacks(t, cases)
}

// TestAttackKeyExponent3AsJWTKeyIsRefused: a jwt_key with e = 3 does not
// provision, and says why.
func TestAttackKeyExponent3AsJWTKeyIsRefused(t *testing.T) {
	e3 := newSmallExponentKey(t)
	_, err := keys.CheckRSA(&e3.pub)
	if err == nil || !strings.Contains(err.Error(), "exponent") {
		t.Fatalf("an e=3 key was accepted (%v)", err)
	}
	even := rsa.PublicKey{N: e3.pub.N, E: 65538}
	if _, err := keys.CheckRSA(&even); err == nil {
		t.Error("an even exponent was accepted")
	}
}
