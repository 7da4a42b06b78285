package clerkauth

import (
	"encoding/json"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAccessLogHoldsNoToken runs examples/development-instance (a
// development instance: the handshake's tokens travel in URLs) in a real
// Caddy with its access log in a file, goes through both legs of a
// handshake and a signed-in request, and reads the log: none of the tokens
// is in it. Without the example's log filter, all of them are (so the test
// would see them).
func TestAccessLogHoldsNoToken(t *testing.T) {
	a, _ := testkit.Keys(t)
	for _, filtered := range []bool{true, false} {
		t.Run("filtered="+strconv.FormatBool(filtered), func(t *testing.T) {
			t.Setenv("CLERK_PUBLISHABLE_KEY", testDevPK)
			t.Setenv("CLERK_JWT_KEY", testkit.PublicPEM(t, a))
			t.Setenv("XDG_DATA_HOME", filepath.Join(t.TempDir(), ".data"))
			site := &exampleSite{upstream: newRecordingUpstream(t)}
			cfg := adaptExample(t, "examples/development-instance/Caddyfile")
			siteAddr := addr(testkit.FreePort(t))
			site.base = "http://" + siteAddr
			runnableExample(t, cfg, siteAddr, site.upstream.hostPort())
			logFile := filepath.Join(t.TempDir(), "access.log")
			logs := cfg["logging"].(map[string]any)["logs"].(map[string]any)
			found := 0
			for name, l := range logs {
				l := l.(map[string]any)
				if inc, _ := l["include"].([]any); len(inc) > 0 && strings.HasPrefix(inc[0].(string), "http.log.access") {
					found++
					l["writer"] = map[string]any{"output": "file", "filename": logFile}
					if !filtered {
						l["encoder"] = map[string]any{"format": "json"}
					}
				} else if name == "default" {
					l["writer"] = map[string]any{"output": "discard"}
				}
			}
			if found != 1 {
				t.Fatalf("the example has %d access logs, want 1", found)
			}
			// Credentials in headers are redacted by Caddy unless
			// log_credentials is on: on, to see that the filter removes them.
			for _, srv := range cfg["apps"].(map[string]any)["http"].(map[string]any)["servers"].(map[string]any) {
				srv.(map[string]any)["logs"].(map[string]any)["should_log_credentials"] = true
			}
			loadCaddy(t, cfg)

			dev := func(c map[string]any) {
				c["iss"] = "https://foo-bar-13.clerk.accounts.dev"
				c["azp"] = "https://localhost"
			}
			now := time.Now()
			expired := sessionToken(t, dev, func(c map[string]any) {
				c["iat"], c["nbf"], c["exp"] = now.Unix()-300, now.Unix()-310, now.Unix()-240
			})
			fresh := sessionToken(t, dev, func(c map[string]any) {
				c["iat"], c["nbf"], c["exp"] = now.Unix(), now.Unix()-10, now.Unix()+60
			})
			const devBrowser = "dvb_secretdevbrowservalue"
			hs := testkit.SignJWT(t, a, map[string]any{"alg": "RS256", "typ": "JWT", "kid": "ins_a"}, map[string]any{"handshake": []string{
				wire.CookieSession + "=" + fresh + "; Path=/", wire.CookieClientUAT + "=" + strconv.FormatInt(now.Unix(), 10) + "; Path=/",
			}})

			// The way there: an expired session on a page load.
			doc := []string{"Accept", "text/html", "Sec-Fetch-Dest", "document"}
			cookie := wire.CookieSession + "=" + expired + "; " + wire.CookieClientUAT + "=" + strconv.FormatInt(now.Unix()-300, 10) + "; " + wire.CookieDevBrowser + "=" + devBrowser
			resp, _ := site.get(t, "localhost", "/docs?tab=1", append(doc, "Cookie", cookie, "Referer", "http://localhost/?"+wire.QueryDevBrowser+"="+devBrowser)...)
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != 307 || loc == nil || loc.Query().Get(wire.QuerySession) != expired || loc.Query().Get(wire.QueryDevBrowser) != devBrowser {
				t.Fatalf("the way there: %d to %v", resp.StatusCode, loc)
			}
			// The way back: the handshake token and the dev browser in the URL.
			resp, _ = site.get(t, "localhost", "/docs?tab=1&"+wire.QueryHandshake+"="+hs+"&"+wire.QueryDevBrowser+"="+devBrowser, doc...)
			if resp.StatusCode != 307 || !strings.Contains(strings.Join(resp.Header.Values("Set-Cookie"), " "), fresh) {
				t.Fatalf("the way back: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
			}
			// Signed in, with the token in a header.
			if resp, _ := site.get(t, "localhost", "/docs", "Authorization", "Bearer "+fresh); resp.StatusCode != 200 {
				t.Fatalf("signed in: %d", resp.StatusCode)
			}
			stopCaddy()

			raw, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
			if len(lines) != 3 || !json.Valid([]byte(lines[0])) || !strings.Contains(lines[1], "tab=1") {
				t.Fatalf("the access log has %d lines, want the 3 requests:\n%s", len(lines), raw)
			}
			secrets := map[string]string{"the expired session token": expired, "the fresh session token": fresh, "the handshake token": hs, "the dev browser": devBrowser}
			for what, s := range secrets {
				in := strings.Contains(string(raw), s) || strings.Contains(string(raw), url.QueryEscape(s))
				if filtered && in {
					t.Errorf("the access log holds %s", what)
				}
				if !filtered && !in {
					t.Errorf("without the filter the access log should hold %s: the test does not see what it looks for", what)
				}
			}
		})
	}
}
