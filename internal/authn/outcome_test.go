package authn

import (
	"net/http"
	"testing"

	"github.com/clerk-edge/clerk_auth/internal/policy"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// A verified bearer token is a signed-in outcome that names its key and
// token; Deny keeps Clerk's signed-in status with the rule's reason.
func TestOutcomeSignedInAndDenied(t *testing.T) {
	e := testEngine(t)
	tok := sessionToken(t)
	a, out := decide(t, e, http.MethodGet, testOrigin+"/api", "Authorization", "Bearer "+tok)
	if out.Kind != SignedIn || out.Status != wire.StatusSignedIn || out.Carrier != "header" || out.Session.UserID != "user_1" {
		t.Fatalf("outcome %+v", out)
	}
	if out.Key == nil || out.Token != tok || a.KeyUse().Key != out.Key {
		t.Fatalf("key %v, token %v, key use %+v", out.Key, out.Token == tok, a.KeyUse())
	}
	rule := &policy.Rule{Name: "role", Text: "require role admin"}
	out.Deny(rule, wire.ReasonMissingRole)
	if out.Kind != Denied || out.Status != wire.StatusSignedIn || out.Reason != wire.ReasonMissingRole || out.Rule != rule {
		t.Fatalf("denied outcome %+v", out)
	}
}

// Without a token there is no session and nothing to name.
func TestOutcomeSignedOut(t *testing.T) {
	_, out := decide(t, testEngine(t), http.MethodGet, testOrigin+"/api")
	if out.Kind != SignedOut || out.Reason != wire.ReasonSessionTokenAndUATMissing || out.TokenPresented || out.Session != nil {
		t.Fatalf("outcome %+v", out)
	}
}
