package clerkauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

const testUserSecret = "sk_test_users"

// adaJSON is a user as Clerk's Backend API returns it (GET /v1/users/{id}):
// two addresses, the second primary and verified.
const adaJSON = `{
  "id": "user_1", "object": "user", "first_name": "Ada", "last_name": "Lovelace", "username": "ada",
  "primary_email_address_id": "idn_2",
  "email_addresses": [
    {"id": "idn_1", "object": "email_address", "email_address": "ada@old.example", "verification": {"status": "verified", "strategy": "email_code"}, "linked_to": []},
    {"id": "idn_2", "object": "email_address", "email_address": "ada@example.com", "verification": {"status": "verified", "strategy": "email_link"}, "linked_to": []}
  ],
  "public_metadata": {"tier": "gold", "seats": 5, "teams": ["ops", "dev"]},
  "private_metadata": {"secret": "x"}, "unsafe_metadata": {},
  "created_at": 1700000000000, "updated_at": 1700000000000
}`

// fakeBAPI serves /v1/users/{id} for the users it holds, with the secret
// key as Bearer. While hold is set, each request waits for release.
type fakeBAPI struct {
	srv     *httptest.Server
	hits    atomic.Int32
	users   map[string]string
	status  int // when set, every answer has this status
	hold    atomic.Bool
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

func (f *fakeBAPI) releaseAll() { f.once.Do(func() { close(f.release) }) }

func newFakeBAPI(t *testing.T, edit ...func(*fakeBAPI)) *fakeBAPI {
	f := &fakeBAPI{users: map[string]string{"user_1": adaJSON}, arrived: make(chan struct{}, 100), release: make(chan struct{})}
	for _, e := range edit {
		e(f)
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		if f.hold.Load() {
			f.arrived <- struct{}{}
			<-f.release
		}
		if r.Header.Get("Authorization") != "Bearer "+testUserSecret {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errors":[{"code":"authentication_invalid"}]}`))
			return
		}
		if f.status != 0 {
			w.WriteHeader(f.status)
			_, _ = w.Write([]byte(`{"errors":[{"code":"internal_clerk_error"}]}`))
			return
		}
		id, ok := strings.CutPrefix(r.URL.Path, "/v1/users/")
		body, found := f.users[id]
		if !ok || !found || r.Method != http.MethodGet {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"errors":[{"code":"resource_not_found"}]}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(f.srv.Close)
	t.Cleanup(f.releaseAll) // runs before Close: let held requests finish
	return f
}

func userHandler(t *testing.T, f *fakeBAPI, edit func(*Handler)) *Handler {
	return newTestHandler(t, func(h *Handler) {
		h.SecretKey, h.APIURL = testUserSecret, f.srv.URL
		if edit != nil {
			edit(h)
		}
	})
}

func signedInRequest(t *testing.T, headers ...string) *http.Request {
	return newRequest("GET", "https://app.example.com/api/x", append([]string{"Authorization", "Bearer " + sessionToken(t)}, headers...)...)
}

func TestUserDetailsPlaceholdersAndHeaders(t *testing.T) {
	f := newFakeBAPI(t)
	h := userHandler(t, f, func(h *Handler) { h.UserDetails = &UserDetails{Metadata: []string{"tier", "seats", "teams", "absent"}} })
	out := serve(h, signedInRequest(t, wire.HeaderUserEmail, "forged@evil.example"))
	if out.upstream == nil {
		t.Fatalf("status %d (%v)", out.status(), out.err)
	}
	placeholders := map[string]string{
		"http.auth.user.email": "ada@example.com", "http.auth.user.email_verified": "true",
		"http.auth.user.first_name": "Ada", "http.auth.user.last_name": "Lovelace", "http.auth.user.name": "Ada Lovelace",
		"http.auth.user.username": "ada", "http.auth.user.metadata.tier": "gold", "http.auth.user.metadata.seats": "5",
		"http.auth.user.metadata.teams": `["ops","dev"]`,
	}
	for k, want := range placeholders {
		if got, _ := out.repl.GetString(k); got != want {
			t.Errorf("{%s} = %q, want %q", k, got, want)
		}
	}
	// A metadata key the user lacks is known and empty, never left as text.
	if v, ok := out.repl.GetString("http.auth.user.metadata.absent"); !ok || v != "" {
		t.Errorf("{http.auth.user.metadata.absent} = %q (known %v), want empty", v, ok)
	}
	headers := map[string]string{
		wire.HeaderUserEmail: "ada@example.com", wire.HeaderUserEmailVerified: "true", wire.HeaderUserFirstName: "Ada",
		wire.HeaderUserLastName: "Lovelace", wire.HeaderUserUsername: "ada", "X-Clerk-User-Metadata-Tier": "gold",
	}
	for k, want := range headers {
		if got := out.upstream.Header.Values(k); len(got) != 1 || got[0] != want {
			t.Errorf("upstream %s = %q, want %q", k, got, want)
		}
	}
}

func TestUserDetailsWithUpstreamHeadersOff(t *testing.T) {
	f := newFakeBAPI(t)
	h := userHandler(t, f, func(h *Handler) {
		h.UserDetails = &UserDetails{Metadata: []string{"tier"}}
		h.UpstreamHeaders = "off"
	})
	out := serve(h, signedInRequest(t, wire.HeaderUserEmail, "forged@evil.example"))
	if out.upstream == nil {
		t.Fatalf("status %d (%v)", out.status(), out.err)
	}
	for k, want := range map[string]string{"http.auth.user.email": "ada@example.com", "http.auth.user.metadata.tier": "gold"} {
		if got, _ := out.repl.GetString(k); got != want {
			t.Errorf("{%s} = %q, want %q", k, got, want)
		}
	}
	for name, v := range out.upstream.Header {
		if isIdentityHeaderName(name) {
			t.Errorf("upstream_headers off passed %s: %q", name, v)
		}
	}
}

func TestUserRules(t *testing.T) {
	unverified := strings.Replace(adaJSON, `{"status": "verified", "strategy": "email_link"}`, `{"status": "unverified", "strategy": "email_link"}`, 1)
	subdomain := strings.Replace(adaJSON, "ada@example.com", "ada@eu.Example.com", 1)
	tests := []struct {
		name   string
		user   string
		rule   Rule
		reason string
	}{
		{"email domain", adaJSON, Rule{Kind: "email_domain", Values: []string{"other.org", "EXAMPLE.com"}}, ""},
		{"email domain of a non-primary address", adaJSON, Rule{Kind: "email_domain", Values: []string{"old.example"}}, wire.ReasonEmailDomainNotAllowed},
		{"email subdomain by wildcard", subdomain, Rule{Kind: "email_domain", Values: []string{"*.example.com"}}, ""},
		{"apex is not a subdomain", adaJSON, Rule{Kind: "email_domain", Values: []string{"*.example.com"}}, wire.ReasonEmailDomainNotAllowed},
		{"unverified primary email", unverified, Rule{Kind: "email_domain", Values: []string{"example.com"}}, wire.ReasonEmailDomainNotAllowed},
		{"metadata string", adaJSON, Rule{Kind: "metadata", Path: "tier", Values: []string{"silver", "gold"}}, ""},
		{"metadata number", adaJSON, Rule{Kind: "metadata", Path: "seats", Values: []string{"5"}}, ""},
		{"metadata array", adaJSON, Rule{Kind: "metadata", Path: "teams", Values: []string{"ops"}}, ""},
		{"metadata other value", adaJSON, Rule{Kind: "metadata", Path: "tier", Values: []string{"silver"}}, wire.ReasonMissingMetadata},
		{"metadata absent", adaJSON, Rule{Kind: "metadata", Path: "plan", Values: []string{"pro"}}, wire.ReasonMissingMetadata},
		{"private metadata is not read", adaJSON, Rule{Kind: "metadata", Path: "secret", Values: []string{"x"}}, wire.ReasonMissingMetadata},
		{"user not a user object", `{"first_name": 5}`, Rule{Kind: "metadata", Path: "tier", Values: []string{"gold"}}, wire.ReasonUserLookupFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeBAPI(t, func(f *fakeBAPI) { f.users["user_1"] = tc.user })
			h := userHandler(t, f, func(h *Handler) { h.Require = []Rule{tc.rule} })
			out := serve(h, signedInRequest(t))
			if tc.reason == "" {
				if out.upstream == nil {
					t.Fatalf("status %d, reason %q; want the request to go on", out.status(), out.rec.Header().Get(wire.HeaderAuthReason))
				}
				return
			}
			if out.status() != http.StatusForbidden || out.rec.Header().Get(wire.HeaderAuthReason) != tc.reason {
				t.Fatalf("status %d, reason %q; want 403 %s", out.status(), out.rec.Header().Get(wire.HeaderAuthReason), tc.reason)
			}
		})
	}
}

func TestUserRulesAreCheckedAfterTokenRules(t *testing.T) {
	f := newFakeBAPI(t)
	h := userHandler(t, f, func(h *Handler) {
		h.Require = []Rule{{Kind: "email_domain", Values: []string{"example.com"}}, {Kind: "role", Values: []string{"admin"}}}
	})
	out := serve(h, signedInRequest(t))
	if out.rec.Header().Get(wire.HeaderAuthReason) != wire.ReasonMissingRole {
		t.Fatalf("reason %q, want %s", out.rec.Header().Get(wire.HeaderAuthReason), wire.ReasonMissingRole)
	}
	if n := f.hits.Load(); n != 0 {
		t.Errorf("the Backend API was asked %d times for a session the token already refused", n)
	}
}

func TestUserLookupIsCached(t *testing.T) {
	f := newFakeBAPI(t)
	var now atomic.Int64
	now.Store(testNow.Unix())
	h := userHandler(t, f, func(h *Handler) { h.UserDetails = &UserDetails{CacheTTL: caddy.Duration(time.Minute)} })
	h.now = func() time.Time { return time.Unix(now.Load(), 0) }
	for i := 0; i < 3; i++ {
		serve(h, signedInRequest(t))
	}
	if n := f.hits.Load(); n != 1 {
		t.Fatalf("3 requests within the TTL made %d lookups, want 1", n)
	}
	now.Add(61)
	// The token must stay valid on the moved clock.
	out := serve(h, newRequest("GET", "https://app.example.com/", "Authorization", "Bearer "+sessionToken(t, set("exp", testNow.Unix()+120))))
	if out.upstream == nil {
		t.Fatalf("status %d", out.status())
	}
	if n := f.hits.Load(); n != 2 {
		t.Fatalf("after the TTL: %d lookups, want 2", n)
	}
}

func TestConcurrentRequestsShareOneLookup(t *testing.T) {
	f := newFakeBAPI(t, func(f *fakeBAPI) { f.hold.Store(true) })
	h := userHandler(t, f, func(h *Handler) { h.Require = []Rule{{Kind: "email_domain", Values: []string{"example.com"}}} })
	const n = 8
	var started, done sync.WaitGroup
	results := make([]int, n)
	started.Add(n)
	done.Add(n)
	token := sessionToken(t)
	for i := 0; i < n; i++ {
		go func() {
			defer done.Done()
			r := newRequest("GET", "https://app.example.com/api/x", "Authorization", "Bearer "+token)
			started.Done()
			results[i] = serve(h, r).status()
		}()
	}
	<-f.arrived // the first lookup is at the Backend API, held
	started.Wait()
	f.releaseAll()
	done.Wait()
	for i, s := range results {
		if s != http.StatusOK {
			t.Errorf("request %d: status %d", i, s)
		}
	}
	if got := f.hits.Load(); got != 1 {
		t.Errorf("%d concurrent requests made %d lookups, want 1", n, got)
	}
}

func TestClerkDownDeniesOnlyRulesThatNeedTheUser(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*fakeBAPI)
		auth func(*Handler)
	}{
		{"server error", func(f *fakeBAPI) { f.status = http.StatusInternalServerError }, nil},
		{"unknown user", func(f *fakeBAPI) { delete(f.users, "user_1") }, nil},
		{"wrong secret key", nil, func(h *Handler) { h.SecretKey = "sk_test_wrong" }},
		{"no answer within the timeout", func(f *fakeBAPI) { f.hold.Store(true) }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var edits []func(*fakeBAPI)
			if tc.edit != nil {
				edits = append(edits, tc.edit)
			}
			f := newFakeBAPI(t, edits...)
			timeout := &UserDetails{Timeout: caddy.Duration(50 * time.Millisecond)}
			ruled := userHandler(t, f, func(h *Handler) {
				h.Require = []Rule{{Kind: "metadata", Path: "tier", Values: []string{"gold"}}}
				h.UserDetails = timeout
				if tc.auth != nil {
					tc.auth(h)
				}
			})
			out := serve(ruled, signedInRequest(t))
			if out.status() != http.StatusForbidden || out.rec.Header().Get(wire.HeaderAuthReason) != wire.ReasonUserLookupFailed {
				t.Fatalf("with a metadata rule: status %d, reason %q; want 403 %s", out.status(), out.rec.Header().Get(wire.HeaderAuthReason), wire.ReasonUserLookupFailed)
			}
			detailsOnly := userHandler(t, f, func(h *Handler) {
				h.UserDetails = timeout
				if tc.auth != nil {
					tc.auth(h)
				}
			})
			out = serve(detailsOnly, signedInRequest(t))
			if out.upstream == nil {
				t.Fatalf("user_details alone: status %d; want the request to go on", out.status())
			}
			if v, _ := out.repl.GetString("http.auth.user.email"); v != "" || out.upstream.Header.Get(wire.HeaderUserEmail) != "" {
				t.Errorf("email published without a lookup: %q", v)
			}
		})
	}
}

