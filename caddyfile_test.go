package clerkauth

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
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
		{"accepts_token", "accepts_token: no token type given"},
		{"accepts_token api_keys", `accepts_token: unknown token type "api_keys"`},
		{"accepts_token any api_key", "accepts_token: any must be the only value"},
		{"accepts_token api_key\naccepts_token any", "accepts_token: any must be the only value"},
		{"machine_secret_key", "machine_secret_key: missing value"},
		{"machine_cache_ttl soon", `machine_cache_ttl: "soon" is not a duration`},
		{"machine_cache_ttl -1s", `machine_cache_ttl: "-1s" is not a duration`},
		{"require scope", "require scope: needs at least one value"},
		{"machine_call_rate lots", `machine_call_rate: "lots" is not a number`},
		{"machine_call_rate 0", `machine_call_rate: "0" is not a number`},
		{"require machine user_1", `require machine: "user_1" is not a machine id`},
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
