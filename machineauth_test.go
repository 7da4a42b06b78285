package clerkauth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/machine"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Machine tokens of the fake Backend API (fakeMachineAPI). Each is 32
// characters or more, so that requireNoSecretsLogged looks for it.
const (
	akUser    = "ak_user_0123456789abcdef0123456789ab"
	akOrg     = "ak_org_0123456789abcdef0123456789abc"
	akMachine = "ak_mch_0123456789abcdef0123456789abc"
	akRevoked = "ak_revoked_0123456789abcdef01234567"
	akUnknown = "ak_unknown_0123456789abcdef01234567"
	akOdd     = "ak_oddname_0123456789abcdef01234567"
	mtValid   = "mt_valid_0123456789abcdef0123456789a"
	oatValid  = "oat_valid_0123456789abcdef012345678"
	oatGone   = "oat_inactive_0123456789abcdef012345"
	testMSK   = "ak_machine_secret_0123456789abcdef01"
	// The examples' tokens (examples_test.go).
	akNoScope   = "ak_noscope_0123456789abcdef01234567"
	mtOrders    = "mt_orders_0123456789abcdef0123456789"
	mtStranger  = "mt_stranger_0123456789abcdef01234567"
	oatPartners = "oat_partners_0123456789abcdef012345"
	oatElsewhre = "oat_elsewhere_0123456789abcdef01234"
)

// fakeMachineAPI is the Backend API's three verify endpoints, answering
// the documented wire format (the OpenAPI spec's shapes, as
// @clerk/backend's fixtures give them) from a table, and counting calls.
type fakeMachineAPI struct {
	*httptest.Server
	mu      sync.Mutex
	calls   map[string]int // by token
	auth    map[string]string
	revoked map[string]bool
	// status, when set, is answered to every call instead (429, 500...).
	status atomic.Int32
	// delay holds every answer back.
	delay atomic.Int64
}

