package clerkauth

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/clerk-edge/clerk_auth/internal/jsparse"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// The browser tests drive a real headless Chromium through real Caddy with
// clerk_auth in front of a small static site, and a fake Clerk (fakeClerk) on
// loopback. Each scenario reads what the browser ended on: the URL, the page,
// and the cookies it holds.

// browserSite is one site block of the Caddy under test and its Clerk.
type browserSite struct {
	origin string // http://127.0.0.1:<port>
	clerk  *fakeClerk
}

func (s *browserSite) url(pathAndQuery string) string { return s.origin + pathAndQuery }

// The pages of the static site.
const (
	protectedPath = "/docs/page.html"
	protectedText = "Members-only page"
	publicPath    = "/public/app.html"
	publicText    = "Public app shell"
	apiPath       = "/api/me"
)

func TestBrowserFlow(t *testing.T) {
	chromium := findChromium(t)

	root := t.TempDir()
	writeSiteFiles(t, root)

	pk := testPK
	// prod: production instance, handshake token format (no secret key).
	prod := &browserSite{clerk: newFakeClerk(t, pk, "")}
	// nonce: production instance with a secret key: format=nonce and the
	// payload exchanged at the Backend API.
	nonce := &browserSite{clerk: newFakeClerk(t, pk, "sk_test_browser")}
	// dev: development instance (pk_test_), token in the URL, dev browser.
	dev := &browserSite{clerk: newFakeClerk(t, testDevPK, "")}
	// noSignIn: production, sign_in_url off, so signed-out pages get 401.
	noSignIn := &browserSite{clerk: newFakeClerk(t, pk, "")}
	// satellite: a production satellite whose primary signs in at the
	// fake's sign-in page.
	satellite := &browserSite{clerk: newFakeClerk(t, pk, "")}

	var blocks []string
	for _, s := range []struct {
		site     *browserSite
		pk       string
		settings []string
	}{
		{prod, pk, []string{"sign_in_url " + prod.clerk.signInURL()}},
		{nonce, pk, []string{"sign_in_url " + nonce.clerk.signInURL(), "secret_key " + nonce.clerk.secret, "api_url " + nonce.clerk.bapi.URL}},
		{dev, testDevPK, []string{"sign_in_url " + dev.clerk.signInURL()}},
		{noSignIn, pk, []string{"sign_in_url off"}},
		{satellite, pk, []string{"sign_in_url " + satellite.clerk.signInURL(), "is_satellite"}},
	} {
		s.site.origin = fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t))
		settings := append([]string{
			"publishable_key " + s.pk,
			"proxy_url " + s.site.clerk.issuer(),
			"authorized_parties " + s.site.origin,
		}, s.settings...)
		blocks = append(blocks, siteBlock(s.site.origin, root, settings))
	}
	startCaddy(t, root, blocks)
	browser := startBrowser(t, chromium)

	t.Run("signed-in visit shows the page", func(t *testing.T) {
		tab := newTab(t, browser)
		token := prod.clerk.sessionToken(prod.origin, time.Now(), time.Minute)
		setSessionCookies(t, tab, prod, token, time.Now())
		prod.clerk.setClient(clientSignedIn)
		before := len(prod.clerk.handshakeRequests())

		end := visit(t, tab, prod.url(protectedPath+"?tab=1"))
		end.wantPage(t, prod.url(protectedPath+"?tab=1"), protectedText)
		if n := len(prod.clerk.handshakeRequests()) - before; n != 0 {
			t.Errorf("a signed-in visit went through %d handshakes", n)
		}
		if got := end.cookie(wire.CookieSession); got != token {
			t.Errorf("the __session cookie changed on a signed-in visit")
		}
	})

	t.Run("expired session goes through the handshake (token in a cookie)", func(t *testing.T) {
		tab := newTab(t, browser)
		old := time.Now().Add(-5 * time.Minute)
		setSessionCookies(t, tab, prod, prod.clerk.sessionToken(prod.origin, old, time.Minute), old)
		prod.clerk.setClient(clientSignedIn)
		before := len(prod.clerk.handshakeRequests())

		// The handshake's redirect_url is the page with its query serialized
		// again as URLSearchParams does in Clerk's SDK (a space becomes '+'):
		// the same query to any form decoder.
		page, back := prod.url(protectedPath+"?tab=2&q=a%20b"), prod.url(protectedPath+"?tab=2&q=a+b")
		end := visit(t, tab, page)
		end.wantPage(t, back, protectedText)
		hs := prod.clerk.handshakeRequests()[before:]
		if len(hs) != 1 {
			t.Fatalf("handshakes: got %d, want 1", len(hs))
		}
		wantHandshakeQuery(t, hs[0].query, back, "session-token-expired-refresh-non-eligible-no-refresh-cookie", "")
		end.wantFreshSession(t, prod.clerk)
		end.wantNoCookie(t, wire.CookieHandshake)
	})

	t.Run("expired session goes through the handshake (nonce and Backend API)", func(t *testing.T) {
		tab := newTab(t, browser)
		old := time.Now().Add(-5 * time.Minute)
		setSessionCookies(t, tab, nonce, nonce.clerk.sessionToken(nonce.origin, old, time.Minute), old)
		nonce.clerk.setClient(clientSignedIn)
		before, exchanges := len(nonce.clerk.handshakeRequests()), nonce.clerk.nonceExchanges()

		page := nonce.url(protectedPath)
		end := visit(t, tab, page)
		end.wantPage(t, page, protectedText)
		hs := nonce.clerk.handshakeRequests()[before:]
		if len(hs) != 1 {
			t.Fatalf("handshakes: got %d, want 1", len(hs))
		}
		wantHandshakeQuery(t, hs[0].query, page, "session-token-expired-refresh-non-eligible-no-refresh-cookie", "nonce")
		if n := nonce.clerk.nonceExchanges() - exchanges; n != 1 {
			t.Errorf("nonce exchanges at the Backend API: got %d, want 1", n)
		}
		end.wantFreshSession(t, nonce.clerk)
		end.wantNoCookie(t, wire.CookieHandshakeNonce)
	})

	t.Run("development: expired session, handshake in the URL, clean URL after", func(t *testing.T) {
		tab := newTab(t, browser)
		old := time.Now().Add(-5 * time.Minute)
		setSessionCookies(t, tab, dev, dev.clerk.sessionToken(dev.origin, old, time.Minute), old)
		setCookie(t, tab, dev, wire.CookieDevBrowser, fakeDevBrowser)
		setCookie(t, tab, dev, wire.CookieDevBrowser+"_"+dev.clerk.suffix, fakeDevBrowser)
		dev.clerk.setClient(clientSignedIn)
		before := len(dev.clerk.handshakeRequests())

		page := dev.url(protectedPath + "?tab=3")
		end := visit(t, tab, page)
		end.wantPage(t, page, protectedText)
		hs := dev.clerk.handshakeRequests()[before:]
		if len(hs) != 1 {
			t.Fatalf("handshakes: got %d, want 1", len(hs))
		}
		wantHandshakeQuery(t, hs[0].query, page, "session-token-expired-refresh-non-eligible-no-refresh-cookie", "")
		if got := hs[0].query.Get(wire.QueryDevBrowser); got != fakeDevBrowser {
			t.Errorf("handshake %s: got %q, want the dev browser %q", wire.QueryDevBrowser, got, fakeDevBrowser)
		}
		if !strings.Contains(hs[0].returnURL, wire.QueryHandshake+"=") {
			t.Errorf("the Frontend API's return URL %q carries no handshake token", hs[0].returnURL)
		}
		end.wantFreshSession(t, dev.clerk)
	})

	t.Run("development: a first visit gets a dev browser through the handshake", func(t *testing.T) {
		tab := newTab(t, browser)
		dev.clerk.setClient(clientSignedIn)
		before := len(dev.clerk.handshakeRequests())

		page := dev.url(protectedPath)
		end := visit(t, tab, page)
		end.wantPage(t, page, protectedText)
		hs := dev.clerk.handshakeRequests()[before:]
		if len(hs) != 1 {
			t.Fatalf("handshakes: got %d, want 1", len(hs))
		}
		wantHandshakeQuery(t, hs[0].query, page, wire.ReasonDevBrowserMissing, "")
		if got := end.cookie(wire.CookieDevBrowser); got != fakeDevBrowser {
			t.Errorf("%s: got %q, want the dev browser the Frontend API created", wire.CookieDevBrowser, got)
		}
		end.wantFreshSession(t, dev.clerk)
	})

	t.Run("development: signed-out visit takes the dev browser to sign-in", func(t *testing.T) {
		tab := newTab(t, browser)
		setCookie(t, tab, dev, wire.CookieDevBrowser, fakeDevBrowser)
		dev.clerk.setClient(clientSignedOut)

		page := dev.url(protectedPath + "?tab=5")
		end := visit(t, tab, page)
		end.wantSignIn(t, dev.clerk, page)
		if got := end.query(wire.QueryDevBrowser); got != fakeDevBrowser {
			t.Errorf("sign-in URL %s: got %q, want the dev browser %q", wire.QueryDevBrowser, got, fakeDevBrowser)
		}
	})

	t.Run("satellite: sign-in on the primary, then one sync lands on the page", func(t *testing.T) {
		tab := newTab(t, browser)
		satellite.clerk.setClient(clientSignedIn)
		before := len(satellite.clerk.handshakeRequests())

		// A first visit without cookies does not sync (no
		// satellite_auto_sync): it goes to the primary's sign-in, with a
		// way back that asks for the sync.
		page := satellite.url(protectedPath + "?tab=6")
		back := page + "&" + wire.QuerySynced + "=false"
		end := visit(t, tab, page)
		end.wantSignIn(t, satellite.clerk, back)
		if n := len(satellite.clerk.handshakeRequests()) - before; n != 0 {
			t.Fatalf("the first satellite visit went through %d handshakes", n)
		}

		// Signed in on the primary, the user is sent back to redirect_url.
		end = visit(t, tab, back)
		end.wantPage(t, back, protectedText)
		hs := satellite.clerk.handshakeRequests()[before:]
		if len(hs) != 1 {
			t.Fatalf("handshakes: got %d, want 1", len(hs))
		}
		wantHandshakeQuery(t, hs[0].query, back, wire.ReasonSatelliteNeedsSyncing, "")
		end.wantFreshSession(t, satellite.clerk)
	})

	t.Run("signed-out visit ends on sign-in with the page as redirect_url", func(t *testing.T) {
		tab := newTab(t, browser)
		prod.clerk.setClient(clientSignedOut)
		before := len(prod.clerk.handshakeRequests())

		page := prod.url(protectedPath + "?tab=4&q=a%20b#frag")
		end := visit(t, tab, page)
		end.wantSignIn(t, prod.clerk, strings.TrimSuffix(page, "#frag"))
		if n := len(prod.clerk.handshakeRequests()) - before; n != 0 {
			t.Errorf("a visit without cookies went through %d handshakes", n)
		}
	})

	t.Run("signed out elsewhere: the handshake clears the cookies, then sign-in", func(t *testing.T) {
		tab := newTab(t, browser)
		uat := time.Now().Add(-time.Hour).Unix()
		for _, name := range []string{wire.CookieClientUAT, wire.CookieClientUAT + "_" + prod.clerk.suffix} {
			setCookie(t, tab, prod, name, fmt.Sprint(uat))
		}
		prod.clerk.setClient(clientSignedOut)
		before := len(prod.clerk.handshakeRequests())

		page := prod.url(protectedPath)
		end := visit(t, tab, page)
		end.wantSignIn(t, prod.clerk, page)
		hs := prod.clerk.handshakeRequests()[before:]
		if len(hs) != 1 {
			t.Fatalf("handshakes: got %d, want 1", len(hs))
		}
		wantHandshakeQuery(t, hs[0].query, page, wire.ReasonClientUATButNoSessionToken, "")
		if got := end.cookie(wire.CookieClientUAT); got != "0" {
			t.Errorf("__client_uat after the signed-out handshake: got %q, want 0", got)
		}
		end.wantNoCookie(t, wire.CookieSession)
	})

	t.Run("forged handshake cookie applies nothing", func(t *testing.T) {
		tab := newTab(t, browser)
		_, other := testkit.Keys(t)
		valid := prod.clerk.sessionToken(prod.origin, time.Now(), time.Minute)
		forged := testkit.SignJWT(t, other, map[string]any{"alg": "RS256", "typ": "JWT", "kid": prod.clerk.kid}, map[string]any{
			"handshake": []string{"planted=1; Path=/", wire.CookieSession + "=" + valid + "; Path=/", wire.CookieClientUAT + "=1; Path=/"},
		})
		setCookie(t, tab, prod, wire.CookieHandshake, forged)
		prod.clerk.setClient(clientSignedOut)

		page := prod.url(protectedPath)
		end := visit(t, tab, page)
		end.wantSignIn(t, prod.clerk, page)
		for _, name := range []string{"planted", wire.CookieSession, wire.CookieClientUAT} {
			end.wantNoCookie(t, name)
		}
	})

	// A Frontend API that keeps sending the browser back without a session
	// the site can accept: the loop guard stops after three handshakes.
	for _, tc := range []struct {
		name string
		site *browserSite
		want func(t *testing.T, end *browserEnd, page string)
	}{
		{"redirect loop stops on sign-in", prod, func(t *testing.T, end *browserEnd, page string) {
			end.wantSignIn(t, prod.clerk, page)
		}},
		{"redirect loop stops with 401", noSignIn, func(t *testing.T, end *browserEnd, page string) {
			if end.status != 401 || end.url != page {
				t.Errorf("ended on %d %s, want 401 %s", end.status, end.url, page)
			}
			if !strings.Contains(end.text, "401 signed out: session-token-expired") || strings.Contains(end.text, protectedText) {
				t.Errorf("the page shows %q, want the 401 error page", end.text)
			}
			if got := end.headers[wire.HeaderAuthReason]; got != "session-token-expired-refresh-non-eligible-no-refresh-cookie" {
				t.Errorf("%s: got %q", wire.HeaderAuthReason, got)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := newTab(t, browser)
			old := time.Now().Add(-5 * time.Minute)
			setSessionCookies(t, tab, tc.site, tc.site.clerk.sessionToken(tc.site.origin, old, time.Minute), old)
			tc.site.clerk.setClient(clientStale)
			before := len(tc.site.clerk.handshakeRequests())

			page := tc.site.url(protectedPath + "?loop=1")
			end := visit(t, tab, page)
			tc.want(t, end, page)
			if n := len(tc.site.clerk.handshakeRequests()) - before; n != 3 {
				t.Errorf("handshakes before the loop guard stopped it: got %d, want 3", n)
			}
		})
	}

	t.Run("fetch from the page gets 401, not a redirect", func(t *testing.T) {
		tab := newTab(t, browser)
		prod.clerk.setClient(clientSignedIn)
		before := len(prod.clerk.handshakeRequests())
		end := visit(t, tab, prod.url(publicPath))
		end.wantPage(t, prod.url(publicPath), publicText)

		got := fetchFromPage(t, tab, apiPath)
		if got.Status != 401 || got.Redirected || got.Reason != wire.ReasonSessionTokenAndUATMissing {
			t.Errorf("fetch without a session: got %+v, want 401 %s, not redirected", got, wire.ReasonSessionTokenAndUATMissing)
		}

		old := time.Now().Add(-5 * time.Minute)
		setSessionCookies(t, tab, prod, prod.clerk.sessionToken(prod.origin, old, time.Minute), old)
		got = fetchFromPage(t, tab, apiPath)
		if want := "session-token-expired-refresh-non-eligible-no-refresh-cookie"; got.Status != 401 || got.Redirected || got.Reason != want {
			t.Errorf("fetch with an expired session: got %+v, want 401 %s, not redirected", got, want)
		}

		setSessionCookies(t, tab, prod, prod.clerk.sessionToken(prod.origin, time.Now(), time.Minute), time.Now())
		got = fetchFromPage(t, tab, apiPath)
		if got.Status != 200 || !strings.Contains(got.Body, fakeUserID) {
			t.Errorf("fetch with a fresh session: got %+v, want 200 naming %s", got, fakeUserID)
		}
		if n := len(prod.clerk.handshakeRequests()) - before; n != 0 {
			t.Errorf("fetch() calls went through %d handshakes", n)
		}
	})
}

