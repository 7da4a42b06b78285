// Package demo is a stand-in for the few pages of Clerk that a browser
// meets on a site protected by clerk_auth: the hosted sign-in page, and the
// Frontend API's handshake endpoint (GET /v1/client/handshake), which sends
// the browser back to the site with fresh session cookies. It serves them on
// a reserved path of the site itself, so that the quick-start demo can be
// watched in a browser without a Clerk account.
//
// It exists for the demo instance only: New refuses any publishable key but
// the demo instance's, whose private key is public (demo/private.pem in the
// repository). Nothing it signs proves anything outside the quick start.
//
// What it speaks is what the plugin consumes from Clerk (docs/browser-flow.md,
// "The round trip"): the cookie pair __session / __client_uat under the
// plain and the suffixed names, and on the way back from the handshake a
// __clerk_handshake cookie holding a JWT, signed with the instance's key,
// whose handshake claim lists the Set-Cookie directives (production format,
// as verifyHandshakeJwt in @clerk/backend's handshake.ts reads it). What the
// Frontend API knows of a browser (its long-lived, HttpOnly client cookie)
// is here a small HMAC-signed cookie, __demo_client, that names the demo
// user, organization and role picked on the sign-in page; it is scoped to
// the reserved path, so the site never sees it.
package demo

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PublishableKey is the demo instance's publishable key (Frontend API host
// clerk.demo.localhost): the only one New accepts.
const PublishableKey = "pk_live_Y2xlcmsuZGVtby5sb2NhbGhvc3Qk"

// DefaultPrefix is the reserved path the stand-in answers under.
const DefaultPrefix = "/__clerk_demo"

// DefaultTokenLifetime is how long a session token lives, as Clerk's do.
const DefaultTokenLifetime = 60 * time.Second

// ClientCookie is the stand-in's own cookie: what its Frontend API knows of
// the browser's client.
const ClientCookie = "__demo_client"

// User is a demo user one can sign in as.
type User struct {
	ID   string // the token's sub
	Name string // shown on the sign-in page
}

// Organization is a demo organization one can make active.
type Organization struct {
	ID   string // the token's o.id
	Slug string // the token's o.slg
	Name string // shown on the sign-in page
}

// Users are the demo users offered on the sign-in page. user_demo is the
// one cmd/demotoken mints tokens for.
var Users = []User{{"user_demo", "Ada Demo"}, {"user_grace", "Grace Example"}}

// Organizations are the demo organizations offered on the sign-in page.
var Organizations = []Organization{{"org_demo", "demo-co", "Demo Co"}}

// Roles are the organization roles offered, without Clerk's "org:" prefix
// (the v2 token's o.rol).
var Roles = []string{"admin", "member"}

