package clerkauth

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/clerk-edge/clerk_auth/internal/authn"
	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"go.uber.org/zap"
)

// The test instance: Frontend API clerk.example.com, app at
// https://app.example.com.
const (
	testFAPIHost = "clerk.example.com"
	testIssuer   = "https://clerk.example.com"
	testOrigin   = "https://app.example.com"
)

var (
	testPK    = "pk_live_" + base64.StdEncoding.EncodeToString([]byte(testFAPIHost+"$"))
	testDevPK = "pk_test_" + base64.StdEncoding.EncodeToString([]byte("foo-bar-13.clerk.accounts.dev$"))
)

var testNow = time.Unix(1767000000, 0)

// sessionClaims are valid claims at testNow, to be edited per case.
func sessionClaims(edit ...func(map[string]any)) map[string]any {
	now := testNow.Unix()
	c := map[string]any{
		"sub": "user_1", "sid": "sess_1", "iss": testIssuer, "azp": testOrigin,
		"iat": now - 10, "nbf": now - 20, "exp": now + 50, "sts": "active", "v": 2,
	}
	for _, e := range edit {
		e(c)
	}
	return c
}

// sessionToken is a valid session token of the instance (key A).
func sessionToken(t testing.TB, edit ...func(map[string]any)) string {
	a, _ := testkit.Keys(t)
	return testkit.SignJWT(t, a, map[string]any{"alg": "RS256", "typ": "JWT", "kid": "ins_a", "cat": wire.JWTCategorySession}, sessionClaims(edit...))
}

// newTestHandler provisions a handler with Caddy's own context, with the
// instance's PEM key, the test publishable key and authorized party, and a
// clock frozen at testNow.
func newTestHandler(t testing.TB, edit ...func(*Handler)) *Handler {
	t.Helper()
	a, _ := testkit.Keys(t)
	h := &Handler{PublishableKey: testPK, SecretKey: "sk_test_dummy", JWTKey: testkit.PublicPEM(t, a), AuthorizedParties: []string{testOrigin}}
	for _, e := range edit {
		e(h)
	}
	provision(t, h)
	h.now = func() time.Time { return testNow }
	return h
}

// testContext is a Caddy context as a config load gives modules.
func testContext() caddy.Context {
	ctx, _ := caddy.NewContext(caddy.Context{Context: context.Background()})
	return ctx
}

func provision(t testing.TB, h *Handler) {
	t.Helper()
	t.Cleanup(func() { _ = h.Cleanup() })
	if err := h.Provision(testContext()); err != nil {
		t.Fatalf("provision: %v", err)
	}
	if err := h.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
}

// served is what one request through the handler produced.
type served struct {
	rec      *httptest.ResponseRecorder
	err      error
	upstream *http.Request // the request the next handler saw, nil if none
	repl     *caddy.Replacer
}

func (s served) status() int {
	if s.err != nil {
		if he, ok := s.err.(caddyhttp.HandlerError); ok {
			return he.StatusCode
		}
		return 500
	}
	return s.rec.Code
}

// serve runs r through h with the context Caddy's server would give it.
func serve(h *Handler, r *http.Request) served {
	repl := caddy.NewReplacer()
	ctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl)
	ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{})
	r = r.WithContext(ctx)
	out := served{rec: httptest.NewRecorder(), repl: repl}
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		out.upstream = r
		w.WriteHeader(http.StatusOK)
		return nil
	})
	out.err = h.ServeHTTP(out.rec, r, next)
	return out
}

// newRequest is a request to the app; headers are name, value pairs.
func newRequest(method, target string, headers ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

// newAuthRequest is one request's state, as decide builds it (without
// removing identity headers).
func (h *Handler) newAuthRequest(r *http.Request, now time.Time) *authRequest {
	a := new(authRequest)
	h.engine.Init(&a.Request, r, now, h.requestURL(r))
	return a
}

// useLogger makes l the handler's logger, and its decision's.
func (h *Handler) useLogger(l *zap.Logger) {
	h.logger = l
	h.engine = authn.NewEngine(h.engineConfig())
}

// useKeys makes k the handler's key source, and its decision's.
func (h *Handler) useKeys(k keys.Provider) {
	h.keys = k
	h.engine = authn.NewEngine(h.engineConfig())
}

// formatCount writes a number as JavaScript's String(n) does for the
// integers the tests use (__client_uat, the redirect counter).
func formatCount(n float64) string { return strconv.FormatFloat(n, 'f', -1, 64) }
