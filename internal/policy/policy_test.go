package policy

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/jsonscan"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/machine"
	"github.com/clerk-edge/clerk_auth/internal/orgsync"
	"github.com/clerk-edge/clerk_auth/internal/session"
	"github.com/clerk-edge/clerk_auth/internal/users"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// The root's tests (policy_test.go, authorization_conformance_test.go,
// users_test.go) hold these rules to @clerk/backend's has() and to the
// handler; these pin what the package promises on its own.

// newSession is the session of a verified token with claims c.
func newSession(t *testing.T, c map[string]any) *session.Session {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.Claims
	if err := jsonscan.ReadMembers(string(b), jwt.ClaimNames, claims[:], true); err != nil {
		t.Fatal(err)
	}
	return session.New(&claims, string(b))
}

func TestCompileOrdersRules(t *testing.T) {
	p, err := Compile([]Spec{
		{Kind: KindEmailDomain, Values: []string{"example.com"}},
		{Kind: KindRole, Values: []string{"admin"}},
	}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range p.rules {
		got = append(got, r.Text)
	}
	// The token's rules first, then deny impersonated, then the user's.
	want := "require role admin|deny impersonated|require email_domain example.com"
	if strings.Join(got, "|") != want {
		t.Errorf("rules %q, want %q", strings.Join(got, "|"), want)
	}
	if !p.NeedsUser() || p.NeedsURLOrg() || p.Empty() {
		t.Errorf("NeedsUser %v NeedsURLOrg %v Empty %v", p.NeedsUser(), p.NeedsURLOrg(), p.Empty())
	}
	var none *Policy
	if !none.Empty() || none.NeedsUser() || none.NeedsURLOrg() || none.Evaluate(newSession(t, map[string]any{"sub": "user_1"}), nil, orgsync.Target{}) != nil {
		t.Error("a nil policy is not empty")
	}
}

func TestEvaluateNamesTheRule(t *testing.T) {
	p, err := Compile([]Spec{
		{Kind: KindRole, Values: []string{"admin"}},
		{Kind: KindMetadata, Path: "tier", Values: []string{"gold"}},
	}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	member := newSession(t, map[string]any{"sub": "user_1", "sid": "sess_1", "v": 2, "o": map[string]any{"id": "org_1", "rol": "member"}})
	if dn := p.Evaluate(member, nil, orgsync.Target{}); dn == nil || dn.Reason != wire.ReasonMissingRole || dn.Rule.Text != "require role admin" {
		t.Errorf("member: %+v", dn)
	}
	admin := newSession(t, map[string]any{"sub": "user_1", "sid": "sess_1", "v": 2, "o": map[string]any{"id": "org_1", "rol": "admin"}})
	calls := 0
	failing := func() (*users.Details, error) { calls++; return nil, errors.New("down") }
	if dn := p.Evaluate(admin, failing, orgsync.Target{}); dn == nil || dn.Reason != wire.ReasonUserLookupFailed || calls != 1 {
		t.Errorf("admin, lookup down: %+v after %d calls", dn, calls)
	}
	gold := func() (*users.Details, error) {
		return &users.Details{PublicMetadata: map[string]any{"tier": "gold"}}, nil
	}
	if dn := p.Evaluate(admin, gold, orgsync.Target{}); dn != nil {
		t.Errorf("admin, gold: %+v", dn)
	}
}

func TestOrgFromURLUsesTheCallersCheck(t *testing.T) {
	asked := false
	check := func(*session.Session, orgsync.Target) bool { asked = true; return true }
	p, err := Compile([]Spec{{Kind: KindOrgFromURL}}, false, check)
	if err != nil {
		t.Fatal(err)
	}
	if !p.NeedsURLOrg() {
		t.Error("org_from_url does not read the URL's organization")
	}
	if dn := p.Evaluate(newSession(t, map[string]any{"sub": "user_1", "sid": "sess_1"}), nil, orgsync.Target{}); dn != nil || !asked {
		t.Errorf("denial %+v, check asked %v", dn, asked)
	}
}

func TestCheckNamesTheRule(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		want string
	}{
		{Spec{Kind: KindRole}, "require role: needs at least one value"},
		{Spec{Kind: KindVerifiedWithin, Within: 90 * time.Second}, "require verified_within: 1m30s is not a positive whole number of minutes"},
		{Spec{Kind: KindOrgFromURL, Values: []string{"x"}}, "require org_from_url: takes no values"},
		{Spec{Kind: "colour"}, `require: unknown rule "colour"`},
	} {
		if err := Check(tc.spec); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.spec, err, tc.want)
		}
	}
	if err := Check(Spec{Kind: KindVerifiedWithin, Within: 10 * time.Minute, Level: "multi_factor"}); err != nil {
		t.Error(err)
	}
}

