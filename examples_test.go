package clerkauth

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/tokencache"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// exampleSite is one example running in this process: its plain-HTTP
// address and the upstream that stands for localhost:9000 / :3000.
type exampleSite struct {
	base     string
	upstream *recordingUpstream
	// machineAPI is the Backend API of the handlers that take machine
	// tokens (accepts_token): their api_url points to it.
	machineAPI *fakeMachineAPI
}

// get sends a request to the example's site with Host set to host.
func (s *exampleSite) get(t *testing.T, host, path string, headers ...string) (*http.Response, string) {
	t.Helper()
	return do(t, "GET", s.base+path, append([]string{"Host", host}, headers...)...)
}

func (u *recordingUpstream) hostPort() string { return strings.TrimPrefix(u.URL, "http://") }

// TestExamples adapts every examples/*/Caddyfile with Caddy's Caddyfile
// adapter, runs it in this process (on a loopback port, TLS off, upstreams
// replaced by a test server, keys from the environment set to the test
// instance's), and checks one request each.
func TestExamples(t *testing.T) {
	a, _ := testkit.Keys(t)
	bearer := func(edits ...func(map[string]any)) string {
		return "Bearer " + sessionToken(t, append([]func(map[string]any){liveTimes}, edits...)...)
	}
	cases := map[string]func(t *testing.T, s *exampleSite){
		"static-site": func(t *testing.T, s *exampleSite) {
			resp, body := s.get(t, "app.example.com", "/", "Authorization", bearer())
			if resp.StatusCode != 200 || !strings.Contains(body, "members only") {
				t.Errorf("signed in: %d %q", resp.StatusCode, body)
			}
			resp, _ = s.get(t, "app.example.com", "/", "Accept", "text/html")
			if loc := resp.Header.Get("Location"); resp.StatusCode != 307 || !strings.HasPrefix(loc, "https://accounts.example.com/sign-in?redirect_url=") {
				t.Errorf("page load without a session: %d to %q", resp.StatusCode, loc)
			}
		},
		"api-reverse-proxy": func(t *testing.T, s *exampleSite) {
			resp, body := s.get(t, "api.example.com", "/orders", "Authorization", bearer(), wire.HeaderUserID, "user_forged")
			if resp.StatusCode != 200 || body != "upstream saw user user_1" {
				t.Errorf("%d %q", resp.StatusCode, body)
			}
			if got := s.upstream.last.Get("X-Authenticated-User"); got != "user_1" {
				t.Errorf("X-Authenticated-User from {http.auth.user.id}: %q", got)
			}
		},
		"admin-org-role": func(t *testing.T, s *exampleSite) {
			withRole := func(role string) func(map[string]any) {
				return func(c map[string]any) { c["o"] = map[string]any{"id": "org_1", "rol": role} }
			}
			if resp, body := s.get(t, "app.example.com", "/admin/users", "Authorization", bearer(withRole("admin"))); resp.StatusCode != 200 {
				t.Errorf("admin: %d %q", resp.StatusCode, body)
			}
			if resp, _ := s.get(t, "app.example.com", "/admin/users", "Authorization", bearer(withRole("member"))); resp.StatusCode != 403 {
				t.Errorf("member on /admin/: %d, want 403", resp.StatusCode)
			}
			if resp, _ := s.get(t, "app.example.com", "/home", "Authorization", bearer(withRole("member"))); resp.StatusCode != 200 {
				t.Errorf("member elsewhere: %d", resp.StatusCode)
			}
		},
		"custom-error-pages": func(t *testing.T, s *exampleSite) {
			expired := "Bearer " + sessionToken(t, expiredTimes)
			resp, body := s.get(t, "app.example.com", "/", "Authorization", expired)
			if resp.StatusCode != 401 || !strings.Contains(body, "<h1>Please sign in</h1>") ||
				!strings.Contains(body, "Reason: session-token-expired-refresh-non-eligible-no-refresh-cookie") {
				t.Errorf("%d %q", resp.StatusCode, body)
			}
		},
		"development-instance": func(t *testing.T, s *exampleSite) {
			resp, _ := s.get(t, "localhost", "/", "Accept", "text/html", "Sec-Fetch-Dest", "document")
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != 307 || loc == nil || loc.Host != "foo-bar-13.clerk.accounts.dev" || loc.Path != "/v1/client/handshake" ||
				loc.Query().Get(wire.QueryHandshakeReason) != wire.ReasonDevBrowserMissing {
				t.Errorf("page load without a dev browser: %d to %v", resp.StatusCode, loc)
			}
			devToken := bearer(func(c map[string]any) {
				c["iss"] = "https://foo-bar-13.clerk.accounts.dev"
				c["azp"] = "https://localhost"
			})
			if resp, body := s.get(t, "localhost", "/api", "Authorization", devToken); resp.StatusCode != 200 {
				t.Errorf("token of the instance: %d %q", resp.StatusCode, body)
			}
		},
		"proxy-url": func(t *testing.T, s *exampleSite) {
			viaProxy := bearer(func(c map[string]any) { c["iss"] = "https://app.example.com/__clerk" })
			if resp, body := s.get(t, "app.example.com", "/", "Authorization", viaProxy); resp.StatusCode != 200 {
				t.Errorf("token issued by the proxy URL: %d %q", resp.StatusCode, body)
			}
			resp, _ := s.get(t, "app.example.com", "/", "Authorization", bearer())
			if resp.StatusCode != 401 || resp.Header.Get(wire.HeaderAuthReason) != wire.ReasonTokenInvalidIssuer {
				t.Errorf("token issued by the Frontend API itself: %d %q", resp.StatusCode, resp.Header.Get(wire.HeaderAuthReason))
			}
			if resp, _ := s.get(t, "app.example.com", "/__clerk/v1/client"); resp.StatusCode != 200 ||
				s.upstream.path != "/v1/client" || s.upstream.last.Get("Clerk-Proxy-Url") != "https://app.example.com/__clerk" ||
				s.upstream.last.Get("Clerk-Secret-Key") != "sk_test_example" {
				t.Errorf("proxy route: %d, FAPI saw %s with %v", resp.StatusCode, s.upstream.path, s.upstream.last)
			}
		},
		"multi-tenant": checkMultiTenantExample, // orgsync_test.go
		"api-keys": func(t *testing.T, s *exampleSite) {
			resp, body := s.get(t, "api.example.com", "/orders", "Authorization", "Bearer "+akUser, wire.HeaderUserID, "user_forged", wire.HeaderOrgID, "org_forged")
			if resp.StatusCode != 200 || body != "upstream saw user user_1" {
				t.Fatalf("a key with the scope: %d %q", resp.StatusCode, body)
			}
			up := s.upstream.last
			if up.Get(wire.HeaderTokenType) != "api_key" || up.Get(wire.HeaderOrgID) != "" || up.Get(wire.HeaderScopes) != "orders:read" ||
				up.Get("X-Authenticated-Principal") != "user_1" {
				t.Errorf("upstream headers: %v", up)
			}
			if resp, _ := s.get(t, "api.example.com", "/orders", "Authorization", "Bearer "+akNoScope); resp.StatusCode != 403 || resp.Header.Get(wire.HeaderAuthReason) != wire.ReasonMissingScope {
				t.Errorf("a key without the scope: %d %q", resp.StatusCode, resp.Header.Get(wire.HeaderAuthReason))
			}
			if resp, _ := s.get(t, "api.example.com", "/orders", "Authorization", bearer()); resp.StatusCode != 401 || resp.Header.Get(wire.HeaderAuthReason) != wire.ReasonTokenTypeMismatch {
				t.Errorf("a session token: %d %q", resp.StatusCode, resp.Header.Get(wire.HeaderAuthReason))
			}
		},
		"m2m-service": func(t *testing.T, s *exampleSite) {
			resp, body := s.get(t, "inventory.example.com", "/stock", "Authorization", "Bearer "+mtOrders)
			if resp.StatusCode != 200 || s.upstream.last.Get(wire.HeaderMachineID) != "mch_orders" || s.upstream.last.Get(wire.HeaderUserID) != "" {
				t.Fatalf("an allowed machine: %d %q, upstream %v", resp.StatusCode, body, s.upstream.last)
			}
			s.machineAPI.mu.Lock()
			auth := s.machineAPI.auth["/m2m_tokens/verify"]
			s.machineAPI.mu.Unlock()
			if auth != "Bearer "+testMSK {
				t.Errorf("the M2M call was not authorized with the machine secret key")
			}
			if resp, _ := s.get(t, "inventory.example.com", "/stock", "Authorization", "Bearer "+mtStranger); resp.StatusCode != 403 || resp.Header.Get(wire.HeaderAuthReason) != wire.ReasonMachineNotAllowed {
				t.Errorf("another machine: %d %q", resp.StatusCode, resp.Header.Get(wire.HeaderAuthReason))
			}
		},
		"oauth-resource": func(t *testing.T, s *exampleSite) {
			resp, body := s.get(t, "partners.example.com", "/me", "Authorization", "Bearer "+oatPartners)
			if resp.StatusCode != 200 || s.upstream.last.Get(wire.HeaderUserID) != "user_1" || s.upstream.last.Get(wire.HeaderClientID) != "client_partner" {
				t.Fatalf("an OAuth token for this API: %d %q, upstream %v", resp.StatusCode, body, s.upstream.last)
			}
			if resp, _ := s.get(t, "partners.example.com", "/me", "Authorization", "Bearer "+oatElsewhre); resp.StatusCode != 401 || resp.Header.Get(wire.HeaderAuthReason) != "token-verification-failed" {
				t.Errorf("an OAuth token for another audience: %d %q", resp.StatusCode, resp.Header.Get(wire.HeaderAuthReason))
			}
			for _, tc := range []struct{ auth, typ string }{{"Bearer " + akUser, "api_key"}, {bearer(), "session_token"}} {
				if resp, _ := s.get(t, "api.example.com", "/orders", "Authorization", tc.auth); resp.StatusCode != 200 || s.upstream.last.Get(wire.HeaderTokenType) != tc.typ {
					t.Errorf("api.example.com with a %s: %d, X-Clerk-Token-Type %q", tc.typ, resp.StatusCode, s.upstream.last.Get(wire.HeaderTokenType))
				}
			}
		},
		"multi-session": func(t *testing.T, s *exampleSite) {
			token := sessionToken(t, liveTimes)
			d, _ := tokencache.Decode(token)
			cookie := wire.CookieSession + "=" + token + "; " + wire.CookieClientUAT + "=" + formatCount(d.Claims[jwt.ClaimIat].Num)
			if resp, _ := s.get(t, "app.example.com", "/orders?_clerk_session_id=sess_1", "Cookie", cookie); resp.StatusCode != 200 {
				t.Errorf("own session: %d", resp.StatusCode)
			}
			resp, _ := s.get(t, "app.example.com", "/orders?_clerk_session_id=sess_2", "Cookie", cookie)
			if resp.StatusCode != 401 || resp.Header.Get(wire.HeaderAuthReason) != wire.ReasonSessionIDMismatch {
				t.Errorf("another session: %d %q", resp.StatusCode, resp.Header.Get(wire.HeaderAuthReason))
			}
		},
	}

	dirs, err := filepath.Glob("examples/*/Caddyfile")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, path := range dirs {
		name := filepath.Base(filepath.Dir(path))
		check, ok := cases[name]
		if !ok {
			t.Errorf("examples/%s has no test in TestExamples", name)
			continue
		}
		delete(cases, name)
		t.Run(name, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(filepath.Dir(path), "README.md")); err != nil {
				t.Errorf("examples/%s has no README.md", name)
			}
			t.Setenv("CLERK_PUBLISHABLE_KEY", testPK)
			t.Setenv("CLERK_JWT_KEY", testkit.PublicPEM(t, a))
			t.Setenv("CLERK_SECRET_KEY", "sk_test_example")
			t.Setenv("CLERK_MACHINE_SECRET_KEY", testMSK)
			if name == "development-instance" {
				t.Setenv("CLERK_PUBLISHABLE_KEY", testDevPK)
			}
			site := &exampleSite{upstream: newRecordingUpstream(t), machineAPI: newFakeMachineAPI(t)}
			cfg := adaptExample(t, path)
			siteAddr := addr(testkit.FreePort(t))
			site.base = "http://" + siteAddr
			runnableExample(t, cfg, siteAddr, site.upstream.hostPort())
			setMachineAPI(cfg, site.machineAPI.URL)
			loadCaddy(t, cfg)
			check(t, site)
		})
	}
	for name := range cases {
		t.Errorf("TestExamples has a case for %s, which has no examples/%s/Caddyfile", name, name)
	}
}

