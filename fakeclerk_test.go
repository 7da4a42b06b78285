package clerkauth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/authn"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// fakeClerk is a Clerk instance on loopback: its Frontend API (the handshake
// endpoint, the public JWKS and, standing in for the Account Portal, a sign-in
// page) and its Backend API (the JWKS and the handshake payloads behind the
// secret key). It speaks Clerk's wire format; what the Frontend API believes
// about the browser's client is switched by the test with setClient.
//
// The site under test reaches the Frontend API through proxy_url, so tokens
// carry iss = the Frontend API's loopback URL.
type fakeClerk struct {
	t   testing.TB
	key *rsa.PrivateKey
	kid string
	// secret is the only Bearer the Backend API accepts.
	secret string
	// development instances hand the payload back in the URL; production
	// ones in a cookie (Clerk sets it on the eTLD+1; here, on 127.0.0.1,
	// which every loopback port shares).
	development bool
	// suffix names the suffixed cookies, which the Frontend API sets next to
	// the plain ones, as Clerk's does.
	suffix string

	fapi *httptest.Server
	bapi *httptest.Server

	mu         sync.Mutex
	client     fakeClient
	handshakes []fakeHandshake
	exchanges  int
	nonces     map[string][]string
	// lastSession is the newest session token the Frontend API handed out.
	lastSession string
	// proxiedIssuer, when set, is the iss of the tokens instead of the
	// Frontend API's own URL: the site's proxy URL, resolved.
	proxiedIssuer string
	// orgs are the user's organizations, slug to id, and activeOrg the id
	// of the active one ("" for the personal account): the session tokens
	// carry it as v2's o claim. A handshake with organization_id (an id or
	// a slug, "" for the personal account) activates that organization
	// when the user is a member, and leaves it unchanged otherwise, as the
	// Frontend API does (organization sync, orgsync.go).
	orgs      map[string]string
	activeOrg string
}

// fakeClient is what the Frontend API knows of the browser's client.
type fakeClient int

const (
	// clientSignedOut: no session; the handshake clears the cookies.
	clientSignedOut fakeClient = iota
	// clientSignedIn: an active session; the handshake hands out a fresh
	// session token.
	clientSignedIn
	// clientStale: signed in, but the handshake hands back a token that is
	// already expired (as a Frontend API with a broken clock would), so the
	// site can never accept it: the redirect loop the guard must stop.
	clientStale
)

// fakeHandshake is one request the handshake endpoint saw.
type fakeHandshake struct {
	query url.Values
	// returnURL is where the Frontend API sent the browser back to.
	returnURL string
	// forwardedHost is the X-Forwarded-Host a proxy in front of the
	// Frontend API added ("" when the browser came directly).
	forwardedHost string
}

const (
	fakeUserID     = "user_browser"
	fakeSessionID  = "sess_browser"
	fakeDevBrowser = "dvb_browser"
)

// newFakeClerk starts the two servers of an instance whose publishable key
// is pk; secret, when set, is the secret key the Backend API wants.
func newFakeClerk(t testing.TB, pk, secret string) *fakeClerk {
	t.Helper()
	a, _ := testkit.Keys(t)
	_, production, err := authn.ParsePublishableKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeClerk{
		t: t, key: a, kid: "ins_browser", secret: secret,
		development: !production, suffix: authn.CookieSuffix(pk),
		nonces: map[string][]string{},
	}
	fapi := http.NewServeMux()
	fapi.HandleFunc("GET /v1/client/handshake", f.serveHandshake)
	fapi.HandleFunc("GET /.well-known/jwks.json", f.serveJWKS)
	fapi.HandleFunc("GET /sign-in", serveSignIn)
	bapi := http.NewServeMux()
	bapi.HandleFunc("GET /v1/jwks", f.withSecret(f.serveJWKS))
	bapi.HandleFunc("GET /v1/clients/handshake_payload", f.withSecret(f.serveHandshakePayload))
	f.fapi = httptest.NewServer(fapi)
	f.bapi = httptest.NewServer(bapi)
	t.Cleanup(f.fapi.Close)
	t.Cleanup(f.bapi.Close)
	return f
}

// issuer is the iss of every token: the proxy URL the site is given.
func (f *fakeClerk) issuer() string {
	if f.proxiedIssuer != "" {
		return f.proxiedIssuer
	}
	return f.fapi.URL
}

func (f *fakeClerk) signInURL() string { return f.fapi.URL + "/sign-in" }

func (f *fakeClerk) setClient(c fakeClient) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.client = c
}

func (f *fakeClerk) handshakeRequests() []fakeHandshake {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeHandshake(nil), f.handshakes...)
}

func (f *fakeClerk) nonceExchanges() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.exchanges
}

func (f *fakeClerk) latestSession() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastSession
}

// sessionToken mints a session token for the site at origin azp, issued at
// iat and living ttl (negative: already expired).
func (f *fakeClerk) sessionToken(azp string, iat time.Time, ttl time.Duration) string {
	claims := map[string]any{
		"sub": fakeUserID, "sid": fakeSessionID, "iss": f.issuer(), "azp": azp, "sts": "active", "v": 2,
		"iat": iat.Unix(), "nbf": iat.Unix() - 10, "exp": iat.Add(ttl).Unix(),
	}
	for slug, id := range f.orgs {
		if id == f.activeOrg {
			claims["o"] = map[string]any{"id": id, "slg": slug, "rol": "admin"}
		}
	}
	return testkit.SignJWT(f.t, f.key, map[string]any{"alg": "RS256", "typ": "JWT", "kid": f.kid, "cat": wire.JWTCategorySession}, claims)
}