// findChromium finds Debian's chromium. Without it the test cannot run: in
// CI that is a failure, elsewhere a skip that says how to get it.
func findChromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	for _, name := range []string{"chromium", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (CI is set): .ci/run installs it with apt-get install chromium")
	}
	t.Skip("chromium is not installed: apt-get install chromium to run the browser test")
	return ""
}

func writeSiteFiles(t *testing.T, root string) {
	t.Helper()
	for name, body := range map[string]string{
		"index.html":  "<!doctype html><title>Home</title><h1>Home</h1>",
		protectedPath: "<!doctype html><title>Docs</title><h1>" + protectedText + "</h1>",
		publicPath:    "<!doctype html><title>App</title><h1>" + publicText + "</h1>",
	} {
		p := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(name, "/")))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// siteBlock protects everything but /public/ with clerk_auth; /api/ answers
// with the user id the handler set; errors (the 401) get a body that names
// the reason, as a site would shape them with handle_errors.
func siteBlock(origin, root string, settings []string) string {
	return fmt.Sprintf(`%s {
	root * %s
	handle /public/* {
		file_server
	}
	handle {
		clerk_auth {
			%s
		}
		handle %s {
			header Content-Type application/json
			respond `+"`"+`{"user":"{http.auth.user.id}"}`+"`"+` 200
		}
		file_server
	}
	handle_errors {
		respond "{err.status_code} signed out: {http.auth.clerk.reason}"
	}
}
`, origin, root, strings.Join(settings, "\n\t\t\t"), apiPath)
}

