package clerkauth

import (
	"errors"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/authn"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/machine"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"github.com/prometheus/client_golang/prometheus"
)

// The collectors live for the whole process, so counts go on across config
// reloads; each config's registry (Caddy makes a new one per config) gets
// them registered again when a clerk_auth handler is provisioned. Labels are
// bounded: statuses and reason codes are fixed sets, URLs come from the
// configuration, and nothing is ever labelled with a user or session id.
var clerkMetrics = struct {
	decisions        *prometheus.CounterVec
	keyFetches       *prometheus.CounterVec
	keyFetchDuration prometheus.Histogram
	keySetAge        prometheus.Collector
	cacheHits        prometheus.Counter
	cacheMisses      prometheus.Counter
	machineCalls     *prometheus.CounterVec
	machineCache     *prometheus.CounterVec
}{
	decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "clerk_auth", Name: "decisions_total",
		Help: "Requests decided by clerk_auth, by status (signed-in, signed-out, handshake) and reason code.",
	}, []string{"status", "reason"}),
	keyFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "clerk_auth", Name: "key_fetches_total",
		Help: "JWKS fetches, by result: ok, or the reason code of the failure.",
	}, []string{"result"}),
	keyFetchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "caddy", Subsystem: "clerk_auth", Name: "key_fetch_duration_seconds",
		Help:    "Duration of JWKS fetches, failed ones included.",
		Buckets: prometheus.DefBuckets,
	}),
	keySetAge: keySetAgeCollector{desc: prometheus.NewDesc(
		"caddy_clerk_auth_key_set_age_seconds",
		"Seconds since the key set was last fetched successfully (the oldest key set per JWKS URL).",
		[]string{"jwks_url"}, nil)},
	cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "clerk_auth", Name: "cache_hits_total",
		Help: "Verified-token cache hits.",
	}),
	cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "clerk_auth", Name: "cache_misses_total",
		Help: "Verified-token cache misses.",
	}),
	machineCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "clerk_auth", Name: "machine_verifications_total",
		Help: "Backend API verifications of opaque machine tokens, by token type and result: ok, the reason code of a failure, or skipped (refused without a call: too many in flight or the call budget spent).",
	}, []string{"kind", "result"}),
	machineCache: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "clerk_auth", Name: "machine_cache_total",
		Help: "Machine-token cache lookups, by token type and result: hit, negative_hit (a token Clerk rejected, answered without a call) or miss.",
	}, []string{"kind", "result"}),
}

// registerMetrics adds the collectors to a config's registry. Every handler
// of a config calls it; all but the first find them there already.
func registerMetrics(reg *prometheus.Registry) error {
	if reg == nil {
		return nil
	}
	m := &clerkMetrics
	for _, c := range []prometheus.Collector{m.decisions, m.keyFetches, m.keyFetchDuration, m.keySetAge, m.cacheHits, m.cacheMisses, m.machineCalls, m.machineCache} {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				return err
			}
		}
	}
	return nil
}

// recordDecision counts one request's outcome, labelled with its Clerk
// status and reason: a denial counts as signed-in with the rule's reason.
func (h *Handler) recordDecision(d *authn.Outcome) {
	if h.DisableMetrics {
		return
	}
	if d.Status == wire.StatusSignedIn && d.Reason == "" {
		signedInCounter().Inc()
		return
	}
	decisionCounter(d.Status, d.Reason).Inc()
}

// signedInCounter is the series of most requests, looked up once.
var signedInCounter = sync.OnceValue(func() prometheus.Counter { return decisionCounter(wire.StatusSignedIn, "") })

// decisionCounters caches the counter of each (status, reason) so that the
// hot path neither hashes labels nor allocates: a copy-on-write map, read
// without a lock, written once per label pair for the life of the process.
var decisionCounters struct {
	mu sync.Mutex
	m  atomic.Pointer[map[decisionKey]prometheus.Counter]
}

type decisionKey struct{ status, reason string }

func decisionCounter(status, reason string) prometheus.Counter {
	k := decisionKey{status, reason}
	if m := decisionCounters.m.Load(); m != nil {
		if c, ok := (*m)[k]; ok {
			return c
		}
	}
	decisionCounters.mu.Lock()
	defer decisionCounters.mu.Unlock()
	old := decisionCounters.m.Load()
	next := make(map[decisionKey]prometheus.Counter)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	c, ok := next[k]
	if !ok {
		c = clerkMetrics.decisions.WithLabelValues(status, reason)
		next[k] = c
		decisionCounters.m.Store(&next)
	}
	return c
}

// recordCacheHit and recordCacheMiss are for the verified-token cache.
func (h *Handler) recordCacheHit() {
	if !h.DisableMetrics {
		clerkMetrics.cacheHits.Inc()
	}
}

func (h *Handler) recordCacheMiss() {
	if !h.DisableMetrics {
		clerkMetrics.cacheMisses.Inc()
	}
}

// observeKeyFetch counts one JWKS fetch. Key sets are shared by handlers
// that may disable metrics or not, so fetches are always counted; they show
// only where some handler registered the collectors.
func observeKeyFetch(err *jwt.Error, took time.Duration) {
	result := "ok"
	if err != nil {
		result = err.Reason
	}
	clerkMetrics.keyFetches.WithLabelValues(result).Inc()
	clerkMetrics.keyFetchDuration.Observe(took.Seconds())
}

// keySetAgeCollector reports, for every live key set, how old its keys are.
// Two instances can share a JWKS URL (the Backend API's, with different
// secret keys): the label is the URL, the value the oldest set's age, which
// is the one to alert on.
type keySetAgeCollector struct{ desc *prometheus.Desc }

func (c keySetAgeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c keySetAgeCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	oldest := map[string]time.Time{}
	remoteKeySetPool.Range(func(_, v any) bool {
		if ks, ok := v.(*remoteKeySet); ok {
			if km := ks.Current.Load(); km != nil {
				u := displayURL(ks.URL)
				if t, seen := oldest[u]; !seen || km.FetchedAt.Before(t) {
					oldest[u] = km.FetchedAt
				}
			}
		}
		return true
	})
	for u, t := range oldest {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, now.Sub(t).Seconds(), u)
	}
}

// displayURL is a URL without its query, fragment or user info, fit for a
// label, an event or a log line.
func displayURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "invalid-url"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// machineCounters holds the machine metrics' series, made once for every
// (kind, result) pair the verifier reports, so that counting a request
// hashes no labels.
var machineCounters = sync.OnceValue(func() map[[3]string]prometheus.Counter {
	m := map[[3]string]prometheus.Counter{}
	for _, kind := range []string{"api_key", "m2m_token", "oauth_token"} {
		for _, r := range []string{"hit", "negative_hit", "miss"} {
			m[[3]string{"cache", kind, r}] = clerkMetrics.machineCache.WithLabelValues(kind, r)
		}
		for _, r := range []string{"ok", "token-invalid", "secret-key-invalid", "unexpected-error", "token-verification-failed", "skipped"} {
			m[[3]string{"call", kind, r}] = clerkMetrics.machineCalls.WithLabelValues(kind, r)
		}
	}
	return m
})

// recordMachineCache counts a machine-token cache lookup.
func recordMachineCache(kind machine.TokenType, result string) {
	if c, ok := machineCounters()[[3]string{"cache", string(kind), result}]; ok {
		c.Inc()
	}
}

// recordMachineCall counts a Backend API verification of a machine token.
func recordMachineCall(kind machine.TokenType, result string) {
	if c, ok := machineCounters()[[3]string{"call", string(kind), result}]; ok {
		c.Inc()
	}
}
