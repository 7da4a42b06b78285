package clerkauth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/clerk-edge/clerk_auth/internal/authn"
	"github.com/clerk-edge/clerk_auth/internal/demo"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// TestDemoStandInOnlyInDemoMode: the reserved path is ours in demo mode
// only; with any other configuration it is a path like any other, decided
// on by clerk_auth and passed on (or not) as such.
func TestDemoStandInOnlyInDemoMode(t *testing.T) {
	h := newTestHandler(t)
	if h.demo != nil {
		t.Fatal("a handler outside demo mode has the stand-in")
	}
	for _, path := range []string{"/__clerk_demo/sign-in", "/__clerk_demo/v1/client/handshake?redirect_url=https%3A%2F%2Fapp.example.com%2F"} {
		out := serve(h, newRequest("GET", testOrigin+path, "Accept", "text/html"))
		if loc := out.rec.Header().Get("Location"); out.status() != 307 || !strings.HasPrefix(loc, "https://accounts.example.com/sign-in?") {
			t.Errorf("%s outside demo mode: %d to %q, want clerk_auth's sign-in redirect", path, out.status(), loc)
		}
		if strings.Contains(out.rec.Body.String(), "demo") || out.rec.Header().Get("Set-Cookie") != "" {
			t.Errorf("%s outside demo mode answered by the stand-in: %q", path, out.rec.Body.String())
		}
		token := sessionToken(t)
		out = serve(h, newRequest("GET", testOrigin+path, "Authorization", "Bearer "+token))
		if out.status() != 200 || out.upstream == nil {
			t.Errorf("%s outside demo mode, signed in: %d, want it passed on to the next handler", path, out.status())
		}
	}
	var nd Handler
	if err := nd.provisionDemo(); err == nil {
		t.Error("provisionDemo ran outside demo mode")
	}
}

func newDemoHandler(t *testing.T, edit ...func(*Handler)) *Handler {
	t.Helper()
	h := &Handler{Demo: true}
	for _, e := range edit {
		e(h)
	}
	provision(t, h)
	return h
}

func TestDemoSettings(t *testing.T) {
	h := newDemoHandler(t)
	if h.demo == nil || h.signInURL != "/__clerk_demo/sign-in" || h.verify.Issuer != "https://clerk.demo.localhost" || h.issuerPerRequest {
		t.Errorf("demo: stand-in %v, sign-in %q, issuer %q (per request %v)", h.demo != nil, h.signInURL, h.verify.Issuer, h.issuerPerRequest)
	}
	r := newRequest("GET", "http://localhost:8080/docs", "Accept", "text/html", "Cookie", "__client_uat=1")
	out := serve(h, r)
	if loc := out.rec.Header().Get("Location"); out.status() != 307 || !strings.HasPrefix(loc, "http://localhost:8080/__clerk_demo/v1/client/handshake?redirect_url=http%3A%2F%2Flocalhost%3A8080%2Fdocs&") {
		t.Errorf("a handshake in demo mode: %d to %q, want the stand-in", out.status(), loc)
	}
	out = serve(h, newRequest("GET", "http://localhost:8080/__clerk_demo/sign-in"))
	if out.status() != 200 || !strings.Contains(out.rec.Body.String(), "Sign in to the demo") || out.upstream != nil {
		t.Errorf("the stand-in's sign-in page: %d, passed on %v", out.status(), out.upstream != nil)
	}
	if v, _ := out.repl.GetString("http.auth.user.id"); v != "" {
		t.Errorf("{http.auth.user.id} on the stand-in's page: %q", v)
	}
	if off := newDemoHandler(t, func(h *Handler) { h.SignInURL = "off" }); off.signInURL != "" {
		t.Errorf("sign_in_url off in demo mode: %q", off.signInURL)
	}
	for name, edit := range map[string]func(*Handler){
		"proxy_url": func(h *Handler) { h.ProxyURL = "/__clerk" },
		"issuer":    func(h *Handler) { h.Issuer = "https://x.example" },
	} {
		h := &Handler{Demo: true}
		edit(h)
		if err := h.Provision(testContext()); err == nil || !strings.Contains(err.Error(), "demo: cannot be combined") {
			t.Errorf("demo with %s: %v", name, err)
		}
	}
}