// startCaddy runs Caddy in this process with the site blocks, HTTP only,
// with no admin endpoint, until the test ends. Set CLERK_AUTH_TEST_LOG=1
// to see Caddy's debug log.
func startCaddy(t *testing.T, root string, blocks []string) {
	t.Helper()
	t.Setenv("XDG_DATA_HOME", filepath.Join(root, ".data"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(root, ".config"))
	logging := "output discard"
	if os.Getenv("CLERK_AUTH_TEST_LOG") != "" {
		logging = "output stderr\n\t\tlevel DEBUG"
	}
	caddyfile := fmt.Sprintf(`{
	admin off
	persist_config off
	auto_https off
	log {
		%s
	}
}
`, logging) + strings.Join(blocks, "\n")
	runCaddy(t, caddyfile)
}

// startBrowser starts one headless Chromium for the test; each scenario
// opens its own browser context (its own cookie jar) in it.
func startBrowser(t *testing.T, chromium string) context.Context {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root in CI
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	// Start the browser now, on a context without a deadline: it lives as
	// long as the context of its first run.
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return browserCtx
}

// newTab opens a tab in a fresh browser context, closed when the subtest
// ends; every action on it is bounded by the deadline.
func newTab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancelTimeout := context.WithTimeout(browser, 60*time.Second)
	tab, cancelTab := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(func() { cancelTab(); cancelTimeout() })
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	return tab
}

