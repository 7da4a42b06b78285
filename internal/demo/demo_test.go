package demo

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	keyOnce sync.Once
	key     *rsa.PrivateKey
)

func newTestHandler(t *testing.T, edit ...func(*Config)) *Handler {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	cfg := Config{PublishableKey: PublishableKey, PrivateKey: key, KeyID: "demo", Issuer: "https://clerk.demo.localhost",
		CookieSuffix: "sfx12345", Now: func() time.Time { return time.Unix(1800000000, 0) }}
	for _, e := range edit {
		e(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestNewRefusesAnyInstanceButTheDemo(t *testing.T) {
	for name, edit := range map[string]func(*Config){
		"another instance":  func(c *Config) { c.PublishableKey = "pk_live_Y2xlcmsuZXhhbXBsZS5jb20k" },
		"no key":            func(c *Config) { c.PrivateKey = nil },
		"prefix not a path": func(c *Config) { c.Prefix = "//evil" },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() { _ = recover() }()
			cfg := Config{PublishableKey: PublishableKey, PrivateKey: &rsa.PrivateKey{}, Issuer: "x", CookieSuffix: "s"}
			edit(&cfg)
			if _, err := New(cfg); err == nil {
				t.Errorf("New accepted %s", name)
			}
		})
	}
}

func TestOwns(t *testing.T) {
	h := newTestHandler(t)
	for path, want := range map[string]bool{
		"/__clerk_demo": true, "/__clerk_demo/": true, "/__clerk_demo/sign-in": true,
		"/__clerk_demox": false, "/": false, "/x/__clerk_demo/": false,
	} {
		if got := h.Owns(httptest.NewRequest("GET", path, nil)); got != want {
			t.Errorf("Owns(%s) = %v, want %v", path, got, want)
		}
	}
}

func TestBackToIsThisSiteOnly(t *testing.T) {
	r := httptest.NewRequest("GET", "http://localhost:8080/", nil)
	for raw, want := range map[string]string{
		"":                              "/",
		"/docs?x=1":                     "/docs?x=1",
		"http://localhost:8080/a?b=c":   "http://localhost:8080/a?b=c",
		"https://localhost:8080/a":      "https://localhost:8080/a",
		"http://evil.example/":          "/",
		"//evil.example/":               "/",
		"/\\evil.example":               "/",
		"javascript:alert(1)":           "/",
		"http://localhost:8080@evil/":   "/",
		"http://user@localhost:8080/":   "/",
		"docs":                          "/",
		"http://localhost:8081/":        "/",
		"http://localhost:8080/\r\nX:y": "/",
	} {
		if got := backTo(r, raw); got != want {
			t.Errorf("backTo(%q) = %q, want %q", raw, got, want)
		}
	}
}

// claimsOf decodes a JWT's payload (its signature is the plugin's to check).
func claimsOf(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func cookiesOf(resp *http.Response) map[string]*http.Cookie {
	out := map[string]*http.Cookie{}
	for _, c := range resp.Cookies() {
		out[c.Name] = c
	}
	return out
}

func signIn(t *testing.T, h *Handler, form url.Values, headers ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest("POST", "http://localhost:8080/__clerk_demo/sign-in", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func TestSignInSetsClerksCookiePair(t *testing.T) {
	h := newTestHandler(t)
	resp := signIn(t, h, url.Values{"user": {"user_demo"}, "org": {"org_demo"}, "role": {"admin"}, "redirect_url": {"http://localhost:8080/admin/"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "http://localhost:8080/admin/" {
		t.Fatalf("sign-in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	jar := cookiesOf(resp)
	for _, name := range []string{"__session", "__session_sfx12345", "__client_uat", "__client_uat_sfx12345", ClientCookie} {
		c := jar[name]
		if c == nil {
			t.Fatalf("no %s cookie", name)
		}
		if c.Secure || c.SameSite != http.SameSiteLaxMode {
			t.Errorf("%s: Secure %v SameSite %v, want Lax and not Secure on http", name, c.Secure, c.SameSite)
		}
		if name == ClientCookie {
			if !c.HttpOnly || c.Path != "/__clerk_demo" {
				t.Errorf("%s: HttpOnly %v Path %q, want HttpOnly on the reserved path", name, c.HttpOnly, c.Path)
			}
		} else if c.Path != "/" || c.HttpOnly {
			t.Errorf("%s: Path %q HttpOnly %v, want / and readable by the page as Clerk's", name, c.Path, c.HttpOnly)
		}
	}
	if jar["__client_uat"].Value != "1800000000" {
		t.Errorf("__client_uat = %q", jar["__client_uat"].Value)
	}
	c := claimsOf(t, jar["__session"].Value)
	if c["sub"] != "user_demo" || c["iss"] != "https://clerk.demo.localhost" || c["azp"] != "http://localhost:8080" ||
		c["exp"].(float64)-c["iat"].(float64) != 60 || !strings.HasPrefix(c["sid"].(string), "sess_demo_") {
		t.Errorf("session claims: %v", c)
	}
	if o, _ := c["o"].(map[string]any); o["id"] != "org_demo" || o["rol"] != "admin" || o["slg"] != "demo-co" {
		t.Errorf("organization claim: %v", c["o"])
	}
}

func TestSignInRefusals(t *testing.T) {
	h := newTestHandler(t)
	for name, tc := range map[string]struct {
		form    url.Values
		headers []string
		status  int
	}{
		"unknown user":         {url.Values{"user": {"user_x"}}, nil, 400},
		"unknown role":         {url.Values{"user": {"user_demo"}, "org": {"org_demo"}, "role": {"owner"}}, nil, 400},
		"cross-site form":      {url.Values{"user": {"user_demo"}}, []string{"Sec-Fetch-Site", "cross-site"}, 403},
		"another Origin":       {url.Values{"user": {"user_demo"}}, []string{"Origin", "http://evil.example"}, 403},
		"foreign redirect_url": {url.Values{"user": {"user_demo"}, "redirect_url": {"http://evil.example/"}}, nil, 303},
	} {
		t.Run(name, func(t *testing.T) {
			resp := signIn(t, h, tc.form, tc.headers...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if loc := resp.Header.Get("Location"); tc.status == 303 && loc != "/" {
				t.Errorf("Location %q, want / (no open redirect)", loc)
			}
		})
	}
}

func handshake(t *testing.T, h *Handler, query string, cookies ...*http.Cookie) *http.Response {
	t.Helper()
	r := httptest.NewRequest("GET", "http://localhost:8080/__clerk_demo/v1/client/handshake?"+query, nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func handshakeDirectives(t *testing.T, resp *http.Response) []string {
	t.Helper()
	c := cookiesOf(resp)["__clerk_handshake"]
	if c == nil {
		t.Fatalf("no __clerk_handshake cookie")
	}
	var out []string
	for _, d := range claimsOf(t, c.Value)["handshake"].([]any) {
		out = append(out, d.(string))
	}
	return out
}

func TestHandshakeRefreshesTheClient(t *testing.T) {
	h := newTestHandler(t)
	client := cookiesOf(signIn(t, h, url.Values{"user": {"user_grace"}}))[ClientCookie]
	back := "http://localhost:8080/docs?x=1"
	resp := handshake(t, h, "redirect_url="+url.QueryEscape(back)+"&suffixed_cookies=true&__clerk_hs_reason=x", client)
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != back {
		t.Fatalf("handshake: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	d := handshakeDirectives(t, resp)
	if len(d) != 5 || !strings.HasPrefix(d[0], "__session=ey") || !strings.HasPrefix(d[2], "__session_sfx12345=") ||
		!strings.HasPrefix(d[4], "__clerk_handshake=; ") {
		t.Fatalf("directives: %q", d)
	}
	token, _, _ := strings.Cut(strings.TrimPrefix(d[0], "__session="), ";")
	if c := claimsOf(t, token); c["sub"] != "user_grace" {
		t.Errorf("refreshed session for %v", c["sub"])
	}

	// Without suffixed_cookies, only the plain names.
	if d := handshakeDirectives(t, handshake(t, h, "redirect_url="+url.QueryEscape(back), client)); len(d) != 3 {
		t.Errorf("directives without suffixed cookies: %q", d)
	}
}

func TestHandshakeSignedOut(t *testing.T) {
	h := newTestHandler(t)
	forged := &http.Cookie{Name: ClientCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(`{"u":"user_demo","s":"s"}`)) + ".bad"}
	for name, cookies := range map[string][]*http.Cookie{"no client": nil, "forged client": {forged}} {
		t.Run(name, func(t *testing.T) {
			d := handshakeDirectives(t, handshake(t, h, "redirect_url=http%3A%2F%2Flocalhost%3A8080%2F", cookies...))
			if len(d) != 3 || !strings.HasPrefix(d[0], "__session=; ") || !strings.Contains(d[0], "Max-Age=0") || !strings.HasPrefix(d[1], "__client_uat=0;") {
				t.Errorf("directives: %q", d)
			}
		})
	}
}

func TestHandshakeOnlyBackToThisSite(t *testing.T) {
	h := newTestHandler(t)
	for _, back := range []string{"", "http://evil.example/", "/relative", "//evil.example/"} {
		if resp := handshake(t, h, "redirect_url="+url.QueryEscape(back)); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("redirect_url %q: %d to %q, want 400", back, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

func TestSignOutForgetsTheClient(t *testing.T) {
	h := newTestHandler(t)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "http://localhost:8080/__clerk_demo/sign-out?redirect_url=http%3A%2F%2Fevil.example%2F", nil))
	resp := w.Result()
	jar := cookiesOf(resp)
	if c := jar[ClientCookie]; c == nil || c.MaxAge >= 0 {
		t.Errorf("the client cookie is not cleared: %v", c)
	}
	if c := jar["__client_uat_sfx12345"]; c == nil || c.Value != "0" {
		t.Errorf("__client_uat_<suffix>: %v", c)
	}
	if loc := resp.Header.Get("Location"); loc != "/__clerk_demo/sign-in?redirect_url=%2F" {
		t.Errorf("Location %q", loc)
	}
}

func TestSignInPageEscapesRedirectURL(t *testing.T) {
	h := newTestHandler(t)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", `http://localhost:8080/__clerk_demo/sign-in?redirect_url=/a"><script>x</script>`, nil))
	body := w.Body.String()
	if w.Code != 200 || strings.Contains(body, "<script>x") || !strings.Contains(body, `value="user_demo"`) {
		t.Errorf("%d %s", w.Code, body)
	}
	if w := httptest.NewRecorder(); true {
		h.ServeHTTP(w, httptest.NewRequest("GET", "http://localhost:8080/__clerk_demo/other", nil))
		if w.Code != 404 {
			t.Errorf("an unknown path under the prefix: %d, want 404", w.Code)
		}
	}
}
