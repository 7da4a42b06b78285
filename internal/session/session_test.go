package session

import (
	"slices"
	"testing"

	"github.com/clerk-edge/clerk_auth/internal/jsonscan"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
)

// sessionOf is the session of a payload, read as a verified token's.
func sessionOf(t *testing.T, payload string) *Session {
	t.Helper()
	var c jwt.Claims
	if err := jsonscan.ReadMembers(payload, jwt.ClaimNames, c[:], true); err != nil {
		t.Fatal(err)
	}
	return New(&c, payload)
}

// v1 org_* claims and v2's "o" claim give the same identity.
func TestIdentity(t *testing.T) {
	v1 := sessionOf(t, `{"sub":"user_1","sid":"sess_1","org_id":"org_1","org_role":"org:admin","org_slug":"acme","act":{"sub":"user_2"}}`)
	v2 := sessionOf(t, `{"v":2,"sub":"user_1","sid":"sess_1","o":{"id":"org_1","rol":"admin","slg":"acme"},"act":{"sub":"user_2"}}`)
	want := [len(IdentityHeaders)]string{"user_1", "sess_1", "org_1", "org:admin", "acme", "user_2"}
	if v1.Identity() != want || v2.Identity() != want {
		t.Fatalf("v1 %v, v2 %v, want %v", v1.Identity(), v2.Identity(), want)
	}
	if !v1.Publishable {
		t.Fatal("plain values are not publishable")
	}
	if s := sessionOf(t, `{"sub":"user_1\n"}`); s.Publishable {
		t.Fatal("a control character is publishable")
	}
}

// v2 permissions come from fea × o.per × o.fpm, each bit a permission of
// an org-scoped feature; plans and features are published unscoped.
func TestEntitlementsV2(t *testing.T) {
	s := sessionOf(t, `{"v":2,"sub":"u","fea":"o:billing,u:beta,o:team","pla":"u:pro","o":{"id":"org_1","per":"read,write","fpm":"3,2"}}`)
	e := s.Entitlements()
	if !e.HasOrgPermissions || !slices.Equal(e.OrgPermissions, []string{"org:billing:read", "org:billing:write", "org:team:write"}) {
		t.Fatalf("permissions %v", e.OrgPermissions)
	}
	if e.PermsValue != "org:billing:read,org:billing:write,org:team:write" || e.PlansValue != "pro" || e.FeaturesValue != "beta,billing,team" {
		t.Fatalf("values %q %q %q", e.PermsValue, e.PlansValue, e.FeaturesValue)
	}
	if bad := sessionOf(t, `{"v":2,"sub":"u","fea":"billing","o":{"id":"org_1","per":"read","fpm":"1"}}`).Entitlements(); bad.Malformed == "" {
		t.Fatal("a fea element without a scope was not malformed")
	}
}

func TestScopedValuesAndParts(t *testing.T) {
	if v := ScopedValues("u:pro, o:team,u:pro"); v != "pro,team" {
		t.Fatalf("ScopedValues %q", v)
	}
	if v := ScopedValues("pro"); v != "" {
		t.Fatalf("malformed claim gave %q", v)
	}
	if !Yields(ScopedParts("o:a,ou:b", IsUserClaimScope), "b") || Yields(ScopedParts("o:a", IsUserClaimScope), "a") {
		t.Fatal("scopes")
	}
	if m, ok := parseBitmask("18446744073709551616"); !ok || !m.Bit(64) || m.Bit(0) {
		t.Fatal("a bitmask beyond 64 bits")
	}
}

// Placeholders answer the session's values, signed-in status, and "" for
// any other key of our namespaces.
func TestPlaceholder(t *testing.T) {
	s := sessionOf(t, `{"sub":"user_1","sid":"sess_1"}`)
	for key, want := range map[string]any{
		"http.auth.user.id": "user_1", "http.auth.clerk.status": "signed-in", "http.auth.clerk.reason": "",
		"http.auth.user.org_id": "", "http.auth.user.nothing": "",
	} {
		if got, ok := s.Placeholders(key); !ok || got != want {
			t.Errorf("%s = %v, %v; want %v", key, got, ok, want)
		}
	}
	if _, ok := s.Placeholders("http.request.host"); ok {
		t.Error("a key outside our namespaces was answered")
	}
	if StatusValue("handshake") != "handshake" {
		t.Error("StatusValue")
	}
}