// Config is what the stand-in needs to know of the instance.
type Config struct {
	// PublishableKey must be the demo instance's (PublishableKey).
	PublishableKey string
	// PrivateKey signs session and handshake tokens.
	PrivateKey *rsa.PrivateKey
	// KeyID is the kid of the tokens.
	KeyID string
	// Issuer is the iss of the session tokens: what the plugin expects.
	Issuer string
	// CookieSuffix names the suffixed cookies (__session_<suffix>), as
	// getCookieSuffix of @clerk/shared computes it for the publishable key.
	CookieSuffix string
	// Prefix is the reserved path (default DefaultPrefix).
	Prefix string
	// TokenLifetime is how long a session token lives (default
	// DefaultTokenLifetime).
	TokenLifetime time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Handler serves the stand-in's pages under the reserved path.
type Handler struct {
	cfg Config
	mux *http.ServeMux
}

var (
	clientKeyOnce sync.Once
	clientKey     []byte
)

// processKey is the HMAC key of the client cookie: random, one per process,
// so that every handler of the process (and a config reload) accepts the
// cookies the others set.
func processKey() []byte {
	clientKeyOnce.Do(func() {
		clientKey = make([]byte, 32)
		if _, err := rand.Read(clientKey); err != nil {
			panic("demo: no randomness: " + err.Error())
		}
	})
	return clientKey
}

// New makes the stand-in for cfg. It refuses any instance but the demo one.
func New(cfg Config) (*Handler, error) {
	if cfg.PublishableKey != PublishableKey {
		return nil, errors.New("demo: the stand-in for Clerk runs for the demo instance only")
	}
	if cfg.PrivateKey == nil || cfg.Issuer == "" || cfg.CookieSuffix == "" {
		return nil, errors.New("demo: a private key, an issuer and a cookie suffix are needed")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	cfg.Prefix = strings.TrimRight(cfg.Prefix, "/")
	if !strings.HasPrefix(cfg.Prefix, "/") || strings.HasPrefix(cfg.Prefix, "//") {
		return nil, fmt.Errorf("demo: prefix %q is not a path", cfg.Prefix)
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = DefaultTokenLifetime
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux()}
	p := cfg.Prefix
	h.mux.HandleFunc("GET "+p+"/sign-in", h.serveSignInPage)
	h.mux.HandleFunc("POST "+p+"/sign-in", h.serveSignIn)
	h.mux.HandleFunc("GET "+p+"/sign-out", h.serveSignOut)
	h.mux.HandleFunc("GET "+p+"/v1/client/handshake", h.serveHandshake)
	h.mux.HandleFunc("GET "+p+"/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, p+"/sign-in", http.StatusSeeOther)
	})
	return h, nil
}

// SignInURL is the path of the sign-in page.
func (h *Handler) SignInURL() string { return h.cfg.Prefix + "/sign-in" }

// Owns tells whether r is for the reserved path (the prefix itself or
// anything under it).
func (h *Handler) Owns(r *http.Request) bool {
	p := r.URL.Path
	return p == h.cfg.Prefix || strings.HasPrefix(p, h.cfg.Prefix+"/")
}

// ServeHTTP answers a request Owns: the sign-in page, sign-in, sign-out and
// the handshake; anything else under the prefix is 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// client is what the stand-in's Frontend API remembers of a browser.
type client struct {
	User string `json:"u"`
	Org  string `json:"o,omitempty"`
	Role string `json:"r,omitempty"`
	SID  string `json:"s"`
}

func (h *Handler) sign(payload []byte) string {
	m := hmac.New(sha256.New, processKey())
	m.Write(payload)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (h *Handler) encodeClient(c client) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b) + "." + h.sign(b)
}

