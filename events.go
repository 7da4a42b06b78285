package clerkauth

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/keys"
	"go.uber.org/zap"
)

// Events emitted through Caddy's events app. Their origin module is
// http.handlers.clerk_auth, so a subscription can name the events, the
// module, or both.
const (
	// eventKeysChanged: a fetch brought a key set that differs from the one
	// held (the first load included). Data: jwks_url, kids, added, removed.
	eventKeysChanged = "clerk_auth_keys_changed"
	// eventKeyFetchFailed: a fetch failed; the last good keys stay in use.
	// Data: jwks_url, reason, error, has_keys, consecutive_failures.
	eventKeyFetchFailed = "clerk_auth_key_fetch_failed"
)

// eventSink is one handler's way to the events app of its config.
type eventSink struct {
	ctx caddy.Context
	app *caddyevents.App
}

// eventSinks are the handlers using a shared key set. A key set outlives
// configs, so it emits through the newest handler's config only: once per
// event, to the config that is running (on a reload the new config's
// handlers are provisioned before the old ones are cleaned up).
type eventSinks struct {
	mu   sync.Mutex
	list []*eventSink

	// consecutiveFailures counts failed fetches since the last good one.
	consecutiveFailures int
}

func (s *eventSinks) attach(e *eventSink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, e)
}

func (s *eventSinks) detach(e *eventSink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.list {
		if x == e {
			s.list = append(s.list[:i:i], s.list[i+1:]...)
			return
		}
	}
}

func (s *eventSinks) newest() *eventSink {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.list); n > 0 {
		return s.list[n-1]
	}
	return nil
}

func (s *eventSinks) emit(name string, data map[string]any) {
	if e := s.newest(); e != nil {
		e.app.Emit(e.ctx, name, data)
	}
}

// attachEvents connects the handler's key set to its config's events app.
// Outside a running config (unit tests, the diagnose command) there is no
// events app and nothing is emitted.
func (h *Handler) attachEvents(ctx caddy.Context) {
	ks, ok := h.keys.(*remoteKeySet)
	if !ok {
		return
	}
	appIface, err := ctx.AppIfConfigured("events")
	if err != nil {
		return
	}
	app, ok := appIface.(*caddyevents.App)
	if !ok {
		return
	}
	sink := &eventSink{ctx: ctx, app: app}
	h.events = sink
	// The events app is not safe to emit through from another goroutine
	// until it has started (Start writes its subscriptions), so the sink
	// joins the key set when Caddy announces that the config started. A
	// fetch that ends before then (often the first one) is not reported.
	if err := app.On("started", startedHook(func() { ks.sinks.attach(sink) })); err != nil {
		h.logger.Warn("key events will not be emitted", zap.Error(err))
	}
}

// startedHook runs a function on Caddy's "started" event.
type startedHook func()

func (f startedHook) Handle(context.Context, caddy.Event) error {
	f()
	return nil
}

func (h *Handler) detachEvents() {
	if ks, ok := h.keys.(*remoteKeySet); ok && h.events != nil {
		ks.sinks.detach(h.events)
	}
}

// reportFetch publishes the outcome of one fetch: metrics always, events
// when the keys changed or the fetch failed. prev is the set held before.
func (ks *remoteKeySet) reportFetch(r *keys.Remote, prev, got *keys.Map, err *jwt.Error, took time.Duration) {
	observeKeyFetch(err, took)
	jwksURL := displayURL(r.URL)
	if err != nil {
		ks.sinks.mu.Lock()
		ks.sinks.consecutiveFailures++
		n := ks.sinks.consecutiveFailures
		ks.sinks.mu.Unlock()
		ks.sinks.emit(eventKeyFetchFailed, map[string]any{
			"jwks_url": jwksURL, "reason": err.Reason, "error": err.LogText(),
			"has_keys": prev != nil, "consecutive_failures": n,
		})
		return
	}
	ks.sinks.mu.Lock()
	ks.sinks.consecutiveFailures = 0
	ks.sinks.mu.Unlock()
	if sameKeys(prev, got) {
		return
	}
	added, removed := kidDiff(prev, got)
	ks.sinks.emit(eventKeysChanged, map[string]any{
		"jwks_url": jwksURL, "kids": sortedKids(got), "added": added, "removed": removed,
	})
}

func sameKeys(a, b *keys.Map) bool {
	if a == nil || b == nil {
		return a == b
	}
	if len(a.Keys) != len(b.Keys) {
		return false
	}
	for kid, ka := range a.Keys {
		kb, ok := b.Keys[kid]
		if !ok || ka.Alg != kb.Alg || !ka.Pub.Equal(kb.Pub) {
			return false
		}
	}
	return true
}

// kidDiff names the key ids that appeared and disappeared; a kid whose key
// material changed counts as both.
func kidDiff(prev, got *keys.Map) (added, removed []string) {
	added, removed = []string{}, []string{}
	for kid, k := range got.Keys {
		if prev == nil {
			added = append(added, kid)
			continue
		}
		if old, ok := prev.Keys[kid]; !ok || old.Alg != k.Alg || !old.Pub.Equal(k.Pub) {
			added = append(added, kid)
			if ok {
				removed = append(removed, kid)
			}
		}
	}
	if prev != nil {
		for kid := range prev.Keys {
			if _, ok := got.Keys[kid]; !ok {
				removed = append(removed, kid)
			}
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	return added, removed
}

func sortedKids(km *keys.Map) []string {
	kids := make([]string, 0, len(km.Keys))
	for kid := range km.Keys {
		kids = append(kids, kid)
	}
	sort.Strings(kids)
	return kids
}