// setCookie sets a host-only cookie for the site, as its own Set-Cookie
// would.
func setCookie(t *testing.T, tab context.Context, s *browserSite, name, value string) {
	t.Helper()
	_, err := chromedp.Run(tab, func(ctx context.Context, target *chromedp.Target) (cdp.Empty, error) {
		return cdp.Call(ctx, target, network.SetCookie, network.SetCookieParams{
			Name: name, Value: value, URL: s.url("/"), Path: "/", SameSite: network.CookieSameSiteLax,
		})
	})
	if err != nil {
		t.Fatalf("setting cookie %s: %v", name, err)
	}
}

// setSessionCookies sets what Clerk's Frontend API would have set after a
// sign-in: __session and __client_uat, plain and suffixed.
func setSessionCookies(t *testing.T, tab context.Context, s *browserSite, token string, uat time.Time) {
	t.Helper()
	for _, sfx := range []string{"", "_" + s.clerk.suffix} {
		setCookie(t, tab, s, wire.CookieSession+sfx, token)
		setCookie(t, tab, s, wire.CookieClientUAT+sfx, fmt.Sprint(uat.Unix()))
	}
}

// browserEnd is what the browser ended on after a navigation.
type browserEnd struct {
	url     string
	status  int64
	headers map[string]string
	text    string
	cookies map[string]string // the cookies it holds for 127.0.0.1
}