// adaptExample adapts a Caddyfile as `caddy adapt` does and insists on a
// clean result (no warnings: formatted as `caddy fmt` wants).
func adaptExample(t *testing.T, path string) map[string]any {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(body, map[string]any{"filename": path})
	if err != nil {
		t.Fatalf("adapting %s: %v", path, err)
	}
	for _, w := range warnings {
		t.Errorf("%s:%d: %s", path, w.Line, w.Message)
	}
	var cfg map[string]any
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runnableExample makes an adapted example run here: every server listens
// on siteAddr over plain HTTP, no certificate is managed, the admin endpoint
// is off, and the upstreams localhost:9000 / :3000 and Clerk's Frontend API
// are the test upstream.
func runnableExample(t *testing.T, cfg map[string]any, siteAddr, upstream string) {
	t.Helper()
	cfg["admin"] = adminConfig("")
	apps, _ := cfg["apps"].(map[string]any)
	delete(apps, "tls")
	httpApp, _ := apps["http"].(map[string]any)
	servers, _ := httpApp["servers"].(map[string]any)
	if len(servers) != 1 {
		t.Fatalf("expected one server, got %d", len(servers))
	}
	for _, s := range servers {
		srv := s.(map[string]any)
		srv["listen"] = []string{siteAddr}
		srv["automatic_https"] = map[string]any{"disable": true}
		delete(srv, "tls_connection_policies")
	}
	replaceUpstreams(cfg, upstream)
	// static-site's folder.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>members only</h1>"), 0o644)
	replaceStrings(cfg, "/srv/www", dir)
}

// setMachineAPI points the api_url of every clerk_auth handler that takes
// machine tokens at url.
func setMachineAPI(v any, url string) {
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["accepts_token"]; ok && x["handler"] == "clerk_auth" {
			x["api_url"] = url
		}
		for _, e := range x {
			setMachineAPI(e, url)
		}
	case []any:
		for _, e := range x {
			setMachineAPI(e, url)
		}
	}
}

// replaceUpstreams points every reverse_proxy at the test upstream, over
// plain HTTP.
func replaceUpstreams(v any, upstream string) {
	switch x := v.(type) {
	case map[string]any:
		if x["handler"] == "reverse_proxy" {
			if ups, ok := x["upstreams"].([]any); ok {
				for _, u := range ups {
					u.(map[string]any)["dial"] = upstream
				}
			}
			if tr, ok := x["transport"].(map[string]any); ok {
				delete(tr, "tls")
			}
		}
		for _, e := range x {
			replaceUpstreams(e, upstream)
		}
	case []any:
		for _, e := range x {
			replaceUpstreams(e, upstream)
		}
	}
}

func replaceStrings(v any, from, to string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && s == from {
				x[k] = to
			} else {
				replaceStrings(e, from, to)
			}
		}
	case []any:
		for i, e := range x {
			if s, ok := e.(string); ok && s == from {
				x[i] = to
			} else {
				replaceStrings(e, from, to)
			}
		}
	}
}
