package policy

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/jsonscan"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
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
