package clerkauth

import (
	"strings"
	"testing"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// TestProvisionErrors: config that parses but cannot work fails at start
// with the setting named, and never with a secret in the message.
func TestProvisionErrors(t *testing.T) {
	a, _ := testkit.Keys(t)
	cases := []struct {
		name string
		h    Handler
		want string
	}{
		{"bad publishable key", Handler{PublishableKey: "pk_live_bm90IGEga2V5"}, "publishable_key: publishable key does not encode a Frontend API host"},
		{"wrong prefix", Handler{PublishableKey: "sk_live_abc", JWTKey: testkit.PublicPEM(t, a)}, "publishable_key: publishable key must start with pk_live_ or pk_test_"},
		{"unreadable PEM", Handler{JWTKey: "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----"}, "jwt_key:"},
		{"not a key", Handler{JWTKey: "hello"}, "jwt_key: not a PEM block and not base64"},
		{"missing file", Handler{JWTKey: "{file./nonexistent/key.pem}"}, "jwt_key:"},
		{"empty env", Handler{SecretKey: "{env.CLERK_AUTH_TEST_UNSET}"}, "secret_key:"},
		{"demo with keys", Handler{Demo: true, SecretKey: "sk_test_secretvalue"}, "demo: cannot be combined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CLERK_PUBLISHABLE_KEY", "")
			t.Setenv("CLERK_SECRET_KEY", "")
			t.Setenv("CLERK_JWT_KEY", "")
			h := tc.h
			err := provisionErr(&h)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secretvalue") {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestValidateErrors(t *testing.T) {
	cases := []struct {
		edit func(*Handler)
		want string
	}{
		{func(h *Handler) { h.Mode = "sometimes" }, "mode: must be require or optional"},
		{func(h *Handler) { h.JWKSURL = "ftp://x" }, "jwks_url:"},
		{func(h *Handler) { h.APIURL = "not a url" }, "api_url:"},
		{func(h *Handler) { h.SignInURL = "//evil.example/x" }, "sign_in_url:"},
		{func(h *Handler) { h.Satellite = true }, "is_satellite: needs domain or proxy_url"},
		{func(h *Handler) { h.UpstreamHeaders = "none" }, `upstream_headers: must be identity, all or off, not "none"`},
	}
	for _, tc := range cases {
		h := newTestHandler(t)
		tc.edit(h)
		if err := h.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

func provisionErr(h *Handler) error {
	if err := h.Provision(testContext()); err != nil {
		return err
	}
	defer h.Cleanup()
	return h.Validate()
}

// TestEnvironmentKeys: with no key setting, Clerk's environment variables
// configure the handler, as in Clerk's SDKs.
func TestEnvironmentKeys(t *testing.T) {
	a, _ := testkit.Keys(t)
	t.Setenv("CLERK_PUBLISHABLE_KEY", testPK)
	t.Setenv("CLERK_SECRET_KEY", "")
	t.Setenv("CLERK_JWT_KEY", strings.ReplaceAll(testkit.PublicPEM(t, a), "\n", `\n`))
	h := &Handler{AuthorizedParties: []string{testOrigin}}
	provision(t, h)
	h.now = func() time.Time { return testNow }
	if h.inst == nil || h.inst.FAPIHost() != testFAPIHost {
		t.Fatalf("publishable key from the environment not used")
	}
	out := serve(h, newRequest("GET", testOrigin+"/", "Authorization", "Bearer "+sessionToken(t)))
	if out.upstream == nil {
		t.Fatalf("token not accepted with keys from the environment: %s", out.rec.Header().Get(wire.HeaderAuthReason))
	}
}
