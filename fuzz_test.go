package clerkauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/clerk-edge/clerk_auth/internal/authn"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/tokencache"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"go.uber.org/zap"
)

// The fuzz targets' property: no input panics, and no input signs in. The
// handler they run verifies with key B, and nothing in these tests signs with
// B, so a signed-in outcome could only be a forgery. Seeds are signed with A
// (real tokens of a real shape) plus the corpora in testdata/fuzz/<name>/.
//
// `go test` runs every seed; CI runs each target for a bounded time
// (.ci/run); by hand: go test -run '^$' -fuzz '^FuzzDecodeJWT$' -fuzztime 10m .

// fuzzHandler is the test handler with key B as its only key and a silent
// logger.
func fuzzHandler(f *testing.F, edit ...func(*Handler)) *Handler {
	_, b := testkit.Keys(f)
	h := newTestHandler(f, append([]func(*Handler){func(h *Handler) { h.JWTKey = testkit.PublicPEM(f, b) }}, edit...)...)
	h.useLogger(zap.NewNop())
	// A fuzzed cookie may name a handshake nonce: its exchange must not
	// leave the machine.
	h.api.HTTP = &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("no network while fuzzing")
	})}
	return h
}

// requireNotSignedIn fails when the request reached the next handler: in
// require mode only a signed-in request does.
func requireNotSignedIn(t *testing.T, out served, what string) {
	t.Helper()
	if out.upstream != nil {
		t.Fatalf("%s signed in with a token the test never signed (user %q)", what, out.repl.ReplaceAll("{http.auth.user.id}", ""))
	}
}

func tokenSeeds(f *testing.F) []string {
	a, _ := testkit.Keys(f)
	valid := sessionToken(f)
	h, p, s := splitToken(valid)
	return []string{
		valid,
		"", ".", "..", "a.b.c", "a.b.c.d",
		h + "." + p + ".",
		h + "." + p,
		h + "==." + p + "." + s,
		h + "." + p + "." + s + "==",
		unsignedToken(map[string]any{"alg": "none"}, sessionClaims()),
		unsignedToken(map[string]any{"alg": "HS256", "kid": "ins_a"}, sessionClaims()) + "c2ln",
		testkit.SignJWT(f, a, map[string]any{"alg": "RS256", "cat": "cl_B7d4PD222AAA"}, sessionClaims()),
		testkit.SignJWT(f, a, map[string]any{"alg": "RS512", "kid": "../../etc/passwd"}, sessionClaims(func(c map[string]any) { c["sub"] = "mch_1" })),
	}
}

func FuzzDecodeJWT(f *testing.F) {
	h := fuzzHandler(f)
	for _, s := range tokenSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		d, err := tokencache.Decode(token)
		if (d == nil) == (err == nil) {
			t.Fatalf("decodeJWT returned both or neither: %v, %v", d, err)
		}
		if d != nil && !strings.HasPrefix(token, d.SigningInput+".") {
			t.Fatalf("signing input %q is not the token's first two parts", d.SigningInput)
		}
		out := serve(h, newRequest(http.MethodGet, "https://app.example.com/api", "Authorization", "Bearer "+token))
		requireNotSignedIn(t, out, "header token")
		out = serve(h, newRequest(http.MethodGet, "https://app.example.com/api", "Cookie", "__client_uat=1; __session="+token))
		requireNotSignedIn(t, out, "cookie token")
	})
}

