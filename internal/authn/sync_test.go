package authn

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// webOrigin is the URL standard's origin serialization.
func TestWebOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://App.Example.com:443/x": "https://app.example.com",
		"http://a.example.com:8080/":    "http://a.example.com:8080",
		"http://[::1]:80/":              "http://[::1]",
		"javascript:alert(1)":           "null",
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := WebOrigin(u); got != want {
			t.Errorf("WebOrigin(%q) = %q, want %q", in, got, want)
		}
	}
}

// A production satellite's first page load without cookies syncs with the
// primary through the handshake when auto-sync is on, and is signed out
// without it.
func TestSatelliteSync(t *testing.T) {
	in, err := NewInstance(testPK, "", "sat.example.org", true)
	if err != nil {
		t.Fatal(err)
	}
	sat := func(auto bool) *Engine {
		return testEngine(t, func(c *Config) { c.Instance, c.Satellite, c.SatelliteAutoSync = in, true, auto })
	}
	_, out := decide(t, sat(true), http.MethodGet, "https://sat.example.org/page", "Sec-Fetch-Dest", "document")
	if out.Kind != Handshake || out.Reason != wire.ReasonSatelliteNeedsSyncing || !strings.HasPrefix(out.Location, "https://clerk.sat.example.org/v1/client/handshake?") {
		t.Fatalf("auto-sync: %+v", out)
	}
	_, out = decide(t, sat(false), http.MethodGet, "https://sat.example.org/page", "Sec-Fetch-Dest", "document")
	if out.Kind != SignedOut || out.Reason != wire.ReasonSessionTokenAndUATMissing {
		t.Fatalf("no auto-sync: %+v", out)
	}
}

// A signed-in page load from another site refreshes through the handshake
// once; from the Frontend API or the site itself it does not.
func TestCrossOriginReferrer(t *testing.T) {
	e := testEngine(t)
	tok := sessionToken(t)
	for ref, want := range map[string]Kind{
		"https://elsewhere.example.net/": Handshake,
		testOrigin + "/other":            SignedIn,
		"https://" + testFAPIHost + "/":  SignedIn,
		"https://accounts.example.com/":  SignedIn,
	} {
		_, out := decide(t, e, http.MethodGet, testOrigin+"/page", "Cookie", "__session="+tok+"; __client_uat=1", "Sec-Fetch-Dest", "document", "Referer", ref)
		if out.Kind != want {
			t.Errorf("referrer %s: %v (%s), want %v", ref, out.Kind, out.Reason, want)
		}
	}
}
