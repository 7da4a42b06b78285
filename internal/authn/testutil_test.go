package authn

import (
	"encoding/base64"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/orgsync"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/tokencache"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// The test instance, as the root's tests have it: Frontend API
// clerk.example.com, app at https://app.example.com.
const (
	testFAPIHost = "clerk.example.com"
	testIssuer   = "https://clerk.example.com"
	testOrigin   = "https://app.example.com"
)

var (
	testPK    = "pk_live_" + base64.StdEncoding.EncodeToString([]byte(testFAPIHost+"$"))
	testDevPK = "pk_test_" + base64.StdEncoding.EncodeToString([]byte("foo-bar-13.clerk.accounts.dev$"))
	testNow   = time.Unix(1767000000, 0)
)

// testEngine is an engine of the test instance with key A as a static key
// and a token cache, as the root's Provision builds it; edit changes the
// config first.
func testEngine(t testing.TB, edit ...func(*Config)) *Engine {
	t.Helper()
	a, _ := testkit.Keys(t)
	in, err := NewInstance(testPK, "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	c := Config{
		Instance:          in,
		Keys:              keys.Static{Key: keys.NewKey("local", "RS256", &a.PublicKey, "jwt_key")},
		Verify:            jwt.Options{AuthorizedParties: []string{testOrigin}, Issuer: testIssuer, Skew: 5 * time.Second},
		Cache:             tokencache.New(100),
		SessionParam:      "_clerk_session_id",
		SignInURL:         "https://accounts.example.com/sign-in",
		AuthorizedParties: []string{testOrigin},
	}
	for _, e := range edit {
		e(&c)
	}
	return NewEngine(c)
}

// withOrgSync compiles organization patterns into c.
func withOrgSync(t testing.TB, patterns ...string) func(*Config) {
	return func(c *Config) {
		m, err := orgsync.Compile(orgsync.Options{OrganizationPatterns: patterns})
		if err != nil {
			t.Fatal(err)
		}
		c.OrgSync = m
	}
}

// sessionToken is a valid session token of the instance (key A) at testNow.
func sessionToken(t testing.TB, edit ...func(map[string]any)) string {
	a, _ := testkit.Keys(t)
	now := testNow.Unix()
	c := map[string]any{
		"sub": "user_1", "sid": "sess_1", "iss": testIssuer, "azp": testOrigin,
		"iat": now - 10, "nbf": now - 20, "exp": now + 50, "sts": "active", "v": 2,
	}
	for _, e := range edit {
		e(c)
	}
	return testkit.SignJWT(t, a, map[string]any{"alg": "RS256", "typ": "JWT", "kid": "ins_a", "cat": wire.JWTCategorySession}, c)
}

// decide runs Init and Authenticate on a request for target with headers
// (name, value pairs), as the root's decide does without Caddy.
func decide(t testing.TB, e *Engine, method, target string, headers ...string) (*Request, *Outcome) {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	u := *r.URL
	u.Scheme, u.Host = "https", r.Host
	a := new(Request)
	e.Init(a, r, testNow, &u)
	return a, e.Authenticate(r.Context(), a)
}