func newFakeMachineAPI(t testing.TB) *fakeMachineAPI {
	f := &fakeMachineAPI{calls: map[string]int{}, auth: map[string]string{}, revoked: map[string]bool{akRevoked: true}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeMachineAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var in map[string]string
	_ = json.Unmarshal(body, &in)
	field := map[string]string{"/api_keys/verify": "secret", "/m2m_tokens/verify": "token", "/oauth_applications/access_tokens/verify": "access_token"}[r.URL.Path]
	tok := in[field]
	f.mu.Lock()
	f.calls[tok]++
	f.auth[r.URL.Path] = r.Header.Get("Authorization")
	revoked := f.revoked[tok]
	f.mu.Unlock()
	if d := time.Duration(f.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if st := int(f.status.Load()); st != 0 {
		w.WriteHeader(st)
		_, _ = w.Write([]byte(`{"errors":[{"message":"The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct.","code":"clerk_key_invalid"}]}`))
		return
	}
	if r.Method != http.MethodPost || field == "" || tok == "" || r.Header.Get("Clerk-API-Version") != machine.ClerkAPIVersion {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	// Valid an hour after the test clock and after the real one (real
	// Caddy runs on the real clock).
	expiry := testNow
	if time.Now().After(expiry) {
		expiry = time.Now()
	}
	expiry = expiry.Add(time.Hour)
	exp := expiry.UnixMilli()
	var answer map[string]any
	switch {
	case field == "secret" && strings.HasPrefix(tok, "ak_") && tok != akUnknown:
		subject, name := "user_1", "orders reader"
		switch tok {
		case akOrg:
			subject = "org_1"
		case akMachine:
			subject = "mch_1"
		case akOdd:
			name = "line\nbreak"
		}
		scopes := []string{"orders:read"}
		if tok == akNoScope {
			scopes = []string{}
		}
		answer = map[string]any{"object": "api_key", "id": "ak_id_1", "type": "api_key", "subject": subject, "name": name,
			"scopes": scopes, "claims": nil, "revoked": revoked, "revocation_reason": nil,
			"expired": false, "expiration": exp, "created_at": 1, "updated_at": 1}
	case field == "token" && (tok == mtValid || tok == mtOrders || tok == mtStranger):
		subject, scopes := "mch_1", []string{"mch_2"}
		switch tok {
		case mtOrders:
			subject, scopes = "mch_orders", []string{"mch_inventory"}
		case mtStranger:
			subject, scopes = "mch_stranger", []string{"mch_inventory"}
		}
		answer = map[string]any{"object": "machine_to_machine_token", "id": "mt_id_1", "subject": subject, "scopes": scopes,
			"claims": nil, "revoked": revoked, "revocation_reason": nil, "expired": false, "expiration": exp, "created_at": 1, "updated_at": 1}
	case field == "access_token" && (tok == oatPartners || tok == oatElsewhre):
		aud := "https://partners.example.com"
		if tok == oatElsewhre {
			aud = "https://elsewhere.example.com"
		}
		answer = map[string]any{"object": "clerk_idp_oauth_access_token", "id": "oat_id_2", "client_id": "client_partner", "subject": "user_1",
			"scopes": []string{"profile"}, "aud": []string{aud}, "revoked": false, "revocation_reason": nil, "expired": false,
			"expiration": expiry.Unix(), "created_at": 1, "updated_at": 1}
	case field == "access_token" && tok == oatValid:
		answer = map[string]any{"object": "clerk_idp_oauth_access_token", "id": "oat_id_1", "client_id": "client_1", "subject": "user_1",
			"scopes": []string{"profile", "email"}, "revoked": revoked, "revocation_reason": nil, "expired": false,
			"expiration": expiry.Unix(), "created_at": 1, "updated_at": 1}
	case field == "access_token" && tok == oatGone:
		answer = map[string]any{"active": false}
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"errors":[{"message":"not found","code":"resource_not_found"}]}`))
		return
	}
	_ = json.NewEncoder(w).Encode(answer)
}

func (f *fakeMachineAPI) n(tok string) int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls[tok] }

func (f *fakeMachineAPI) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

func (f *fakeMachineAPI) revoke(tok string) { f.mu.Lock(); f.revoked[tok] = true; f.mu.Unlock() }

// machineHandler is a test handler accepting accepts on the fake Backend
// API; edit may change more.
func machineHandler(t testing.TB, api *fakeMachineAPI, accepts []string, edit ...func(*Handler)) *Handler {
	return newTestHandler(t, append([]func(*Handler){func(h *Handler) {
		h.AcceptsToken, h.APIURL = accepts, api.URL
	}}, edit...)...)
}

// machineJWT signs a machine JWT with the instance key (key A).
func machineJWT(t testing.TB, header, claims map[string]any) string {
	a, _ := testkit.Keys(t)
	h := map[string]any{"alg": "RS256", "kid": "ins_a"}
	for k, v := range header {
		h[k] = v
	}
	c := map[string]any{"iat": testNow.Unix() - 10, "nbf": testNow.Unix() - 10, "exp": testNow.Unix() + 300, "jti": "mt_jwt_1"}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return testkit.SignJWT(t, a, h, c)
}

// TestMachineTokensThroughTheHandler: what each kind gets, per accepts_token,
// as status, Clerk's reason, the headers upstream and the placeholders.
func TestMachineTokensThroughTheHandler(t *testing.T) {
	api := newFakeMachineAPI(t)
	m2mJWT := machineJWT(t, map[string]any{"typ": "JWT", "cat": machine.JWTCategoryM2M}, map[string]any{"sub": "mch_1", "scopes": "mch_2 mch_3"})
	m2mExpired := machineJWT(t, map[string]any{"cat": machine.JWTCategoryM2M}, map[string]any{"sub": "mch_1", "exp": testNow.Unix() - 60})
	m2mSessionCat := machineJWT(t, map[string]any{"cat": wire.JWTCategorySession}, map[string]any{"sub": "mch_1"})
	oauthJWT := machineJWT(t, map[string]any{"typ": "at+jwt"}, map[string]any{"sub": "user_1", "client_id": "client_1", "scp": []string{"profile"}, "aud": "https://api.example.com"})
	session := sessionToken(t)
	type want struct {
		status          int
		reason, message string
		headers         map[string]string // upstream; "" means absent
		placeholders    map[string]string
	}
	for _, tc := range []struct {
		name    string
		accepts []string
		edit    func(*Handler)
		auth    string
		extra   []string
		want    want
	}{
		{name: "user API key", accepts: []string{"api_key"}, auth: "Bearer " + akUser,
			extra: []string{wire.HeaderUserID, "user_evil", "X-Clerk-Machine-Id", "mch_evil"},
			want: want{status: 200,
				headers: map[string]string{wire.HeaderTokenType: "api_key", wire.HeaderSubject: "user_1", wire.HeaderUserID: "user_1",
					wire.HeaderTokenID: "ak_id_1", wire.HeaderScopes: "orders:read", wire.HeaderAPIKeyName: "orders reader", wire.HeaderMachineID: "", wire.HeaderOrgID: ""},
				placeholders: map[string]string{"http.auth.user.id": "user_1", "http.auth.clerk.token_type": "api_key", "http.auth.clerk.scopes": "orders:read", "http.auth.clerk.status": "signed-in"}}},
		{name: "organization API key, bare token", accepts: []string{"api_key"}, auth: akOrg,
			want: want{status: 200,
				headers:      map[string]string{wire.HeaderUserID: "", wire.HeaderOrgID: "org_1", wire.HeaderSubject: "org_1"},
				placeholders: map[string]string{"http.auth.user.id": "org_1", "http.auth.user.org_id": "org_1"}}},
		{name: "machine-owned API key", accepts: []string{"api_key"}, auth: "Bearer " + akMachine,
			want: want{status: 200, headers: map[string]string{wire.HeaderUserID: "", wire.HeaderOrgID: "", wire.HeaderSubject: "mch_1"},
				placeholders: map[string]string{"http.auth.user.id": "mch_1"}}},
		{name: "API key whose name cannot travel", accepts: []string{"api_key"}, auth: "Bearer " + akOdd,
			want: want{status: 200, headers: map[string]string{wire.HeaderAPIKeyName: "", wire.HeaderUserID: "user_1"}}},
		{name: "opaque M2M token", accepts: []string{"m2m_token"}, auth: "Bearer " + mtValid,
			want: want{status: 200, headers: map[string]string{wire.HeaderTokenType: "m2m_token", wire.HeaderMachineID: "mch_1", wire.HeaderUserID: "", wire.HeaderScopes: "mch_2"},
				placeholders: map[string]string{"http.auth.user.id": "mch_1", "http.auth.clerk.machine_id": "mch_1"}}},
		{name: "M2M JWT, networkless", accepts: []string{"m2m_token"}, auth: "Bearer " + m2mJWT,
			want: want{status: 200, headers: map[string]string{wire.HeaderMachineID: "mch_1", wire.HeaderScopes: "mch_2 mch_3", wire.HeaderTokenID: "mt_jwt_1"}}},
		{name: "opaque OAuth token", accepts: []string{"oauth_token"}, auth: "Bearer " + oatValid,
			want: want{status: 200, headers: map[string]string{wire.HeaderTokenType: "oauth_token", wire.HeaderUserID: "user_1", wire.HeaderClientID: "client_1", wire.HeaderScopes: "profile email"}}},
		{name: "OAuth JWT with the audience", accepts: []string{"oauth_token"}, edit: func(h *Handler) { h.Audience = []string{"https://api.example.com"} },
			auth: "Bearer " + oauthJWT, want: want{status: 200, headers: map[string]string{wire.HeaderUserID: "user_1", wire.HeaderClientID: "client_1"}}},
		{name: "OAuth JWT for another audience", accepts: []string{"oauth_token"}, edit: func(h *Handler) { h.Audience = []string{"https://other.example.com"} },
			auth: "Bearer " + oauthJWT, want: want{status: 401, reason: machine.CodeTokenVerificationFailed}},
		{name: "session token on an API-key route", accepts: []string{"api_key"}, auth: "Bearer " + session,
			want: want{status: 401, reason: wire.ReasonTokenTypeMismatch}},
		{name: "M2M token on an API-key route", accepts: []string{"api_key"}, auth: "Bearer " + mtValid,
			want: want{status: 401, reason: wire.ReasonTokenTypeMismatch}},
		{name: "no token on an API-key route, page load", accepts: []string{"api_key"}, extra: []string{"Accept", "text/html", "Sec-Fetch-Dest", "document"},
			want: want{status: 401, reason: machine.ReasonNoTokenInHeader}},
		{name: "API key in x-api-key", accepts: []string{"api_key"}, extra: []string{"X-Api-Key", akUser},
			want: want{status: 401, reason: machine.ReasonNoTokenInHeader}},
		{name: "lowercase bearer", accepts: []string{"api_key"}, auth: "bearer " + akUser,
			want: want{status: 401, reason: machine.ReasonNoTokenInHeader}},
		{name: "unknown API key", accepts: []string{"api_key"}, auth: "Bearer " + akUnknown,
			want: want{status: 401, reason: machine.CodeTokenInvalid, message: "API key not found (code=token-invalid, status=404)"}},
		{name: "revoked API key (Clerk signs it in)", accepts: []string{"api_key"}, auth: "Bearer " + akRevoked,
			want: want{status: 401, reason: machine.CodeTokenInvalid, message: "API key is revoked (code=token-invalid, status=200)"}},
		{name: "inactive OAuth token (Clerk signs it in)", accepts: []string{"oauth_token"}, auth: "Bearer " + oatGone,
			want: want{status: 401, reason: machine.CodeTokenInvalid}},
		{name: "expired M2M JWT", accepts: []string{"m2m_token"}, auth: "Bearer " + m2mExpired,
			want: want{status: 401, reason: machine.CodeTokenVerificationFailed}},
		{name: "M2M JWT with the session category", accepts: []string{"m2m_token"}, auth: "Bearer " + m2mSessionCat,
			want: want{status: 401, reason: machine.CodeTokenInvalid, message: "Invalid M2M JWT category. (code=token-invalid, status=n/a)"}},
		{name: "API key with dots is an undecodable JWT", accepts: []string{"any"}, auth: "Bearer ak_live_abc.def.ghi",
			want: want{status: 401, reason: machine.CodeTokenInvalid}},
		{name: "list without the token's type", accepts: []string{"api_key", "oauth_token"}, auth: "Bearer " + mtValid,
			want: want{status: 401, reason: wire.ReasonTokenTypeMismatch}},
		{name: "list without session_token, no token", accepts: []string{"api_key", "m2m_token"},
			want: want{status: 401, reason: wire.ReasonTokenTypeMismatch}},
		{name: "session token under any", accepts: []string{"any"}, auth: "Bearer " + session,
			want: want{status: 200, headers: map[string]string{wire.HeaderTokenType: "session_token", wire.HeaderUserID: "user_1", wire.HeaderSessionID: "sess_1"},
				placeholders: map[string]string{"http.auth.clerk.token_type": "session_token", "http.auth.user.id": "user_1"}}},
		{name: "API key in a session list", accepts: []string{"session_token", "api_key"}, auth: "Bearer " + akUser,
			want: want{status: 200, headers: map[string]string{wire.HeaderTokenType: "api_key", wire.HeaderSessionID: ""}}},
		{name: "session route refuses an M2M JWT", accepts: nil, auth: "Bearer " + m2mJWT,
			want: want{status: 401, reason: wire.ReasonTokenTypeMismatch}},
		{name: "session route refuses an API key without a call", accepts: nil, auth: "Bearer " + akUser,
			want: want{status: 401, reason: wire.ReasonTokenInvalid}},
		{name: "scope rule lets in", accepts: []string{"api_key"}, edit: func(h *Handler) { h.Require = []Rule{{Kind: "scope", Values: []string{"orders:read"}}} },
			auth: "Bearer " + akUser, want: want{status: 200}},
		{name: "scope rule refuses", accepts: []string{"api_key"}, edit: func(h *Handler) { h.Require = []Rule{{Kind: "scope", Values: []string{"orders:write"}}} },
			auth: "Bearer " + akUser, want: want{status: 403, reason: wire.ReasonMissingScope}},
		{name: "machine rule lets in", accepts: []string{"m2m_token"}, edit: func(h *Handler) { h.Require = []Rule{{Kind: "machine", Values: []string{"mch_9", "mch_1"}}} },
			auth: "Bearer " + mtValid, want: want{status: 200}},
		{name: "machine rule refuses", accepts: []string{"m2m_token"}, edit: func(h *Handler) { h.Require = []Rule{{Kind: "machine", Values: []string{"mch_9"}}} },
			auth: "Bearer " + mtValid, want: want{status: 403, reason: wire.ReasonMachineNotAllowed}},
		{name: "role rule refuses an API key", accepts: []string{"session_token", "api_key"}, edit: func(h *Handler) { h.Require = []Rule{{Kind: "role", Values: []string{"admin"}}} },
			auth: "Bearer " + akUser, want: want{status: 403, reason: wire.ReasonMissingRole}},
		{name: "scope rule refuses a session", accepts: []string{"any"}, edit: func(h *Handler) { h.Require = []Rule{{Kind: "scope", Values: []string{"orders:read"}}} },
			auth: "Bearer " + session, want: want{status: 403, reason: wire.ReasonMissingScope}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			edits := []func(*Handler){}
			if tc.edit != nil {
				edits = append(edits, tc.edit)
			}
			h := machineHandler(t, api, tc.accepts, edits...)
			headers := append([]string{}, tc.extra...)
			if tc.auth != "" {
				headers = append(headers, "Authorization", tc.auth)
			}
			out := serve(h, newRequest(http.MethodGet, testOrigin+"/api/orders", headers...))
			if out.status() != tc.want.status {
				t.Fatalf("status %d, want %d (reason %q, message %q)", out.status(), tc.want.status, out.rec.Header().Get(wire.HeaderAuthReason), out.rec.Header().Get(wire.HeaderAuthMessage))
			}
			if got := out.rec.Header().Get(wire.HeaderAuthReason); got != tc.want.reason {
				t.Errorf("reason %q, want %q", got, tc.want.reason)
			}
			if tc.want.message != "" && out.rec.Header().Get(wire.HeaderAuthMessage) != tc.want.message {
				t.Errorf("message %q, want %q", out.rec.Header().Get(wire.HeaderAuthMessage), tc.want.message)
			}
			if loc := out.rec.Header().Get("Location"); loc != "" {
				t.Errorf("redirected to %q", loc)
			}
			if tc.want.status == 401 && !strings.Contains(out.rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q", out.rec.Header().Get("WWW-Authenticate"))
			}
			for name, v := range tc.want.headers {
				var got string
				if out.upstream != nil {
					got = strings.Join(out.upstream.Header.Values(name), "|")
				}
				if got != v {
					t.Errorf("upstream %s: %q, want %q", name, got, v)
				}
			}
			for key, v := range tc.want.placeholders {
				if got, _ := out.repl.GetString(key); got != v {
					t.Errorf("{%s} = %q, want %q", key, got, v)
				}
			}
		})
	}
}

// TestMachineCacheAndRevocation: many requests with one token make one
// Backend API call; concurrent requests share it; a revocation takes
// effect when the TTL runs out; machine_cache_ttl 0 is one call per
// request; a rejected token is asked about once per negative TTL.
func TestMachineCacheAndRevocation(t *testing.T) {
	api := newFakeMachineAPI(t)
	now := testNow
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	h := machineHandler(t, api, []string{"api_key", "m2m_token"})
	h.now = clock
	get := func(tok string) int {
		return serve(h, newRequest(http.MethodGet, testOrigin+"/api", "Authorization", "Bearer "+tok)).status()
	}
	for range 50 {
		if st := get(akUser); st != 200 {
			t.Fatalf("status %d", st)
		}
	}
	if n := api.n(akUser); n != 1 {
		t.Errorf("50 requests made %d calls, want 1", n)
	}

	api.delay.Store(int64(100 * time.Millisecond))
	var wg sync.WaitGroup
	var ok atomic.Int32
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if get(mtValid) == 200 {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	api.delay.Store(0)
	if n := api.n(mtValid); n != 1 || ok.Load() != 20 {
		t.Errorf("20 concurrent requests: %d calls, %d signed in; want 1 and 20", n, ok.Load())
	}

	api.revoke(akUser)
	advance(machine.DefaultTTL - time.Second)
	if st := get(akUser); st != 200 {
		t.Errorf("within the TTL a revoked key is still answered from memory: %d", st)
	}
	advance(2 * time.Second)
	if st := get(akUser); st != 401 {
		t.Errorf("after the TTL the revoked key: %d, want 401", st)
	}

	for range 5 {
		get(akUnknown)
	}
	if n := api.n(akUnknown); n != 1 {
		t.Errorf("an unknown key asked about %d times within the negative TTL, want 1", n)
	}
	advance(machine.DefaultNegativeTTL)
	get(akUnknown)
	if n := api.n(akUnknown); n != 2 {
		t.Errorf("after the negative TTL: %d calls, want 2", n)
	}

	zero := caddy.Duration(0)
	clerkLike := machineHandler(t, api, []string{"api_key"}, func(h *Handler) { h.MachineCacheTTL = &zero })
	before := api.n(akOrg)
	for range 3 {
		serve(clerkLike, newRequest(http.MethodGet, testOrigin+"/api", "Authorization", "Bearer "+akOrg))
	}
	if n := api.n(akOrg) - before; n != 3 {
		t.Errorf("machine_cache_ttl 0: %d calls for 3 requests, want 3", n)
	}
}

// TestMachineBackendAPITrouble: 429, 5xx and a hung Backend API deny with
// unexpected-error as 503 with Retry-After, are never cached as success, a
// 401 is secret-key-invalid, a flood of random tokens is held to the call
// budget, and the M2M call carries the machine secret key.
func TestMachineBackendAPITrouble(t *testing.T) {
	api := newFakeMachineAPI(t)
	h := machineHandler(t, api, []string{"api_key"})
	get := func(ctx context.Context, tok string) served {
		r := newRequest(http.MethodGet, testOrigin+"/api", "Authorization", "Bearer "+tok)
		return serve(h, r.WithContext(ctx))
	}
	for _, st := range []int{429, 500, 503} {
		api.status.Store(int32(st))
		out := get(context.Background(), akUser)
		if out.status() != 503 || out.rec.Header().Get(wire.HeaderAuthReason) != machine.CodeUnexpectedError || out.rec.Header().Get("Retry-After") == "" {
			t.Errorf("Backend API %d: status %d reason %q Retry-After %q", st, out.status(), out.rec.Header().Get(wire.HeaderAuthReason), out.rec.Header().Get("Retry-After"))
		}
	}
	api.status.Store(401)
	if out := get(context.Background(), akUser); out.status() != 401 || out.rec.Header().Get(wire.HeaderAuthReason) != machine.CodeSecretKeyInvalid {
		t.Errorf("Backend API 401: status %d reason %q", out.status(), out.rec.Header().Get(wire.HeaderAuthReason))
	}
	// A 400 is about the token, not the moment: Clerk's unexpected-error,
	// but 401, as a refused token (and no Retry-After).
	api.status.Store(400)
	if out := get(context.Background(), akMachine); out.status() != 401 || out.rec.Header().Get(wire.HeaderAuthReason) != machine.CodeUnexpectedError || out.rec.Header().Get("Retry-After") != "" {
		t.Errorf("Backend API 400: status %d reason %q", out.status(), out.rec.Header().Get(wire.HeaderAuthReason))
	}
	api.status.Store(0)
	if out := get(context.Background(), akUser); out.status() != 200 {
		t.Errorf("once the Backend API answers again: %d (a failure was cached)", out.status())
	}

	api.delay.Store(int64(5 * time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	start := time.Now()
	out := get(ctx, akOrg)
	cancel()
	api.delay.Store(0)
	if out.status() != 503 || time.Since(start) > 2*time.Second {
		t.Errorf("hung Backend API: status %d after %v", out.status(), time.Since(start))
	}

	before := api.total()
	for i := range 400 {
		get(context.Background(), fmt.Sprintf("ak_flood_%032d", i))
	}
	if calls := api.total() - before; calls > machine.DefaultBurst+20 {
		t.Errorf("400 random keys made %d Backend API calls, want at most the burst (%d) and what refills", calls, machine.DefaultBurst)
	}
	slow := machineHandler(t, api, []string{"api_key"}, func(h *Handler) { h.MachineCallRate = 5 })
	before = api.total()
	for i := range 100 {
		serve(slow, newRequest(http.MethodGet, testOrigin+"/api", "Authorization", fmt.Sprintf("Bearer ak_slow_%032d", i)))
	}
	if calls := api.total() - before; calls < 10 || calls > 12 {
		t.Errorf("machine_call_rate 5: %d calls for 100 random keys, want the burst of 10 (and what refills)", calls)
	}

	m2m := machineHandler(t, api, []string{"m2m_token"}, func(h *Handler) { h.MachineSecretKey = testMSK })
	serve(m2m, newRequest(http.MethodGet, testOrigin+"/api", "Authorization", "Bearer "+mtValid))
	api.mu.Lock()
	auth := api.auth["/m2m_tokens/verify"]
	api.mu.Unlock()
	if auth != "Bearer "+testMSK {
		t.Errorf("the M2M call was authorized with %q, want the machine secret key", strings.TrimPrefix(auth, "Bearer ")[:6]+"…")
	}
}

// TestMachineNoSecretsLogged: no token, secret key or machine secret key in
// any log line, whatever the outcome.
func TestMachineNoSecretsLogged(t *testing.T) {
	api := newFakeMachineAPI(t)
	h := machineHandler(t, api, []string{"any"})
	h2 := machineHandler(t, api, []string{"m2m_token"}, func(h *Handler) { h.MachineSecretKey = testMSK })
	for _, hh := range []*Handler{h, h2} {
		logs := observeLogs(hh)
		for _, st := range []int32{0, 401, 500} {
			api.status.Store(st)
			for _, tok := range []string{akUser, akUnknown, akRevoked, mtValid, oatValid, oatGone, "ak_" + strings.Repeat("z", 40)} {
				r := newRequest(http.MethodGet, testOrigin+"/api", "Authorization", "Bearer "+tok)
				serve(hh, r)
				requireNoSecretsLogged(t, logs, hh, r)
			}
		}
		api.status.Store(0)
		for _, e := range logs.All() {
			if text := e.Message + fmt.Sprint(e.ContextMap()); strings.Contains(text, testMSK) {
				t.Errorf("the machine secret key is in a log line: %q", e.Message)
			}
		}
	}
}

// TestMachineMetrics: Backend API calls by kind and result, cache lookups
// by kind and result.
func TestMachineMetrics(t *testing.T) {
	api := newFakeMachineAPI(t)
	h := machineHandler(t, api, []string{"api_key"})
	count := func(vec string, kind, result string) float64 {
		if vec == "call" {
			return testutil.ToFloat64(clerkMetrics.machineCalls.WithLabelValues(kind, result))
		}
		return testutil.ToFloat64(clerkMetrics.machineCache.WithLabelValues(kind, result))
	}
	okBefore, nfBefore := count("call", "api_key", "ok"), count("call", "api_key", "token-invalid")
	hitBefore, missBefore, negBefore := count("cache", "api_key", "hit"), count("cache", "api_key", "miss"), count("cache", "api_key", "negative_hit")
	for _, tok := range []string{akUser, akUser, akUser, akUnknown, akUnknown} {
		serve(h, newRequest(http.MethodGet, testOrigin+"/api", "Authorization", "Bearer "+tok))
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"calls ok", count("call", "api_key", "ok") - okBefore, 1},
		{"calls token-invalid", count("call", "api_key", "token-invalid") - nfBefore, 1},
		{"hits", count("cache", "api_key", "hit") - hitBefore, 2},
		{"misses", count("cache", "api_key", "miss") - missBefore, 2},
		{"negative hits", count("cache", "api_key", "negative_hit") - negBefore, 1},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestMachineConfigErrors: every misconfiguration fails at provisioning or
// at Caddyfile parsing, naming the subdirective.
func TestMachineConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    Handler
		want string
	}{
		{"unknown type", Handler{AcceptsToken: []string{"api_keys"}}, "accepts_token"},
		{"empty list", Handler{AcceptsToken: []string{}, SecretKey: "sk_test_x"}, "accepts_token: no token type given"},
		{"negative call rate", Handler{AcceptsToken: []string{"api_key"}, SecretKey: "sk_test_x", MachineCallRate: -1}, "machine_call_rate"},
		{"any with others", Handler{AcceptsToken: []string{"any", "api_key"}}, "accepts_token"},
		{"api_key without secret_key", Handler{AcceptsToken: []string{"api_key"}, PublishableKey: testPK}, "accepts_token api_key: needs secret_key"},
		{"oauth without secret_key", Handler{AcceptsToken: []string{"oauth_token"}, PublishableKey: testPK}, "accepts_token oauth_token: needs secret_key"},
		{"list without secret_key", Handler{AcceptsToken: []string{"session_token", "m2m_token"}, PublishableKey: testPK, MachineSecretKey: testMSK}, "needs secret_key"},
		{"m2m without any key", Handler{AcceptsToken: []string{"m2m_token"}, PublishableKey: testPK}, "needs machine_secret_key or secret_key"},
		{"machine key without m2m", Handler{AcceptsToken: []string{"api_key"}, SecretKey: "sk_test_x", MachineSecretKey: testMSK}, "machine_secret_key"},
		{"instance key as machine key", Handler{AcceptsToken: []string{"m2m_token"}, MachineSecretKey: "sk_test_x"}, "machine_secret_key: not a machine secret key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			err := h.Provision(testContext())
			if err == nil {
				_ = h.Cleanup()
				t.Fatal("provisioned")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %q", err, tc.want)
			}
			if strings.Contains(err.Error(), testMSK) || strings.Contains(err.Error(), "sk_test_x") {
				t.Errorf("the error shows a key: %q", err)
			}
		})
	}
	// An M2M-only route with only a machine secret key provisions (Clerk's
	// machineSecretKey without secretKey), and refuses an M2M JWT as Clerk
	// does without keys.
	api := newFakeMachineAPI(t)
	h := &Handler{AcceptsToken: []string{"m2m_token"}, MachineSecretKey: testMSK, APIURL: api.URL}
	provision(t, h)
	h.now = func() time.Time { return testNow }
	if out := serve(h, newRequest(http.MethodGet, testOrigin+"/api", "Authorization", "Bearer "+mtValid)); out.status() != 200 {
		t.Errorf("opaque M2M with the machine secret key alone: %d", out.status())
	}
	jwtTok := machineJWT(t, map[string]any{"cat": machine.JWTCategoryM2M}, map[string]any{"sub": "mch_1"})
	out := serve(h, newRequest(http.MethodGet, testOrigin+"/api", "Authorization", "Bearer "+jwtTok))
	if out.status() != 401 || out.rec.Header().Get(wire.HeaderAuthMessage) != "Failed to resolve JWK during verification. (code=token-verification-failed, status=n/a)" {
		t.Errorf("M2M JWT without keys: %d %q", out.status(), out.rec.Header().Get(wire.HeaderAuthMessage))
	}
}

// TestMachineJWTRemembered: a verified M2M JWT is answered from memory
// (no second decode or signature check: a key set that stops holding its
// key is asked again and the token refused), never past its exp.
func TestMachineJWTRemembered(t *testing.T) {
	api := newFakeMachineAPI(t)
	h := machineHandler(t, api, []string{"m2m_token"})
	tok := machineJWT(t, map[string]any{"cat": machine.JWTCategoryM2M}, map[string]any{"sub": "mch_1", "exp": testNow.Unix() + 20})
	get := func() int {
		return serve(h, newRequest(http.MethodGet, testOrigin+"/api", "Authorization", "Bearer "+tok)).status()
	}
	if st := get(); st != 200 {
		t.Fatalf("first: %d", st)
	}
	if _, _, ok := h.machine.LookupJWT(tok); !ok {
		t.Fatal("the verified JWT is not remembered")
	}
	hits := testutil.ToFloat64(clerkMetrics.machineCache.WithLabelValues("m2m_token", "hit"))
	if st := get(); st != 200 || testutil.ToFloat64(clerkMetrics.machineCache.WithLabelValues("m2m_token", "hit"))-hits != 1 {
		t.Errorf("second: %d, not a cache hit", st)
	}
	_, b := testkit.Keys(t)
	h.useKeys(keys.Static{Key: keys.NewKey("ins_b", "RS256", &b.PublicKey, "test")}) // the instance key left the set
	if st := get(); st != 401 {
		t.Errorf("after the key left the set: %d, want 401", st)
	}
	h2 := machineHandler(t, api, []string{"m2m_token"})
	h2.now = func() time.Time { return testNow.Add(30 * time.Second) }
	if st := serve(h2, newRequest(http.MethodGet, testOrigin+"/api", "Authorization", "Bearer "+tok)).status(); st != 401 {
		t.Errorf("past exp + skew: %d", st)
	}
}

// TestMachineThroughCaddy runs a Caddyfile with accepts_token in real
// Caddy in front of an upstream, with a JSON access log: the upstream sees
// the machine token's headers and none the client sent, the access log's
// user_id names the principal, and the refusals answer as documented.
func TestMachineThroughCaddy(t *testing.T) {
	api := newFakeMachineAPI(t)
	up := newRecordingUpstream(t)
	port := testkit.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	logFile := t.TempDir() + "/access.log"
	runCaddy(t, fmt.Sprintf(`{
	admin off
	auto_https off
}
http://127.0.0.1:%d {
	log {
		output file %s
		format json
	}
	route /api/* {
		clerk_auth {
			publishable_key %s
			secret_key sk_test_machine_through_caddy
			api_url %s
			accepts_token api_key m2m_token
			require scope orders:read mch_2
		}
		header >X-Principal {http.auth.user.id}
		header >X-Token-Type {http.auth.clerk.token_type}
		reverse_proxy %s
	}
}`, port, logFile, testPK, api.URL, strings.TrimPrefix(up.URL, "http://")))

	resp := get(t, base+"/api/orders", "Authorization", "Bearer "+akOrg, wire.HeaderUserID, "user_forged")
	if resp.StatusCode != 200 || resp.Header.Get("X-Principal") != "org_1" || resp.Header.Get("X-Token-Type") != "api_key" {
		t.Fatalf("org API key: %d, principal %q, type %q", resp.StatusCode, resp.Header.Get("X-Principal"), resp.Header.Get("X-Token-Type"))
	}
	up.mu.Lock()
	seen := up.last
	up.mu.Unlock()
	if seen.Get(wire.HeaderUserID) != "" || seen.Get(wire.HeaderOrgID) != "org_1" || seen.Get(wire.HeaderTokenType) != "api_key" {
		t.Errorf("upstream headers: user %q, org %q, type %q", seen.Get(wire.HeaderUserID), seen.Get(wire.HeaderOrgID), seen.Get(wire.HeaderTokenType))
	}
	if resp := get(t, base+"/api/orders", "Authorization", "Bearer "+mtValid); resp.StatusCode != 200 || resp.Header.Get("X-Principal") != "mch_1" {
		t.Errorf("M2M token: %d, principal %q", resp.StatusCode, resp.Header.Get("X-Principal"))
	}
	if resp := get(t, base+"/api/orders", "Accept", "text/html"); resp.StatusCode != 401 || resp.Header.Get(wire.HeaderAuthReason) != wire.ReasonTokenTypeMismatch || resp.Header.Get("Location") != "" {
		t.Errorf("no token: %d %q %q", resp.StatusCode, resp.Header.Get(wire.HeaderAuthReason), resp.Header.Get("Location"))
	}
	api.status.Store(500)
	if resp := get(t, base+"/api/orders", "Authorization", "Bearer "+akUser); resp.StatusCode != 503 || resp.Header.Get("Retry-After") != machineRetryAfter {
		t.Errorf("Backend API down: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	api.status.Store(0)

	stopCaddy() // flushes the log
	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var users []string
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var entry struct {
			UserID string `json:"user_id"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.UserID != "" {
			users = append(users, entry.UserID)
		}
		for _, tok := range []string{akOrg, mtValid, akUser} {
			if strings.Contains(line, tok) {
				t.Errorf("the access log holds a token: %s…", tok[:8])
			}
		}
	}
	if strings.Join(users, ",") != "org_1,mch_1" {
		t.Errorf("access log user_id values %q, want org_1,mch_1", users)
	}
}

// TestMachineDiagnose: clerk-diagnose on a route that takes API keys names
// the token kind, its subject and scopes, and a rule that refuses it.
func TestMachineDiagnose(t *testing.T) {
	api := newFakeMachineAPI(t)
	caddyfile := filepath.Join(t.TempDir(), "Caddyfile")
	_ = os.WriteFile(caddyfile, []byte(`app.example.com {
	clerk_auth {
		secret_key sk_test_diagnose
		api_url `+api.URL+`
		accepts_token api_key
		require scope orders:read
	}
	respond "app"
}
`), 0o644)
	base := []string{"--config", caddyfile, "--url", "https://app.example.com/api"}
	out, err := runDiagnoseCommand(t, append(base, "--authorization", "Bearer "+akUser)...)
	if err != nil || !strings.Contains(out, "decision:  signed-in") || !strings.Contains(out, `machine:   api_key ak_id_1 (subject user_1, scopes "orders:read")`) {
		t.Errorf("API key: err %v, output:\n%s", err, out)
	}
	if strings.Contains(out, akUser) {
		t.Error("the output shows the API key")
	}
	out, err = runDiagnoseCommand(t, append(base, "--authorization", "Bearer "+akUnknown)...)
	if diagnoseExitCodeOf(err) != diagnoseExitSignedOut || !strings.Contains(out, "reason:    token-invalid") {
		t.Errorf("unknown key: err %v, output:\n%s", err, out)
	}
}