func FuzzAuthorizationHeader(f *testing.F) {
	h := fuzzHandler(f)
	valid := sessionToken(f)
	sfx := authn.CookieSuffix(testPK)
	for _, s := range [][2]string{
		{"Bearer " + valid, ""},
		{valid, ""},
		{"bearer " + valid, "__session=" + valid + "; __client_uat=1"},
		{"Basic dXNlcjpwYXNz", "__session=" + valid},
		{"Bearer  " + valid, ""},
		{"Bearer " + valid + ", Bearer " + valid, ""},
		{"", "__session=" + valid + "; __session=x; __client_uat=1; __client_uat_" + sfx + "=0"},
		{"", "__session_" + sfx + "=" + valid + "; __client_uat_" + sfx + "=1767000000"},
		{"", `__session="` + valid + `"; __client_uat=%31`},
		{"", ";;==;a=b=c;__session=%E0%A4%A"},
		{"", "__clerk_redirect_count=0x2; __clerk_handshake=" + valid},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, authz, cookie string) {
		tok := authn.ParseAuthorizationHeader(authz)
		if strings.ContainsRune(tok, ' ') || !strings.Contains(authz, tok) {
			t.Fatalf("parseAuthorizationHeader(%q) = %q", authz, tok)
		}
		var hdrs []string
		if authz != "" {
			hdrs = append(hdrs, "Authorization", authz)
		}
		if cookie != "" {
			hdrs = append(hdrs, "Cookie", cookie)
		}
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			r := newRequest(method, "https://app.example.com/page?_clerk_session_id=sess_1", append(hdrs, "Accept", "text/html")...)
			requireNotSignedIn(t, serve(h, r), "request")
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzHandshakePayload feeds arbitrary Backend API answers to the nonce
// exchange: the directives must never sign in (the session token inside is
// not signed with B), and no cookie for another host, or with control
// characters, may reach the response.
func FuzzHandshakePayload(f *testing.F) {
	h := fuzzHandler(f)
	valid := sessionToken(f)
	for _, s := range []string{
		`{"directives":["__session=` + valid + `; Path=/; SameSite=Lax", "__client_uat=1767000000; Path=/; Domain=example.com"]}`,
		`{"directives":["__session=` + valid + `; Domain=evil.com", "__client_uat=1; Domain=.app.example.com"]}`,
		`{"directives":["__session_x=` + valid + `=; Domain=", "a=b\r\nSet-Cookie: __session=x"]}`,
		`{"directives":[]}`, `{"directives":null}`, `{"directives":[1,{},null]}`, `{}`, `[]`, `null`, ``, `<html>`,
		`{"directives":["__session"]}`, `{"directives":["=__session=x; domain=APP.EXAMPLE.COM; Domain=com"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		hc := *h
		// A fresh limiter: every input is exchanged, none is throttled.
		hc.engine = authn.NewEngine(hc.engineConfig())
		hc.api.HTTP = &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body))}, nil
		})}
		r := newRequest(http.MethodGet, "https://app.example.com/page?__clerk_handshake_nonce=n1", "Accept", "text/html")
		out := serve(&hc, r)
		requireNotSignedIn(t, out, "handshake payload")
		for _, c := range out.rec.Header().Values("Set-Cookie") {
			if strings.HasPrefix(c, wire.CookieRedirectCount+"=") {
				continue
			}
			if _, ok := authn.DirectiveDomainMatches(c, "app.example.com"); !ok {
				t.Fatalf("Set-Cookie %q reached the response of app.example.com", c)
			}
		}
	})
}

func FuzzCaddyfile(f *testing.F) {
	for _, s := range []string{
		"clerk_auth",
		"clerk_auth {\n\tpublishable_key pk_live_Y2xlcmsuZXhhbXBsZS5jb20k\n\tsecret_key {env.CLERK_SECRET_KEY}\n\tauthorized_parties https://app.example.com https://b.example.com\n\tclock_skew 10s\n\tmode optional\n\tallow_pending\n\tsign_in_url /sign-in\n}",
		"clerk_auth {\n\tupstream_headers all\n\tcache_size 0\n}", "clerk_auth {\n\tupstream_headers\n}",
		"clerk_auth {\n\tjwt_key \"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\"\n\tjwks_url https://x/jwks\n\tis_satellite\n\tdomain example.com\n\tsatellite_auto_sync\n}",
		"clerk_auth arg", "clerk_auth {\n mode\n}", "clerk_auth {\n clock_skew -1s\n}", "clerk_auth {\n authorized_parties https://a/\n}",
		"clerk_auth {\n demo extra\n}", "clerk_auth {\n unknown\n}", "clerk_auth {\n{\n}", "clerk_auth {\n issuer a b\n}",
		"clerk_auth {\n clock_skew 99999999999999999999h\n}", "clerk_auth {\n proxy_url `http://x`\n session_param \"\"\n}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		tokens, err := caddyfile.Tokenize([]byte(input), "Caddyfile")
		if err != nil {
			return
		}
		var h Handler
		if h.UnmarshalCaddyfile(caddyfile.NewDispenser(tokens)) == nil {
			_ = h.Validate()
		}
	})
}

func splitToken(tok string) (h, p, s string) {
	parts := strings.SplitN(tok, ".", 3)
	return parts[0], parts[1], parts[2]
}

// unsignedToken is header.payload. with the given JSON and no signature.
func unsignedToken(header, claims map[string]any) string {
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb) + "."
}
