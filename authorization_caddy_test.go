package clerkauth

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// TestRulesUnderMatchersInCaddy runs a real Caddy server from a Caddyfile:
// /admin/* needs the org role admin, everything else only a session, and
// handle_errors shows the reason placeholder.
func TestRulesUnderMatchersInCaddy(t *testing.T) {
	a, _ := testkit.Keys(t)
	pemPath := filepath.Join(t.TempDir(), "clerk.pem")
	if err := os.WriteFile(pemPath, []byte(testkit.PublicPEM(t, a)), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()

	clerk := `
			publishable_key ` + testPK + `
			jwt_key {file.` + pemPath + `}
			authorized_parties ` + testOrigin + `
			sign_in_url off`
	caddyfile := `{
	admin off
	auto_https off
	persist_config off
}
http://127.0.0.1:` + port + ` {
	handle /admin/* {
		clerk_auth {` + clerk + `
			require role admin
		}
		respond "admin {http.auth.user.id} {http.auth.user.org_role}"
	}
	handle {
		clerk_auth {` + clerk + `
		}
		respond "app {http.auth.user.id} {http.auth.user.org_permissions}"
	}
	handle_errors {
		respond "{err.status_code} {http.auth.clerk.reason}"
	}
}`
	cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	if err != nil {
		t.Fatalf("adapt: %v (%v)", err, warnings)
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(func() { _ = caddy.Stop() })

	now := time.Now().Unix()
	live := func(c map[string]any) { c["iat"], c["nbf"], c["exp"] = now-5, now-10, now+60 }
	admin := sessionToken(t, live, v2Claims)
	member := sessionToken(t, live, v2Claims, setOrg("rol", "member"))

	tests := []struct {
		name, path, token string
		status            int
		body, reason      string
	}{
		{"admin with the role", "/admin/users", admin, 200, "admin user_1 org:admin", ""},
		{"admin without the role", "/admin/users", member, 403, "403 missing-role", wire.ReasonMissingRole},
		{"admin signed out", "/admin/users", "", 401, "401 session-token-and-uat-missing", wire.ReasonSessionTokenAndUATMissing},
		{"app for a member", "/dashboard", member, 200, "app user_1 org:dashboard:read,org:dashboard:manage,org:billing:manage", ""},
		{"app signed out", "/dashboard", "", 401, "401 session-token-and-uat-missing", wire.ReasonSessionTokenAndUATMissing},
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://127.0.0.1:"+port+tc.path, nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || strings.TrimSpace(string(body)) != tc.body {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
			if got := resp.Header.Get(wire.HeaderAuthReason); got != tc.reason {
				t.Errorf("X-Clerk-Auth-Reason %q, want %q", got, tc.reason)
			}
		})
	}
}
