package clerkauth

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

var updateGoldens = flag.Bool("update", false, "rewrite the Caddyfile adapt goldens under testdata/caddyfile")

const goldenSeparator = "\n----------\n"

// TestCaddyfileAdaptGoldens adapts each testdata/caddyfile/*.caddyfiletest
// and compares the JSON with the part after the separator.
func TestCaddyfileAdaptGoldens(t *testing.T) {
	files, _ := filepath.Glob("testdata/caddyfile/*.caddyfiletest")
	if len(files) == 0 {
		t.Fatal("no goldens found")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			input, want, ok := strings.Cut(string(raw), goldenSeparator)
			if !ok {
				t.Fatalf("no separator in %s", f)
			}
			got, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(input+"\n"), map[string]any{"filename": "Caddyfile"})
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			if len(warnings) > 0 {
				t.Errorf("warnings: %v", warnings)
			}
			var pretty bytes.Buffer
			_ = json.Indent(&pretty, got, "", "\t")
			if *updateGoldens {
				_ = os.WriteFile(f, []byte(input+goldenSeparator+pretty.String()+"\n"), 0o644)
				return
			}
			if strings.TrimSpace(pretty.String()) != strings.TrimSpace(want) {
				t.Errorf("adapted JSON differs:\n%s", pretty.String())
			}
		})
	}
}

// TestCaddyfileErrors: every bad subdirective fails with a message naming it.
func TestCaddyfileErrors(t *testing.T) {
	cases := []struct{ body, want string }{
		{"bogus x", `unknown subdirective "bogus"`},
		{"publishable_key", "publishable_key: missing value"},
		{"secret_key a b", "secret_key: takes one value"},
		{"mode maybe", `mode: must be require or optional, not "maybe"`},
		{"clock_skew soon", `clock_skew: "soon" is not a duration`},
		{"clock_skew -1s", "clock_skew: must not be negative"},
		{"authorized_parties", "authorized_parties: needs at least one origin"},
		{"authorized_parties https://a.com/path", "authorized_parties: \"https://a.com/path\" is not an origin"},
		{"authorized_parties https://a.com/", "authorized_parties: \"https://a.com/\": an origin has no trailing slash"},
		{"allow_pending yes", "allow_pending: takes no value"},
		{"demo please", "demo: takes no value"},
		{"upstream_headers", "upstream_headers: missing value"},
		{"upstream_headers some", `upstream_headers: must be identity, all or off, not "some"`},
		{"upstream_headers all off", "upstream_headers: takes one value"},
	}
	for _, tc := range cases {
		d := caddyfile.NewTestDispenser("clerk_auth {\n" + tc.body + "\n}")
		var h Handler
		err := h.UnmarshalCaddyfile(d)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.body, err, tc.want)
		}
	}
	if err := new(Handler).UnmarshalCaddyfile(caddyfile.NewTestDispenser("clerk_auth extra")); err == nil {
		t.Errorf("an argument on the directive line was accepted")
	}
}

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
	if h.inst == nil || h.inst.fapiHost != testFAPIHost {
		t.Fatalf("publishable key from the environment not used")
	}
	out := serve(h, newRequest("GET", testOrigin+"/", "Authorization", "Bearer "+sessionToken(t)))
	if out.upstream == nil {
		t.Fatalf("token not accepted with keys from the environment: %s", out.rec.Header().Get(wire.HeaderAuthReason))
	}
}
