package authn

import (
	"net/http"
	"testing"
)

// An engine without an instance (no publishable key) still verifies a
// header token, and never redirects: there is no Frontend API to send a
// browser to.
func TestEngineWithoutInstance(t *testing.T) {
	e := testEngine(t, func(c *Config) { c.Instance = nil })
	if e.isDevelopment() {
		t.Fatal("no instance is not development")
	}
	_, out := decide(t, e, http.MethodGet, testOrigin+"/", "Authorization", "Bearer "+sessionToken(t))
	if out.Kind != SignedIn {
		t.Fatalf("outcome %+v", out)
	}
	_, out = decide(t, e, http.MethodGet, testOrigin+"/", "Cookie", "__client_uat=1", "Sec-Fetch-Dest", "document")
	if out.Kind != SignedOut || out.Location != "" {
		t.Fatalf("outcome %+v", out)
	}
}

// A development instance is one of a pk_test_ key; its callbacks are
// optional.
func TestEngineConfig(t *testing.T) {
	in, err := NewInstance(testDevPK, "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(Config{Instance: in})
	if !e.isDevelopment() || e.logger == nil {
		t.Fatal("development instance, logger")
	}
	e.cacheHit()
	e.cacheMiss()
}