func (e *browserEnd) cookie(name string) string { return e.cookies[name] }

// query is a query parameter of the URL the browser ended on.
func (e *browserEnd) query(name string) string {
	u, err := url.Parse(e.url)
	if err != nil {
		return ""
	}
	return u.Query().Get(name)
}

// visit navigates as a user typing the URL would, follows every redirect,
// and reads where the browser ended.
func visit(t *testing.T, tab context.Context, target string) *browserEnd {
	t.Helper()
	resp, err := chromedp.Run(tab, chromedp.NavigateResponse(target))
	if err != nil {
		t.Fatalf("navigating to %s: %v", target, err)
	}
	end := &browserEnd{status: resp.Status, headers: map[string]string{}}
	for k, v := range resp.Headers {
		end.headers[http.CanonicalHeaderKey(k)] = fmt.Sprint(v)
	}
	if end.url, err = chromedp.Run(tab, chromedp.Location()); err != nil {
		t.Fatalf("reading the location: %v", err)
	}
	if end.text, err = chromedp.Run(tab, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`)); err != nil {
		t.Fatalf("reading the page: %v", err)
	}
	end.cookies = browserCookies(t, tab, "http://127.0.0.1/")
	return end
}

func browserCookies(t *testing.T, tab context.Context, forURL string) map[string]string {
	t.Helper()
	res, err := chromedp.Run(tab, func(ctx context.Context, target *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, target, network.GetCookies, network.GetCookiesParams{URLs: []string{forURL}})
	})
	if err != nil {
		t.Fatalf("reading cookies: %v", err)
	}
	jar := map[string]string{}
	for _, c := range res.Cookies {
		jar[c.Name] = c.Value
	}
	return jar
}

func (e *browserEnd) wantPage(t *testing.T, wantURL, wantText string) {
	t.Helper()
	if e.status != 200 || e.url != wantURL || !strings.Contains(e.text, wantText) {
		t.Errorf("ended on %d %s showing %q; want 200 %s showing %q", e.status, e.url, e.text, wantURL, wantText)
	}
}

// wantSignIn: the browser is on the instance's sign-in page, which will
// send it back to page.
func (e *browserEnd) wantSignIn(t *testing.T, clerk *fakeClerk, page string) {
	t.Helper()
	u, err := url.Parse(e.url)
	if err != nil {
		t.Fatalf("final URL %q: %v", e.url, err)
	}
	if e.status != 200 || u.Scheme+"://"+u.Host+u.Path != clerk.signInURL() {
		t.Errorf("ended on %d %s; want the sign-in page %s", e.status, e.url, clerk.signInURL())
	}
	if got := u.Query().Get(wire.QueryRedirectURL); got != page {
		t.Errorf("redirect_url: got %q, want %q", got, page)
	}
	if !strings.Contains(e.text, "Sign in") || !strings.Contains(e.text, page) {
		t.Errorf("the sign-in page shows %q", e.text)
	}
	if strings.Contains(e.text, protectedText) {
		t.Errorf("the protected page was shown")
	}
}

// wantFreshSession: the browser holds the session the Frontend API handed
// out, under both cookie names, with a current __client_uat.
func (e *browserEnd) wantFreshSession(t *testing.T, clerk *fakeClerk) {
	t.Helper()
	fresh := clerk.latestSession()
	for _, sfx := range []string{"", "_" + clerk.suffix} {
		if got := e.cookie(wire.CookieSession + sfx); fresh == "" || got != fresh {
			t.Errorf("%s%s is not the fresh session token from the handshake", wire.CookieSession, sfx)
		}
		uat, ok := jsparse.ParseInt(e.cookie(wire.CookieClientUAT + sfx))
		if !ok || time.Since(time.Unix(int64(uat), 0)) > time.Minute {
			t.Errorf("%s%s: got %q, want the time of the handshake", wire.CookieClientUAT, sfx, e.cookie(wire.CookieClientUAT+sfx))
		}
	}
}

func (e *browserEnd) wantNoCookie(t *testing.T, name string) {
	t.Helper()
	if v, ok := e.cookies[name]; ok {
		t.Errorf("the browser still holds %s=%q", name, v)
	}
}

// wantHandshakeQuery checks what the Frontend API was told: where to come
// back to, why, and in which format to answer.
func wantHandshakeQuery(t *testing.T, q url.Values, page, reason, format string) {
	t.Helper()
	if got := q.Get(wire.QueryRedirectURL); got != page {
		t.Errorf("handshake redirect_url: got %q, want %q", got, page)
	}
	if got := q.Get(wire.QueryHandshakeReason); got != reason {
		t.Errorf("handshake %s: got %q, want %q", wire.QueryHandshakeReason, got, reason)
	}
	if got := q.Get(wire.QueryHandshakeFormat); got != format {
		t.Errorf("handshake format: got %q, want %q", got, format)
	}
}

// fetchResult is what page JavaScript saw of a fetch().
type fetchResult struct {
	Status     int    `json:"status"`
	Redirected bool   `json:"redirected"`
	Reason     string `json:"reason"`
	Body       string `json:"body"`
}

func fetchFromPage(t *testing.T, tab context.Context, path string) fetchResult {
	t.Helper()
	js := fmt.Sprintf(`(async () => {
		const r = await fetch(%q, {headers: {Accept: "application/json"}});
		return {status: r.status, redirected: r.redirected, reason: r.headers.get(%q) || "", body: await r.text()};
	})()`, path, wire.HeaderAuthReason)
	res, err := chromedp.Run(tab, chromedp.Evaluate[fetchResult](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("fetch(%s) from the page: %v", path, err)
	}
	return res
}
