package clerkauth

import (
	"context"
	"crypto/rsa"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

func init() {
	caddy.RegisterModule(eventRecorder{})
}

// recordedEvents receives what eventRecorder handles; tests drain it.
var recordedEvents = make(chan caddy.Event, 64)

// eventRecorder is an events.handlers module for the tests: it passes every
// event it is subscribed to on to recordedEvents.
type eventRecorder struct{}

func (eventRecorder) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "events.handlers.clerk_test_recorder", New: func() caddy.Module { return new(eventRecorder) }}
}

func (eventRecorder) Handle(_ context.Context, e caddy.Event) error {
	select {
	case recordedEvents <- e:
	default:
	}
	return nil
}

// waitForEvent returns the next recorded event named name, skipping others,
// or fails after a generous bound (the key set retries after 1 s, then 2 s).
func waitForEvent(t *testing.T, name string) caddy.Event {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case e := <-recordedEvents:
			if e.Name() == name {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event", name)
		}
	}
}

// TestKeyEventsReachSubscribers: a handler subscribed through the events app
// of a real Caddy config receives key-fetch failures and key-set changes,
// with clerk_auth as their origin.
func TestKeyEventsReachSubscribers(t *testing.T) {
	a, _ := testkit.Keys(t)
	for len(recordedEvents) > 0 {
		<-recordedEvents
	}
	jwks := newCountingJWKS(t)
	jwks.serveError(http.StatusBadGateway)
	siteAddr := addr(testkit.FreePort(t))
	cfg := metricsSiteConfig("", siteAddr, jwks.URL+"/jwks", nil)
	cfg["apps"].(map[string]any)["events"] = map[string]any{
		"subscriptions": []any{map[string]any{
			"events":   []string{eventKeysChanged, eventKeyFetchFailed},
			"handlers": []any{map[string]any{"handler": "clerk_test_recorder"}},
		}},
	}
	loadCaddy(t, cfg)

	// The fetch at start may finish before the events app has started;
	// the retry a second later is reported for sure.
	failed := waitForEvent(t, eventKeyFetchFailed)
	if got := failed.Origin().CaddyModule().ID; got != "http.handlers.clerk_auth" {
		t.Errorf("origin %q", got)
	}
	if failed.Data["reason"] != wire.ReasonJWKRemoteFailedToLoad || failed.Data["jwks_url"] != jwks.URL+"/jwks" || failed.Data["has_keys"] != false {
		t.Errorf("failure event data: %v", failed.Data)
	}
	if n, _ := failed.Data["consecutive_failures"].(int); n < 1 {
		t.Errorf("consecutive_failures: %v", failed.Data["consecutive_failures"])
	}

	jwks.serveKeys(map[string]*rsa.PrivateKey{"ins_a": a})
	changed := waitForEvent(t, eventKeysChanged)
	if !reflect.DeepEqual(changed.Data["kids"], []string{"ins_a"}) || !reflect.DeepEqual(changed.Data["added"], []string{"ins_a"}) ||
		!reflect.DeepEqual(changed.Data["removed"], []string{}) {
		t.Errorf("change event data: %v", changed.Data)
	}
	// The keys now in use are the announced ones.
	if resp, _ := do(t, "GET", "http://"+siteAddr+"/", "Authorization", "Bearer "+sessionToken(t, liveTimes)); resp.StatusCode != 200 {
		t.Errorf("after the keys arrived: status %d", resp.StatusCode)
	}
}

// TestKeyChangeDiff: rotations are reported as the kids that came and went;
// a kid whose key material changed is both.
func TestKeyChangeDiff(t *testing.T) {
	a, b := testkit.Keys(t)
	km := func(privs map[string]*rsa.PrivateKey) *keys.Map {
		m := &keys.Map{Keys: map[string]*keys.Key{}}
		for kid, k := range privs {
			m.Keys[kid] = &keys.Key{Kid: kid, Alg: "RS256", Pub: &k.PublicKey}
		}
		return m
	}
	for _, tc := range []struct {
		name           string
		prev, got      *keys.Map
		same           bool
		added, removed []string
	}{
		{"first load", nil, km(map[string]*rsa.PrivateKey{"k1": a}), false, []string{"k1"}, []string{}},
		{"unchanged", km(map[string]*rsa.PrivateKey{"k1": a}), km(map[string]*rsa.PrivateKey{"k1": a}), true, []string{}, []string{}},
		{"rotation", km(map[string]*rsa.PrivateKey{"k1": a}), km(map[string]*rsa.PrivateKey{"k1": a, "k2": b}), false, []string{"k2"}, []string{}},
		{"retired", km(map[string]*rsa.PrivateKey{"k1": a, "k2": b}), km(map[string]*rsa.PrivateKey{"k2": b}), false, []string{}, []string{"k1"}},
		{"same kid, new key", km(map[string]*rsa.PrivateKey{"k1": a}), km(map[string]*rsa.PrivateKey{"k1": b}), false, []string{"k1"}, []string{"k1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sameKeys(tc.prev, tc.got); got != tc.same {
				t.Errorf("sameKeys = %v", got)
			}
			added, removed := kidDiff(tc.prev, tc.got)
			if !reflect.DeepEqual(added, tc.added) || !reflect.DeepEqual(removed, tc.removed) {
				t.Errorf("added %v removed %v, want %v %v", added, removed, tc.added, tc.removed)
			}
		})
	}
}
