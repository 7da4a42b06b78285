package clerkauth

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// TestAudience: with audience set, a token's aud (a string, or a list of
// which one must match) must name one of them, else
// token-verification-failed as Clerk's assertAudienceClaim; a token without
// aud passes; an aud that is neither is refused. Every answer holds on a
// cache hit too.
func TestAudience(t *testing.T) {
	h := newTestHandler(t, func(h *Handler) { h.Audience = []string{"https://api.example.com", "aud_b"} })
	for _, tc := range []struct {
		name string
		aud  any
		pass bool
	}{
		{"absent", audAbsent, true},
		{"string match", "https://api.example.com", true},
		{"string other", "https://evil.example.net", false},
		{"empty string", "", true},
		{"list, one matches", []any{"x", "aud_b"}, true},
		{"list, none matches", []any{"x", "y"}, false},
		{"empty list", []any{}, true},
		{"list of empties", []any{"", nil}, true},
		{"list with a number", []any{"aud_b", 5}, false},
		{"number", 5, false},
		{"object", map[string]any{"aud": "aud_b"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := sessionToken(t, func(c map[string]any) {
				if tc.aud != audAbsent {
					c["aud"] = tc.aud
				}
			})
			for i := 0; i < 2; i++ {
				s := serve(h, newRequest("GET", testOrigin+"/x", "Authorization", "Bearer "+tok))
				if passed := s.upstream != nil; passed != tc.pass {
					t.Fatalf("request %d: passed %v, want %v (reason %q)", i, passed, tc.pass, s.rec.Header().Get(wire.HeaderAuthReason))
				}
				if !tc.pass && s.rec.Header().Get(wire.HeaderAuthReason) != wire.ReasonTokenVerificationFailed {
					t.Errorf("request %d: reason %q, want %s", i, s.rec.Header().Get(wire.HeaderAuthReason), wire.ReasonTokenVerificationFailed)
				}
			}
		})
	}
	// Without audience, aud is not checked.
	open := newTestHandler(t)
	if s := serve(open, newRequest("GET", testOrigin+"/x", "Authorization", "Bearer "+sessionToken(t, func(c map[string]any) { c["aud"] = "anything" }))); s.upstream == nil {
		t.Errorf("no audience configured: a token with aud was refused (%s)", s.rec.Header().Get(wire.HeaderAuthReason))
	}
	// A token verified by a handler without audience is in that handler's
	// cache only: another handler with audience verifies it itself.
	tok := sessionToken(t, func(c map[string]any) { c["aud"] = "other" })
	serve(open, newRequest("GET", testOrigin+"/x", "Authorization", "Bearer "+tok))
	if s := serve(h, newRequest("GET", testOrigin+"/x", "Authorization", "Bearer "+tok)); s.upstream != nil {
		t.Errorf("a token another handler cached passed the audience check")
	}
}

// TestAudienceConfig: audience takes one or more values, in the Caddyfile and
// in JSON; an empty one is refused naming audience.
func TestAudienceConfig(t *testing.T) {
	var h Handler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("clerk_auth {\n audience a b\n audience c\n}")); err != nil || strings.Join(h.Audience, ",") != "a,b,c" {
		t.Errorf("audience a b / audience c: %v %q", err, h.Audience)
	}
	for _, in := range []string{"clerk_auth {\n audience\n}", "clerk_auth {\n audience \"\"\n}"} {
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err == nil || !strings.Contains(err.Error(), "audience") {
			t.Errorf("%q: %v, want an error naming audience", in, err)
		}
	}
	if err := (&Handler{Audience: []string{"a", ""}}).Validate(); err == nil || !strings.Contains(err.Error(), "audience") {
		t.Errorf("JSON audience with an empty value: %v", err)
	}
}