// TestDemoBrowser is the quick start in Chromium: the demo site sends a
// visitor to the stand-in's sign-in page, the visitor picks a user, an
// organization and a role, and comes back to the page that names them; once
// the token has expired, one page load goes through the stand-in's
// handshake and comes back with a fresh token; the admin area wants
// org:admin; the API answers fetch() with 401 without cookies; sign out
// ends on the sign-in page. The demo's own access log holds no token.
func TestDemoBrowser(t *testing.T) {
	chromium := findChromium(t)
	// Tokens that live 2 s (and no clock skew) stand for Clerk's 60 s.
	defer func(l time.Duration) { demoTokenLifetime = l }(demoTokenLifetime)
	demoTokenLifetime = 2 * time.Second

	cfg := adaptExample(t, "demo/Caddyfile")
	t.Setenv("XDG_DATA_HOME", filepath.Join(t.TempDir(), ".data"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(t.TempDir(), ".config"))
	origin := fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t))
	logFile := filepath.Join(t.TempDir(), "access.log")
	runnableDemo(t, cfg, strings.TrimPrefix(origin, "http://"), logFile)
	loadCaddy(t, cfg)
	browser := startBrowser(t, chromium)
	tab, seen := newWatchedTab(t, browser)

	end := visit(t, tab, origin+"/")
	if !strings.HasPrefix(end.url, origin+"/__clerk_demo/sign-in?redirect_url=") || !strings.Contains(end.text, "Sign in to the demo") {
		t.Fatalf("a first visit ended on %d %s: %q", end.status, end.url, end.text)
	}
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.getElementById("org-org_demo").checked = true; document.getElementById("role").value = "admin"; true`)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(tab, chromedp.Click("#sign-in")); err != nil {
		t.Fatalf("signing in: %v", err)
	}
	end = readEnd(t, tab)
	if end.url != origin+"/" || !strings.Contains(end.text, "You are signed in") {
		t.Fatalf("after sign-in: %s %q", end.url, end.text)
	}
	identity := func() map[string]string {
		t.Helper()
		v, err := chromedp.Run(tab, chromedp.Evaluate[map[string]string](`({user: document.getElementById("user").textContent,
			session: document.getElementById("session").textContent, org: document.getElementById("org").textContent,
			expiry: document.getElementById("expiry").textContent})`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	id := identity()
	if id["user"] != "user_demo" || !strings.HasPrefix(id["session"], "sess_demo_") || id["org"] != "org_demo org:admin" || !strings.HasSuffix(id["expiry"], " s") {
		t.Errorf("the page shows %v", id)
	}
	first := end.cookie(wire.CookieSession)

	// The admin area, then the API from the page.
	if end := visit(t, tab, origin+"/admin/"); end.status != 200 || !strings.Contains(end.text, "Admin area") {
		t.Errorf("admin area with org:admin: %d %q", end.status, end.text)
	}
	visit(t, tab, origin+"/")
	if got := fetchFromPage(t, tab, "/api/me"); got.Status != 200 || !strings.Contains(got.Body, `"user":"user_demo"`) {
		t.Errorf("fetch /api/me signed in: %+v", got)
	}

	// The token expires; the next page load goes through one handshake.
	time.Sleep(3 * time.Second)
	if got := fetchFromPage(t, tab, "/api/me"); got.Status != 401 || got.Reason != "session-token-expired-refresh-non-eligible-no-refresh-cookie" {
		t.Errorf("fetch /api/me with an expired token: %+v", got)
	}
	seen.reset()
	end = visit(t, tab, origin+"/protected.html")
	if end.status != 200 || end.url != origin+"/protected.html" || !strings.Contains(end.text, "Signed in as user_demo") {
		t.Errorf("after expiry: %d %s %q", end.status, end.url, end.text)
	}
	if hs := seen.documentsUnder(origin + "/__clerk_demo/v1/client/handshake"); len(hs) != 1 {
		t.Errorf("handshakes at the stand-in: %d, want 1 (%v)", len(hs), seen.documents())
	}
	if fresh := end.cookie(wire.CookieSession); fresh == "" || fresh == first || end.cookie(wire.CookieSession+"_"+authn.CookieSuffix(demo.PublishableKey)) != fresh {
		t.Errorf("no fresh session token under both names after the handshake")
	}
	end.wantNoCookie(t, wire.CookieHandshake)
	if got := fetchFromPage(t, tab, "/api/me"); got.Status != 200 {
		t.Errorf("fetch /api/me after the refresh: %+v", got)
	}
	res, err := chromedp.Run(tab, chromedp.Evaluate[fetchResult](`(async () => { const r = await fetch("/api/me", {credentials: "omit"});
		return {status: r.status, redirected: r.redirected, reason: r.headers.get("X-Clerk-Auth-Reason") || "", body: ""}; })()`, chromedp.EvalAwaitPromise))
	if err != nil || res.Status != 401 || res.Redirected || res.Reason != wire.ReasonSessionTokenAndUATMissing {
		t.Errorf("fetch /api/me without cookies: %+v %v", res, err)
	}

	// Sign out: back on the sign-in page, and signed out for the site.
	end = visit(t, tab, origin+"/__clerk_demo/sign-out")
	if !strings.HasPrefix(end.url, origin+"/__clerk_demo/sign-in") || end.cookie(wire.CookieClientUAT) != "0" {
		t.Errorf("after sign-out: %s, __client_uat %q", end.url, end.cookie(wire.CookieClientUAT))
	}
	end.wantNoCookie(t, wire.CookieSession)

	// A member is refused the admin area.
	visit(t, tab, origin+"/")
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.getElementById("org-org_demo").checked = true; document.getElementById("role").value = "member"; true`)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(tab, chromedp.Click("#sign-in")); err != nil {
		t.Fatal(err)
	}
	if end := visit(t, tab, origin+"/admin/"); end.status != 403 || !strings.Contains(end.text, "org-role-mismatch") && !strings.Contains(end.text, "403") {
		t.Errorf("admin area as org:member: %d %q", end.status, end.text)
	}

	stopCaddy()
	raw, err := os.ReadFile(logFile)
	if err != nil || !strings.Contains(string(raw), "/__clerk_demo/v1/client/handshake") {
		t.Fatalf("the access log has no handshake: %v", err)
	}
	for _, token := range []string{first, end.cookie(wire.CookieSession)} {
		if token != "" && strings.Contains(string(raw), token[strings.LastIndexByte(token, '.')+1:]) {
			t.Errorf("the access log holds a session token")
		}
	}
	if strings.Contains(string(raw), "eyJ") {
		t.Errorf("the access log holds something that looks like a JWT:\n%s", raw)
	}
}