// TestMachineRules: scope and machine rules answer for machine tokens and
// refuse sessions; every session rule refuses a machine token with its own
// reason, without a user lookup; deny impersonated does not apply.
func TestMachineRules(t *testing.T) {
	apiKey := &machine.Result{Kind: machine.APIKey, Subject: "user_1", UserID: "user_1", Scopes: []string{"orders:read", "orders:write"}}
	m2m := &machine.Result{Kind: machine.M2MToken, Subject: "mch_a", MachineID: "mch_a", Scopes: []string{"mch_b"}}
	machineKey := &machine.Result{Kind: machine.APIKey, Subject: "mch_a", Scopes: []string{}}
	sess := newSession(t, map[string]any{"sub": "user_1", "sid": "sess_1"})
	for _, tc := range []struct {
		rule    Spec
		m       *machine.Result
		want    string // "" lets in
		session string // what the session gets
	}{
		{Spec{Kind: KindScope, Values: []string{"orders:read"}}, apiKey, "", wire.ReasonMissingScope},
		{Spec{Kind: KindScope, Values: []string{"admin", "orders:write"}}, apiKey, "", wire.ReasonMissingScope},
		{Spec{Kind: KindScope, Values: []string{"admin"}}, apiKey, wire.ReasonMissingScope, wire.ReasonMissingScope},
		{Spec{Kind: KindScope, Values: []string{"mch_b"}}, m2m, "", wire.ReasonMissingScope},
		{Spec{Kind: KindMachine, Values: []string{"mch_a"}}, m2m, "", wire.ReasonMachineNotAllowed},
		{Spec{Kind: KindMachine, Values: []string{"mch_a"}}, machineKey, "", wire.ReasonMachineNotAllowed},
		{Spec{Kind: KindMachine, Values: []string{"mch_z", "mch_y"}}, m2m, wire.ReasonMachineNotAllowed, wire.ReasonMachineNotAllowed},
		{Spec{Kind: KindMachine, Values: []string{"mch_a"}}, apiKey, wire.ReasonMachineNotAllowed, wire.ReasonMachineNotAllowed},
		{Spec{Kind: KindUser, Values: []string{"user_1"}}, apiKey, wire.ReasonUserNotAllowed, ""},
		{Spec{Kind: KindRole, Values: []string{"admin"}}, apiKey, wire.ReasonMissingRole, wire.ReasonMissingRole},
		{Spec{Kind: KindOrg}, apiKey, wire.ReasonMissingOrganization, wire.ReasonMissingOrganization},
		{Spec{Kind: KindEmailDomain, Values: []string{"example.com"}}, apiKey, wire.ReasonEmailDomainNotAllowed, wire.ReasonUserLookupFailed},
	} {
		p, err := Compile([]Spec{tc.rule}, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if dn := p.EvaluateMachine(tc.m); dn != nil {
			got = dn.Reason
		}
		if got != tc.want {
			t.Errorf("%s on %s %s: %q, want %q", text(tc.rule), tc.m.Kind, tc.m.Subject, got, tc.want)
		}
		got = ""
		noUser := func() (*users.Details, error) { return nil, errors.New("no lookup here") }
		if dn := p.Evaluate(sess, noUser, orgsync.Target{}); dn != nil {
			got = dn.Reason
		}
		if got != tc.session {
			t.Errorf("%s on a session: %q, want %q", text(tc.rule), got, tc.session)
		}
	}
	p, err := Compile(nil, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if dn := p.EvaluateMachine(apiKey); dn != nil {
		t.Errorf("deny impersonated refused a machine token: %+v", dn)
	}
	if _, err := Compile([]Spec{{Kind: KindMachine, Values: []string{"user_1"}}}, false, nil); err == nil || !strings.Contains(err.Error(), "require machine") {
		t.Errorf("require machine user_1: %v", err)
	}
	if _, err := Compile([]Spec{{Kind: KindScope}}, false, nil); err == nil || !strings.Contains(err.Error(), "require scope") {
		t.Errorf("require scope without values: %v", err)
	}
}
