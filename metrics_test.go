package clerkauth

import (
	"crypto/rsa"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/authn"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/tokencache"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// countingJWKS is a JWKS endpoint that counts its hits and whose answer the
// test can change: a key set, or an error status.
type countingJWKS struct {
	*httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	code int
	body []byte
}

func newCountingJWKS(t testing.TB) *countingJWKS {
	j := &countingJWKS{code: http.StatusOK}
	j.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.hits.Add(1)
		j.mu.Lock()
		code, body := j.code, j.body
		j.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		w.Write(body)
	}))
	t.Cleanup(j.Close)
	return j
}

// serveKeys makes the endpoint answer with these keys, by kid.
func (j *countingJWKS) serveKeys(keys map[string]*rsa.PrivateKey) {
	pubs := make(map[string]*rsa.PublicKey, len(keys))
	for kid, k := range keys {
		pubs[kid] = &k.PublicKey
	}
	body := testkit.JWKS(pubs)
	j.mu.Lock()
	j.code, j.body = http.StatusOK, body
	j.mu.Unlock()
}

func (j *countingJWKS) serveError(code int) {
	j.mu.Lock()
	j.code, j.body = code, []byte(`{"errors":[{"code":"internal"}]}`)
	j.mu.Unlock()
}

// scrapeMetrics reads the admin endpoint's /metrics.
func scrapeMetrics(t testing.TB, adminAddr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, body := do(t, "GET", "http://"+adminAddr+"/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// sample is the value of the series of family name with exactly these
// labels, and whether it exists.
func sample(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if v, ok := labels[l.GetName()]; !ok || v != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// metricsSiteConfig is a server whose one route is clerk_auth (keys from the
// JWKS endpoint) in front of a 200 "ok", plus an admin endpoint.
func metricsSiteConfig(adminAddr, siteAddr, jwksURL string, handlers ...map[string]any) map[string]any {
	var routes []any
	for i, extra := range handlers {
		h := map[string]any{
			"handler": "clerk_auth", "publishable_key": testPK, "jwks_url": jwksURL,
			"authorized_parties": []string{testOrigin},
		}
		for k, v := range extra {
			h[k] = v
		}
		route := map[string]any{"handle": []any{h, map[string]any{"handler": "static_response", "status_code": 200, "body": "ok"}}}
		if i > 0 {
			route["match"] = []any{map[string]any{"path": []string{"/second/*"}}}
		}
		routes = append([]any{route}, routes...)
	}
	return map[string]any{
		"admin": adminConfig(adminAddr),
		"apps":  map[string]any{"http": map[string]any{"servers": map[string]any{"clerk": httpServerConfig(siteAddr, routes...)}}},
	}
}

// decisionCount reads the process-wide counter directly.
func decisionCount(status, reason string) float64 {
	return testutil.ToFloat64(clerkMetrics.decisions.WithLabelValues(status, reason))
}

func keyFetchCount(result string) float64 {
	return testutil.ToFloat64(clerkMetrics.keyFetches.WithLabelValues(result))
}

// TestMetricsOnAdminEndpoint sends requests of known outcomes through a real
// Caddy and checks that /metrics on the admin endpoint counts exactly them,
// before and after a config reload with two clerk_auth handlers.
func TestMetricsOnAdminEndpoint(t *testing.T) {
	a, b := testkit.Keys(t)
	jwks := newCountingJWKS(t)
	jwks.serveKeys(map[string]*rsa.PrivateKey{"ins_a": a})
	adminAddr, siteAddr := addr(testkit.FreePort(t)), addr(testkit.FreePort(t))
	site := "http://" + siteAddr

	type outcome struct{ status, reason string }
	signedIn := outcome{wire.StatusSignedIn, ""}
	noSession := outcome{wire.StatusSignedOut, wire.ReasonSessionTokenAndUATMissing}
	wrongAZP := outcome{wire.StatusSignedOut, wire.ReasonTokenInvalidAuthorizedParties}
	badSig := outcome{wire.StatusSignedOut, wire.ReasonTokenInvalidSignature}
	expiredPage := outcome{wire.StatusHandshake, wire.ReasonSessionTokenExpired + "-refresh-" + wire.RefreshNonEligibleNoCookie}
	all := []outcome{signedIn, noSession, wrongAZP, badSig, expiredPage}
	before := map[outcome]float64{}
	for _, o := range all {
		before[o] = decisionCount(o.status, o.reason)
	}
	fetchesBefore := keyFetchCount("ok")

	loadCaddy(t, metricsSiteConfig(adminAddr, siteAddr, jwks.URL+"/jwks", nil))

	valid := "Bearer " + sessionToken(t, liveTimes)
	expired := sessionToken(t, expiredTimes)
	d, _ := tokencache.Decode(expired)
	sent := map[outcome]float64{}
	send := func(o outcome, wantCode int, headers ...string) {
		t.Helper()
		resp := getAcrossReload(t, site+"/", headers...)
		if resp.StatusCode != wantCode {
			t.Fatalf("%v: status %d, want %d (reason %q)", o, resp.StatusCode, wantCode, resp.Header.Get(wire.HeaderAuthReason))
		}
		sent[o]++
	}
	for i := 0; i < 3; i++ {
		send(signedIn, 200, "Authorization", valid)
	}
	send(noSession, 401)
	send(noSession, 401)
	send(wrongAZP, 401, "Authorization", "Bearer "+sessionToken(t, liveTimes, func(c map[string]any) { c["azp"] = "https://evil.example" }))
	badToken := testkit.SignJWT(t, b, map[string]any{"alg": "RS256", "typ": "JWT", "kid": "ins_a"}, sessionClaims(liveTimes))
	send(badSig, 401, "Authorization", "Bearer "+badToken)
	uat := formatCount(d.Claims[jwt.ClaimIat].Num)
	send(expiredPage, 307, "Accept", "text/html", "Cookie", wire.CookieSession+"="+expired+"; "+wire.CookieClientUAT+"="+uat)

	check := func(phase string) {
		t.Helper()
		fams := scrapeMetrics(t, adminAddr)
		for _, o := range all {
			got, ok := sample(fams, "caddy_clerk_auth_decisions_total", map[string]string{"status": o.status, "reason": o.reason})
			if !ok {
				t.Errorf("%s: no decisions_total series for %v", phase, o)
				continue
			}
			if got-before[o] != sent[o] {
				t.Errorf("%s: decisions_total%v grew by %v, %v requests were sent", phase, o, got-before[o], sent[o])
			}
		}
		fetches, ok := sample(fams, "caddy_clerk_auth_key_fetches_total", map[string]string{"result": "ok"})
		if !ok || fetches-fetchesBefore != float64(jwks.hits.Load()) || jwks.hits.Load() == 0 {
			t.Errorf("%s: key_fetches_total{ok} grew by %v (present %v), the JWKS endpoint was hit %d times", phase, fetches-fetchesBefore, ok, jwks.hits.Load())
		}
		if _, ok := sample(fams, "caddy_clerk_auth_key_fetch_duration_seconds", nil); !ok {
			t.Errorf("%s: no key_fetch_duration_seconds", phase)
		}
		age, ok := sample(fams, "caddy_clerk_auth_key_set_age_seconds", map[string]string{"jwks_url": jwks.URL + "/jwks"})
		if !ok || age < 0 {
			t.Errorf("%s: key_set_age_seconds for %s: %v (present %v)", phase, jwks.URL, age, ok)
		}
		for _, name := range []string{"caddy_clerk_auth_cache_hits_total", "caddy_clerk_auth_cache_misses_total"} {
			if _, ok := fams[name]; !ok {
				t.Errorf("%s: %s is not exposed", phase, name)
			}
		}
	}
	check("first config")

	// A reload into a config with two clerk_auth handlers: the collectors are
	// registered twice in the new registry (tolerated), the counts go on,
	// and the shared key set is not fetched again.
	loadCaddy(t, metricsSiteConfig(adminAddr, siteAddr, jwks.URL+"/jwks", nil, map[string]any{"mode": "optional"}))
	send(signedIn, 200, "Authorization", valid)
	// The second handler is optional: a request without a session passes,
	// and is counted as signed out all the same.
	if resp := getAcrossReload(t, site+"/second/x"); resp.StatusCode != 200 {
		t.Fatalf("optional route: status %d", resp.StatusCode)
	}
	sent[noSession]++
	check("after reload")
}

// TestDisableMetrics: a handler with disable_metrics neither counts nor
// registers anything.
func TestDisableMetrics(t *testing.T) {
	a, _ := testkit.Keys(t)
	jwks := newCountingJWKS(t)
	jwks.serveKeys(map[string]*rsa.PrivateKey{"ins_a": a})
	adminAddr, siteAddr := addr(testkit.FreePort(t)), addr(testkit.FreePort(t))
	loadCaddy(t, metricsSiteConfig(adminAddr, siteAddr, jwks.URL+"/jwks", map[string]any{"disable_metrics": true}))

	before := decisionCount(wire.StatusSignedIn, "")
	if resp, _ := do(t, "GET", "http://"+siteAddr+"/", "Authorization", "Bearer "+sessionToken(t, liveTimes)); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if after := decisionCount(wire.StatusSignedIn, ""); after != before {
		t.Errorf("a handler with disable_metrics counted its decision: %v -> %v", before, after)
	}
	for name := range scrapeMetrics(t, adminAddr) {
		if strings.HasPrefix(name, "caddy_clerk_auth_") {
			t.Errorf("%s is exposed although the only handler disables metrics", name)
		}
	}
}

// BenchmarkRecordDecision is the hot-path cost of counting one decision.
func BenchmarkRecordDecision(b *testing.B) {
	h := &Handler{}
	d := &authn.Outcome{Status: wire.StatusSignedOut, Reason: wire.ReasonTokenInvalidSignature}
	b.ReportAllocs()
	for b.Loop() {
		h.recordDecision(d)
	}
}

// BenchmarkDecisionCounterWithLabelValues is the same without the cache:
// the client library's own label lookup, for comparison.
func BenchmarkDecisionCounterWithLabelValues(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		clerkMetrics.decisions.WithLabelValues(wire.StatusSignedOut, wire.ReasonTokenInvalidSignature).Inc()
	}
}

// TestRuleDenialIsCountedWithItsReason: a signed-in request refused by a
// rule counts once, as signed-in with the rule's reason, not as a pass.
func TestRuleDenialIsCountedWithItsReason(t *testing.T) {
	h := newTestHandler(t, func(h *Handler) { h.Require = []Rule{{Kind: "role", Values: []string{"admin"}}} })
	deniedBefore, passedBefore := decisionCount(wire.StatusSignedIn, wire.ReasonMissingRole), decisionCount(wire.StatusSignedIn, "")
	out := serve(h, newRequest("GET", testOrigin+"/admin", "Authorization", "Bearer "+sessionToken(t)))
	if out.status() != http.StatusForbidden {
		t.Fatalf("status %d, want 403", out.status())
	}
	if got := decisionCount(wire.StatusSignedIn, wire.ReasonMissingRole) - deniedBefore; got != 1 {
		t.Errorf("signed-in/%s counted %v times, want 1", wire.ReasonMissingRole, got)
	}
	if got := decisionCount(wire.StatusSignedIn, "") - passedBefore; got != 0 {
		t.Errorf("the denied request was also counted as a pass")
	}
}

// TestCacheHitsAndMissesAreCounted: the cache series count what the cache
// does, and nothing when the cache is off.
func TestCacheHitsAndMissesAreCounted(t *testing.T) {
	tok := "Bearer " + sessionToken(t)
	for _, size := range []int{100, 0} {
		h := newTestHandler(t, func(h *Handler) { h.CacheSize = &size })
		hits, misses := testutil.ToFloat64(clerkMetrics.cacheHits), testutil.ToFloat64(clerkMetrics.cacheMisses)
		for i := 0; i < 3; i++ {
			if out := serve(h, newRequest("GET", testOrigin+"/", "Authorization", tok)); out.upstream == nil {
				t.Fatalf("cache_size %d: request %d not signed in", size, i)
			}
		}
		wantHits, wantMisses := 2.0, 1.0
		if size == 0 {
			wantHits, wantMisses = 0, 0
		}
		if got := testutil.ToFloat64(clerkMetrics.cacheHits) - hits; got != wantHits {
			t.Errorf("cache_size %d: %v hits, want %v", size, got, wantHits)
		}
		if got := testutil.ToFloat64(clerkMetrics.cacheMisses) - misses; got != wantMisses {
			t.Errorf("cache_size %d: %v misses, want %v", size, got, wantMisses)
		}
	}
}

// getAcrossReload is a GET that is sent again when the connection fails
// before any answer: right after a reload, the old config's server, which
// shares the listener, can still take a connection as it shuts down and
// close it unanswered (a reset, seen under load). Such a request reached no
// handler, so it was not counted; an answered request is never resent.
func getAcrossReload(t *testing.T, url string, headers ...string) *http.Response {
	t.Helper()
	var lastErr error
	for range 5 {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Add(headers[i], headers[i+1])
		}
		resp, err := noRedirects.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp
		}
		lastErr = err
		noRedirects.CloseIdleConnections()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, lastErr)
	return nil
}