func TestUserLookupWaitEndsWithTheRequest(t *testing.T) {
	f := newFakeBAPI(t, func(f *fakeBAPI) { f.hold.Store(true) })
	h := userHandler(t, f, func(h *Handler) { h.UserDetails = &UserDetails{Timeout: caddy.Duration(time.Hour)} })
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-f.arrived; cancel() }()
	if _, err := h.users.Get(ctx, "user_1"); err == nil {
		t.Fatal("a lookup whose request went away succeeded")
	}
}

func TestUserDetailsNeedTheSecretKey(t *testing.T) {
	a, _ := testkit.Keys(t)
	for name, h := range map[string]*Handler{
		"user_details":       {PublishableKey: testPK, JWTKey: testkit.PublicPEM(t, a), UserDetails: &UserDetails{}},
		"email_domain rule":  {PublishableKey: testPK, JWTKey: testkit.PublicPEM(t, a), Require: []Rule{{Kind: "email_domain", Values: []string{"example.com"}}}},
		"metadata rule":      {PublishableKey: testPK, JWTKey: testkit.PublicPEM(t, a), Require: []Rule{{Kind: "metadata", Path: "a", Values: []string{"b"}}}},
		"demo with a lookup": {Demo: true, UserDetails: &UserDetails{}},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			err := h.Provision(ctx)
			if err == nil || !strings.Contains(err.Error(), "need secret_key") {
				t.Fatalf("provision error %v, want one asking for secret_key", err)
			}
		})
	}
}