// readEnd is visit's reading of where the browser is, after an action that
// navigated.
func readEnd(t *testing.T, tab context.Context) *browserEnd {
	t.Helper()
	end := &browserEnd{}
	var err error
	if end.url, err = chromedp.Run(tab, chromedp.Location()); err != nil {
		t.Fatal(err)
	}
	if end.text, err = chromedp.Run(tab, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`)); err != nil {
		t.Fatal(err)
	}
	end.cookies = browserCookies(t, tab, "http://127.0.0.1/")
	return end
}

// runnableDemo makes the adapted demo/Caddyfile run here: on addr, with no
// clock skew (so a 2 s token expires after 2 s) and the access log in
// logFile.
func runnableDemo(t *testing.T, cfg map[string]any, addr, logFile string) {
	t.Helper()
	cfg["admin"] = adminConfig("")
	apps := cfg["apps"].(map[string]any)
	for _, s := range apps["http"].(map[string]any)["servers"].(map[string]any) {
		s.(map[string]any)["listen"] = []string{addr}
	}
	walkJSON(cfg, func(m map[string]any) {
		if m["handler"] == "clerk_auth" {
			m["clock_skew"] = 0
		}
	})
	logs := cfg["logging"].(map[string]any)["logs"].(map[string]any)
	if _, ok := logs["default"]; !ok {
		logs["default"] = map[string]any{"writer": map[string]any{"output": "discard"}}
	}
	for _, l := range logs {
		if w, ok := l.(map[string]any)["writer"].(map[string]any); ok && w["output"] == "stdout" {
			l.(map[string]any)["writer"] = map[string]any{"output": "file", "filename": logFile}
		}
	}
	b, _ := json.Marshal(cfg)
	if !strings.Contains(string(b), logFile) {
		t.Fatalf("the demo's access log was not found in the adapted config")
	}
}

func walkJSON(v any, fn func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(x)
		for _, e := range x {
			walkJSON(e, fn)
		}
	case []any:
		for _, e := range x {
			walkJSON(e, fn)
		}
	}
}

// watchedRequests are the document requests a tab made, redirects
// included, with the response headers each got.
type watchedRequests struct {
	ch chan watchedDocument
}

type watchedDocument struct {
	url     string
	status  int64
	headers map[string]string
}

func (w *watchedRequests) drain() []watchedDocument {
	var out []watchedDocument
	for {
		select {
		case d := <-w.ch:
			out = append(out, d)
		default:
			return out
		}
	}
}

func (w *watchedRequests) reset() { w.drain() }

// documents waits a moment for the events to arrive and returns them.
func (w *watchedRequests) documents() []watchedDocument {
	time.Sleep(100 * time.Millisecond)
	return w.drain()
}

func (w *watchedRequests) documentsUnder(prefix string) []watchedDocument {
	var out []watchedDocument
	for _, d := range w.documents() {
		if strings.HasPrefix(d.url, prefix) {
			out = append(out, d)
		}
	}
	return out
}

func headerMap(h map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[http.CanonicalHeaderKey(k)] = fmt.Sprint(v)
	}
	return out
}

// newWatchedTab is newTab with every document response (each redirect of a
// navigation too) recorded.
func newWatchedTab(t *testing.T, browser context.Context) (context.Context, *watchedRequests) {
	t.Helper()
	w := &watchedRequests{ch: make(chan watchedDocument, 1024)}
	record := func(r *network.Response) {
		select {
		case w.ch <- watchedDocument{url: r.URL, status: r.Status, headers: headerMap(r.Headers)}:
		default:
		}
	}
	ctx, cancelTimeout := context.WithTimeout(browser, 90*time.Second)
	tab, cancelTab := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(func(ev any) {
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if ev.RedirectResponse != nil && ev.Type == network.ResourceTypeDocument {
				record(ev.RedirectResponse)
			}
		case *network.EventResponseReceived:
			if ev.Type == network.ResourceTypeDocument {
				record(ev.Response)
			}
		}
	}))
	t.Cleanup(func() { cancelTab(); cancelTimeout() })
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	return tab, w
}
