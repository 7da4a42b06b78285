package authn

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/machine"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// machineEngine is testEngine accepting accepts, with a Verifier whose
// Backend API knows ak_good, mt_good and oat_good; calls counts its calls.
func machineEngine(t *testing.T, accepts []string, calls *atomic.Int32) *Engine {
	t.Helper()
	a, err := machine.ParseAcceptsToken(accepts)
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(_ context.Context, kind machine.TokenType, tok string) (machine.Result, *machine.Error) {
		calls.Add(1)
		switch tok {
		case "ak_good":
			return machine.Result{Kind: kind, ID: "ak_1", Subject: "user_1", UserID: "user_1"}, nil
		case "mt_good":
			return machine.Result{Kind: kind, ID: "mt_1", Subject: "mch_1", MachineID: "mch_1"}, nil
		case "oat_good":
			return machine.Result{Kind: kind, ID: "oat_1", Subject: "user_1", UserID: "user_1"}, nil
		case "ak_ctl":
			return machine.Result{Kind: kind, ID: "ak_2", Subject: "user_1\x01"}, nil
		}
		return machine.Result{}, &machine.Error{Kind: kind, Code: machine.CodeTokenInvalid, Message: "not found", Status: 404}
	}
	v := machine.NewVerifier(fetch, machine.Config{TTL: machine.DefaultTTL, NegativeTTL: machine.DefaultNegativeTTL,
		Now: func() time.Time { return testNow }})
	return testEngine(t, func(c *Config) { c.Accepts, c.Machine = a, v })
}

// TestAcceptsTokenDispatch is authenticateRequest's order of checks on
// acceptsToken (src/tokens/request.ts): which state each request gets, with
// Clerk's tokenType, and whether it cost a Backend API call.
func TestAcceptsTokenDispatch(t *testing.T) {
	a, _ := testkit.Keys(t)
	m2mJWT := testkit.SignJWT(t, a, map[string]any{"alg": "RS256", "kid": "ins_a", "cat": machine.JWTCategoryM2M},
		map[string]any{"sub": "mch_1", "exp": testNow.Unix() + 60, "iat": testNow.Unix() - 1})
	session := sessionToken(t)
	for _, tc := range []struct {
		accepts []string
		auth    string
		cookie  string
		kind    Kind
		reason  string
		typ     machine.TokenType
		calls   int32
	}{
		{[]string{"api_key"}, "Bearer ak_good", "", SignedIn, "", machine.APIKey, 1},
		{[]string{"api_key"}, "Bearer ak_nope", "", SignedOut, machine.CodeTokenInvalid, machine.APIKey, 1},
		{[]string{"api_key"}, "Bearer ak_ctl", "", SignedOut, machine.CodeTokenInvalid, machine.APIKey, 1},
		{[]string{"api_key"}, "Bearer mt_good", "", SignedOut, wire.ReasonTokenTypeMismatch, machine.APIKey, 0},
		{[]string{"api_key"}, "Bearer " + session, "", SignedOut, wire.ReasonTokenTypeMismatch, machine.APIKey, 0},
		{[]string{"api_key"}, "", "__session=" + session, SignedOut, machine.ReasonNoTokenInHeader, machine.APIKey, 0},
		{[]string{"m2m_token"}, "Bearer mt_good", "", SignedIn, "", machine.M2MToken, 1},
		{[]string{"m2m_token"}, "Bearer " + m2mJWT, "", SignedIn, "", machine.M2MToken, 0},
		{[]string{"oauth_token"}, "Bearer oat_good", "", SignedIn, "", machine.OAuthToken, 1},
		{[]string{"api_key", "m2m_token"}, "Bearer oat_good", "", SignedOut, wire.ReasonTokenTypeMismatch, "", 0},
		{[]string{"api_key", "m2m_token"}, "", "", SignedOut, wire.ReasonTokenTypeMismatch, "", 0},
		{[]string{"api_key", "m2m_token"}, "Bearer " + session, "", SignedOut, wire.ReasonTokenTypeMismatch, "", 0},
		{[]string{"api_key", "session_token"}, "", "", SignedOut, wire.ReasonSessionTokenAndUATMissing, machine.SessionToken, 0},
		{[]string{"api_key", "session_token"}, "Bearer " + session, "", SignedIn, "", machine.SessionToken, 0},
		{[]string{"any"}, "Bearer ak_good", "", SignedIn, "", machine.APIKey, 1},
		{[]string{"any"}, "Bearer " + session, "", SignedIn, "", machine.SessionToken, 0},
		{[]string{"any"}, "Bearer ak_live_abc.def.ghi", "", SignedOut, machine.CodeTokenInvalid, machine.M2MToken, 0},
		{[]string{"session_token"}, "Bearer " + m2mJWT, "", SignedOut, wire.ReasonTokenTypeMismatch, machine.SessionToken, 0},
	} {
		var calls atomic.Int32
		e := machineEngine(t, tc.accepts, &calls)
		headers := []string{}
		if tc.auth != "" {
			headers = append(headers, "Authorization", tc.auth)
		}
		if tc.cookie != "" {
			headers = append(headers, "Cookie", tc.cookie)
		}
		_, o := decide(t, e, "GET", testOrigin+"/api", headers...)
		name := tc.accepts[0] + "…/" + tc.auth[:min(len(tc.auth), 20)]
		if o.Kind != tc.kind || o.Reason != tc.reason || o.TokenType != tc.typ || calls.Load() != tc.calls {
			t.Errorf("%s: kind %d reason %q type %q calls %d; want %d %q %q %d", name, o.Kind, o.Reason, o.TokenType, calls.Load(), tc.kind, tc.reason, tc.typ, tc.calls)
		}
		if o.Kind == SignedIn && o.TokenType != machine.SessionToken && (o.Machine == nil || o.Session != nil) {
			t.Errorf("%s: a machine sign-in without its result", name)
		}
		if o.Kind == SignedOut && o.TokenType != machine.SessionToken && !o.MachineRefused {
			t.Errorf("%s: a machine refusal not marked as one (it could handshake)", name)
		}
	}
}

// TestMachineJWTRememberedWithItsKey: a verified machine JWT is found from
// memory, without a Backend API call, while the key set holds its key.
func TestMachineJWTRememberedWithItsKey(t *testing.T) {
	a, b := testkit.Keys(t)
	tok := testkit.SignJWT(t, a, map[string]any{"alg": "RS256", "kid": "ins_a"},
		map[string]any{"sub": "mch_1", "exp": testNow.Unix() + 60})
	var calls atomic.Int32
	e := machineEngine(t, []string{"m2m_token"}, &calls)
	if _, o := decide(t, e, "GET", testOrigin+"/api", "Authorization", "Bearer "+tok); o.Kind != SignedIn {
		t.Fatalf("first: %+v", o)
	}
	r, o := decide(t, e, "GET", testOrigin+"/api", "Authorization", "Bearer "+tok)
	if o.Kind != SignedIn || !(r.machine != nil) {
		t.Errorf("second: kind %d, remembered %v", o.Kind, (r.machine != nil))
	}
	e.keys = keys.Static{Key: keys.NewKey("other", "RS256", &b.PublicKey, "jwt_key")}
	if r, o := decide(t, e, "GET", testOrigin+"/api", "Authorization", "Bearer "+tok); o.Kind != SignedOut || (r.machine != nil) || o.Reason != machine.CodeTokenVerificationFailed {
		t.Errorf("after the key left: kind %d reason %q remembered %v", o.Kind, o.Reason, (r.machine != nil))
	}
	if calls.Load() != 0 {
		t.Errorf("%d Backend API calls for a JWT", calls.Load())
	}
}