// readClient is the browser's client from its cookie: nil when it has none,
// or one that this process did not sign, or one naming no demo user.
func (h *Handler) readClient(r *http.Request) *client {
	ck, err := r.Cookie(ClientCookie)
	if err != nil {
		return nil
	}
	body, mac, ok := strings.Cut(ck.Value, ".")
	if !ok {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || !hmac.Equal([]byte(mac), []byte(h.sign(b))) {
		return nil
	}
	var c client
	if json.Unmarshal(b, &c) != nil || findUser(c.User) == nil || (c.Org != "" && findOrg(c.Org) == nil) {
		return nil
	}
	return &c
}

func findUser(id string) *User {
	for i := range Users {
		if Users[i].ID == id {
			return &Users[i]
		}
	}
	return nil
}

func findOrg(id string) *Organization {
	for i := range Organizations {
		if Organizations[i].ID == id {
			return &Organizations[i]
		}
	}
	return nil
}

// origin is the request's origin as the site sees it.
func origin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// backTo is where a redirect_url may send the browser: a URL on this very
// site (absolute with the request's host, or a path that no browser reads as
// another host), else "/". Nothing else: no open redirect.
func backTo(r *http.Request, raw string) string {
	if raw == "" {
		return "/"
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Opaque != "" || strings.ContainsAny(raw, "\\\r\n\t") {
		return "/"
	}
	if u.Scheme == "" && u.Host == "" {
		if strings.HasPrefix(raw, "/") && !strings.HasPrefix(raw, "//") {
			return raw
		}
		return "/"
	}
	if (u.Scheme != "http" && u.Scheme != "https") || !strings.EqualFold(u.Host, r.Host) {
		return "/"
	}
	return u.String()
}

// sessionToken mints a session token for c, as Clerk's v2 tokens look.
func (h *Handler) sessionToken(r *http.Request, c client, now time.Time) (string, error) {
	claims := map[string]any{
		"iss": h.cfg.Issuer, "sub": c.User, "sid": c.SID, "azp": origin(r), "sts": "active", "v": 2,
		"iat": now.Unix(), "nbf": now.Unix() - 10, "exp": now.Add(h.cfg.TokenLifetime).Unix(),
		"jti": randomHex(10),
	}
	if o := findOrg(c.Org); o != nil {
		claims["o"] = map[string]any{"id": o.ID, "slg": o.Slug, "rol": c.Role}
	}
	return h.jwt(map[string]any{"alg": "RS256", "typ": "JWT", "kid": h.cfg.KeyID, "cat": "cl_B7d4PD111AAA"}, claims)
}

func (h *Handler) jwt(header, claims map[string]any) (string, error) {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, h.cfg.PrivateKey, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// sessionDirectives are the Set-Cookie values of Clerk's cookie pair for c
// (signed out when c is nil), under the plain names and, when suffixed, the
// suffixed ones too, as the Frontend API sets them.
func (h *Handler) sessionDirectives(r *http.Request, c *client, suffixed bool) ([]string, error) {
	now := h.cfg.Now()
	var session, sessionAttrs, uat string
	if c != nil {
		token, err := h.sessionToken(r, *c, now)
		if err != nil {
			return nil, err
		}
		session, sessionAttrs, uat = token, "; Path=/; SameSite=Lax", strconv.FormatInt(now.Unix(), 10)
	} else {
		sessionAttrs, uat = "; Path=/; Max-Age=0; SameSite=Lax", "0"
	}
	names := []string{""}
	if suffixed {
		names = append(names, "_"+h.cfg.CookieSuffix)
	}
	var d []string
	for _, sfx := range names {
		d = append(d, "__session"+sfx+"="+session+sessionAttrs,
			"__client_uat"+sfx+"="+uat+"; Path=/; Max-Age=315360000; SameSite=Lax")
	}
	return d, nil
}

// setClient sets (or, with c nil, clears) the stand-in's client cookie.
func (h *Handler) setClient(w http.ResponseWriter, c *client) {
	ck := &http.Cookie{Name: ClientCookie, Path: h.cfg.Prefix, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if c != nil {
		ck.Value, ck.MaxAge = h.encodeClient(*c), 7*24*3600
	} else {
		ck.MaxAge = -1
	}
	http.SetCookie(w, ck)
}

// sameSiteForm refuses a form posted from another site (login CSRF).
func sameSiteForm(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != origin(r) {
		return false
	}
	return true
}

// serveSignIn is POST <prefix>/sign-in: sign in as the picked demo user.
func (h *Handler) serveSignIn(w http.ResponseWriter, r *http.Request) {
	if !sameSiteForm(r) {
		http.Error(w, "sign-in form posted from another site", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	c := client{User: r.PostForm.Get("user"), SID: "sess_demo_" + randomHex(8)}
	if findUser(c.User) == nil {
		http.Error(w, "no such demo user", http.StatusBadRequest)
		return
	}
	if org := r.PostForm.Get("org"); org != "" {
		role := r.PostForm.Get("role")
		if findOrg(org) == nil || !contains(Roles, role) {
			http.Error(w, "no such demo organization or role", http.StatusBadRequest)
			return
		}
		c.Org, c.Role = org, role
	}
	directives, err := h.sessionDirectives(r, &c, true)
	if err != nil {
		http.Error(w, "signing failed", http.StatusInternalServerError)
		return
	}
	h.setClient(w, &c)
	for _, d := range directives {
		w.Header().Add("Set-Cookie", d)
	}
	http.Redirect(w, r, backTo(r, r.PostForm.Get("redirect_url")), http.StatusSeeOther)
}

// serveSignOut is GET <prefix>/sign-out: forget the client, clear the pair.
func (h *Handler) serveSignOut(w http.ResponseWriter, r *http.Request) {
	directives, _ := h.sessionDirectives(r, nil, true)
	h.setClient(w, nil)
	for _, d := range directives {
		w.Header().Add("Set-Cookie", d)
	}
	http.Redirect(w, r, h.SignInURL()+"?redirect_url="+url.QueryEscape(backTo(r, r.URL.Query().Get("redirect_url"))), http.StatusSeeOther)
}

// serveHandshake is the Frontend API's GET /v1/client/handshake, production
// format without a nonce: the directives for the client (fresh cookies, or
// cleared ones when signed out) go back in a __clerk_handshake cookie
// holding a JWT signed with the instance's key, and the browser is sent to
// redirect_url, which must be on this site.
func (h *Handler) serveHandshake(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	back := q.Get("redirect_url")
	if u, err := url.Parse(back); err != nil || u.Host == "" || backTo(r, back) == "/" {
		http.Error(w, "handshake needs a redirect_url on this site", http.StatusBadRequest)
		return
	}
	c := h.readClient(r)
	directives, err := h.sessionDirectives(r, c, q.Get("suffixed_cookies") == "true")
	if err != nil {
		http.Error(w, "signing failed", http.StatusInternalServerError)
		return
	}
	// The carrier has done its work once read: the payload clears it, as
	// Clerk's does.
	directives = append(directives, "__clerk_handshake=; Path=/; Max-Age=0; SameSite=Lax")
	now := h.cfg.Now()
	token, err := h.jwt(map[string]any{"alg": "RS256", "typ": "JWT", "kid": h.cfg.KeyID},
		map[string]any{"handshake": directives, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	if err != nil {
		http.Error(w, "signing failed", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: "__clerk_handshake", Value: token, Path: "/", MaxAge: 60, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, backTo(r, back), http.StatusTemporaryRedirect)
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

var signInPage = template.Must(template.New("sign-in").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Sign in (demo)</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}
fieldset{margin:1rem 0}label{display:block;margin:.3rem 0}.note{color:#666;font-size:.9rem}</style></head>
<body>
<h1>Sign in to the demo</h1>
<p class="note">A stand-in for Clerk's hosted sign-in page, served by clerk_auth in demo mode only.
No password: pick who to be. The session token it sets lives {{.Lifetime}}, like Clerk's.</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="redirect_url" value="{{.Back}}">
<fieldset><legend>User</legend>
{{range $i, $u := .Users}}<label><input type="radio" name="user" value="{{$u.ID}}" id="user-{{$u.ID}}"{{if eq $i 0}} checked{{end}}> {{$u.Name}} <code>{{$u.ID}}</code></label>
{{end}}</fieldset>
<fieldset><legend>Organization (optional)</legend>
<label><input type="radio" name="org" value="" id="org-none" checked> none</label>
{{range .Orgs}}<label><input type="radio" name="org" value="{{.ID}}" id="org-{{.ID}}"> {{.Name}} <code>{{.ID}}</code></label>
{{end}}<label>Role: <select name="role" id="role">{{range .Roles}}<option value="{{.}}">org:{{.}}</option>{{end}}</select></label>
</fieldset>
<button type="submit" id="sign-in">Sign in</button>
</form>
<p class="note">After signing in you go back to <span id="redirect-url">{{.Back}}</span></p>
</body></html>
`))

// serveSignInPage is GET <prefix>/sign-in: the page to pick a demo user.
func (h *Handler) serveSignInPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	_ = signInPage.Execute(w, map[string]any{
		"Action":   h.SignInURL(),
		"Back":     backTo(r, r.URL.Query().Get("redirect_url")),
		"Users":    Users,
		"Orgs":     Organizations,
		"Roles":    Roles,
		"Lifetime": h.cfg.TokenLifetime.String(),
	})
}