// activateOrganization is the Frontend API's handling of a handshake's
// organization_id; f.mu is held.
func (f *fakeClerk) activateOrganization(q url.Values) {
	v, ok := q[authn.QueryOrganizationID]
	if !ok {
		return
	}
	if v[0] == "" {
		f.activeOrg = ""
		return
	}
	for slug, id := range f.orgs {
		if v[0] == id || v[0] == slug {
			f.activeOrg = id
		}
	}
}

// serveHandshake is GET /v1/client/handshake: decide on the client and send
// the browser back to redirect_url with the cookie directives, as a signed
// handshake token or, with format=nonce, as a nonce for the Backend API.
func (f *fakeClerk) serveHandshake(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	back, err := url.Parse(q.Get(wire.QueryRedirectURL))
	if err != nil || (back.Scheme != "http" && back.Scheme != "https") || back.Host == "" || q.Get(wire.QueryHandshakeReason) == "" {
		http.Error(w, "handshake needs an absolute redirect_url and a reason", http.StatusBadRequest)
		return
	}
	azp := back.Scheme + "://" + back.Host
	nonceFormat := q.Get(wire.QueryHandshakeFormat) == "nonce"

	f.mu.Lock()
	f.activateOrganization(q)
	directives := f.directives(azp, q.Get(wire.QueryDevBrowser) == "", nonceFormat)
	carrierName, carrierValue := wire.CookieHandshake, ""
	if nonceFormat {
		carrierName, carrierValue = wire.CookieHandshakeNonce, randomID(f.t)
		f.nonces[carrierValue] = directives
	} else {
		carrierValue = testkit.SignJWT(f.t, f.key, map[string]any{"alg": "RS256", "typ": "JWT", "kid": f.kid},
			map[string]any{"handshake": directives, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix()})
	}
	if f.development {
		back.RawQuery = authn.AppendQueryParam(back.RawQuery, carrierName, carrierValue)
	} else {
		http.SetCookie(w, &http.Cookie{Name: carrierName, Value: carrierValue, Path: "/", MaxAge: 60, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	f.handshakes = append(f.handshakes, fakeHandshake{query: q, returnURL: back.String(), forwardedHost: r.Header.Get("X-Forwarded-Host")})
	f.mu.Unlock()

	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, back.String(), http.StatusTemporaryRedirect)
}

// directives are the Set-Cookie values the handshake hands back for the
// current client; f.mu is held. newDevBrowser marks a development handshake
// that came without a dev browser, for which one is created.
func (f *fakeClerk) directives(azp string, newDevBrowser, nonceFormat bool) []string {
	now := time.Now()
	var d []string
	both := func(name, rest string) {
		d = append(d, name+rest, name+"_"+f.suffix+rest)
	}
	switch f.client {
	case clientSignedIn, clientStale:
		token, uat := f.sessionToken(azp, now, time.Minute), now
		if f.client == clientStale {
			uat = now.Add(-2 * time.Minute)
			token = f.sessionToken(azp, uat, time.Minute)
		}
		f.lastSession = token
		both(wire.CookieSession, "="+token+"; Path=/; SameSite=Lax")
		both(wire.CookieClientUAT, "="+strconv.FormatInt(uat.Unix(), 10)+"; Path=/; Max-Age=315360000; SameSite=Lax")
	default:
		both(wire.CookieSession, "=; Path=/; Max-Age=0; SameSite=Lax")
		both(wire.CookieClientUAT, "=0; Path=/; Max-Age=315360000; SameSite=Lax")
	}
	if f.development && newDevBrowser {
		both(wire.CookieDevBrowser, "="+fakeDevBrowser+"; Path=/; Max-Age=315360000; SameSite=Lax")
	}
	if !f.development {
		// The carrier cookie has done its work: Clerk's payload clears it.
		carrier := wire.CookieHandshake
		if nonceFormat {
			carrier = wire.CookieHandshakeNonce
		}
		d = append(d, carrier+"=; Path=/; Max-Age=0; SameSite=Lax")
	}
	return d
}

// withSecret guards a Backend API endpoint with the secret key, answering
// as Clerk does when it is wrong.
func (f *fakeClerk) withSecret(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if f.secret == "" || r.Header.Get("Authorization") != "Bearer "+f.secret {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"message":"Invalid authentication","code":"authentication_invalid"}]}`)
			return
		}
		next(w, r)
	}
}

// serveHandshakePayload is GET /v1/clients/handshake_payload?nonce=...: the
// directives stored for a nonce, once.
func (f *fakeClerk) serveHandshakePayload(w http.ResponseWriter, r *http.Request) {
	nonce := r.URL.Query().Get("nonce")
	f.mu.Lock()
	directives, ok := f.nonces[nonce]
	delete(f.nonces, nonce)
	f.exchanges++
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"errors":[{"message":"not found","code":"resource_not_found"}]}`)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"directives": directives})
}

func (f *fakeClerk) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	// The key can be rotated while the servers run (rotateKey).
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(testkit.JWKS(map[string]*rsa.PublicKey{f.kid: &f.key.PublicKey}))
}

// serveSignIn stands in for the Account Portal's sign-in page: it shows
// where it would send the user back to.
func serveSignIn(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><title>Sign in</title><h1>Sign in</h1><p>After signing in you go back to <span id="redirect-url">%s</span></p>`,
		html.EscapeString(r.URL.Query().Get(wire.QueryRedirectURL)))
}

func randomID(t testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "nonce_" + hex.EncodeToString(b)
}
