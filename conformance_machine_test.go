package clerkauth

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/clerk-edge/clerk_auth/internal/authn"
	"github.com/clerk-edge/clerk_auth/internal/machine"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"go.uber.org/zap"
)

// The machine conformance suite runs Clerk's own authenticateRequest with
// acceptsToken (@clerk/backend, pinned in conformance/package-lock.json,
// driven by conformance/machine_authenticate.mjs) and this handler's decide
// on the same generated requests: API keys, M2M tokens and OAuth access
// tokens, opaque and JWT, under every acceptsToken form, on every carrier.
// Both sides verify opaque tokens at one fake Backend API on loopback,
// which answers in the Backend API's wire format and records every call,
// so that the calls are compared too (endpoint, key, body). Any difference
// in status, reason, message, tokenType, identity or calls fails the test
// unless machineDeliberate below names it.

const (
	mcMachineKey    = "ak_machinesecret_conformance" // a machine secret key the fake knows
	mcBadMachineKey = "ak_machinesecret_revoked"     // one it refuses (401)
	mcBadSecretKey  = "sk_test_wrong_conformance"    // an instance secret key it refuses (401)
	mcAudience      = "https://api.example.com"
	mcOrigin        = testOrigin
	mcPath          = "/api/data"
)

// mcCase is one generated request with its configuration, given alike to
// both sides. tags say what the generator put in it, for machineDeliberate.
type mcCase struct {
	name             string
	accepts          []string // accepts_token; one value is Clerk's string, several its array
	secretKey        string
	machineSecretKey string
	jwks             bool // verify JWTs with the Backend API JWKS (secret key) instead of jwt_key
	noPublishableKey bool
	apiURL           string // "": the case's own base at the fake Backend API
	audience         []string
	method, target   string
	headers          [][2]string
	tags             map[string]bool
}

// mcIdentity is what a signed-in state says of the caller: toAuth()'s
// fields for a machine token, userId and sessionId for a session.
type mcIdentity struct {
	ID, Subject, UserID, OrgID, MachineID, ClientID, Name, SessionID string
	Scopes, Claims                                                   any
}

// mcOutcome is one side's decision on a case.
type mcOutcome struct {
	status, reason, message, tokenType string
	authenticated                      bool
	identity                           *mcIdentity // signed in only
	threw                              string      // Clerk: authenticateRequest or toAuth() threw
	calls                              []mcCall    // verify calls at the fake Backend API
}

func (o mcOutcome) String() string {
	s := o.status
	if o.reason != "" {
		s += " " + strconv.Quote(o.reason)
	}
	if o.message != "" {
		s += " msg=" + strconv.Quote(o.message)
	}
	s += " tokenType=" + strconv.Quote(o.tokenType)
	if o.identity != nil {
		s += fmt.Sprintf(" identity=%+v", *o.identity)
	}
	if o.threw != "" {
		s += " threw=" + strconv.Quote(o.threw)
	}
	s += fmt.Sprintf(" calls=%d", len(o.calls))
	for _, c := range o.calls {
		s += " " + c.Path
	}
	return s
}

// mcDeliberate is a deliberate difference: ours is stricter than Clerk's.
type mcDeliberate struct {
	name     string
	expected func(c *mcCase, clerk, ours mcOutcome) bool
}

// signedOutAs is a signed-out state of the same tokenType as Clerk's, with
// reason.
func signedOutAs(clerk, ours mcOutcome, reason string) bool {
	return ours.status == wire.StatusSignedOut && ours.reason == reason && ours.tokenType == clerk.tokenType
}

var machineDeliberate = []mcDeliberate{
	{"2xx-revoked-expired-inactive", func(c *mcCase, clerk, ours mcOutcome) bool {
		// Clerk's verifyAPIKey, verifyM2MToken and verifyOAuthToken
		// (src/tokens/verify.ts) sign in on any 2xx; we read revoked,
		// expired, expiration and active (internal/machine ParseResult).
		return c.tags["bapi-2xx-denied"] && clerk.status == wire.StatusSignedIn &&
			signedOutAs(clerk, ours, machine.CodeTokenInvalid) && sameCalls(clerk.calls, ours.calls) == ""
	}},
	{"2xx-unreadable", func(c *mcCase, clerk, ours mcOutcome) bool {
		// A 2xx that is not the kind's resource: Clerk signs in with
		// whatever the Deserializer passed through (src/api/resources/
		// Deserializer.ts), and toAuth() may throw on it; or it throws
		// reading it, which handleClerkAPIError (src/tokens/verify.ts)
		// maps to unexpected-error without a status. We refuse it as
		// unexpected-error with the answer's status.
		clerkTookIt := clerk.status == wire.StatusSignedIn || clerk.status == "error" ||
			(clerk.status == wire.StatusSignedOut && clerk.reason == machine.CodeUnexpectedError)
		return c.tags["bapi-2xx-unreadable"] && clerkTookIt &&
			signedOutAs(clerk, ours, machine.CodeUnexpectedError) && sameCalls(clerk.calls, ours.calls) == ""
	}},
	{"json-content-type-parameters", func(c *mcCase, clerk, ours mcOutcome) bool {
		// Clerk parses an answer as JSON only when its Content-Type is
		// exactly application/json (src/api/request.ts); with a charset
		// parameter the body is a string, which the Deserializer passes
		// through: signed in with no identity, and toAuth() throws. We read
		// the JSON whatever the parameters, and sign in with its identity.
		return c.tags["bapi-json-params"] && (clerk.status == wire.StatusSignedIn || clerk.status == "error") &&
			ours.status == wire.StatusSignedIn && ours.identity != nil && sameCalls(clerk.calls, ours.calls) == ""
	}},
	{"key-set-messages-fixed", func(c *mcCase, clerk, ours mcOutcome) bool {
		// A key-set failure's message is fixed text here
		// (internal/keys): Clerk's names the token's kid and the kids
		// the set holds (src/tokens/keys.ts), or repeats the Backend
		// API's text, and the message is a response header.
		return c.tags["key-set-message"] && clerk.status == ours.status && clerk.reason == ours.reason &&
			clerk.tokenType == ours.tokenType && clerk.message != ours.message
	}},
	{"null-payload-refused", func(c *mcCase, clerk, ours mcOutcome) bool {
		// An OAuth JWT whose payload is JSON null: Clerk's
		// verifyMachineAuthToken (src/tokens/verify.ts) throws reading
		// its sub; we refuse it as an undecodable token.
		return c.tags["null-payload"] && clerk.threw != "" && ours.status == wire.StatusSignedOut && ours.reason == machine.CodeTokenInvalid
	}},
	{"token-not-printable-ascii", func(c *mcCase, clerk, ours mcOutcome) bool {
		// Clerk sends any header token to the Backend API (unknown: 404,
		// token-invalid); we refuse bytes outside printable ASCII without
		// a call (internal/authn machine.go authenticateMachine).
		return c.tags["not-ascii"] && len(ours.calls) == 0 && len(clerk.calls) == 1 &&
			clerk.reason == machine.CodeTokenInvalid && signedOutAs(clerk, ours, machine.CodeTokenInvalid)
	}},
}

func TestMachineConformanceWithClerkBackend(t *testing.T) {
	ensureConformanceRunner(t)
	a, b := testkit.Keys(t)
	bapi := newMachineFakeBAPI(a)
	defer bapi.Close()

	g := &mcGenerator{t: t, bapi: bapi, a: a, b: b}
	cases := g.generate()
	clerk := runMachineClerk(t, bapi, cases)

	agreed := 0
	seen := map[string]int{}
	var failures []string
	for i, c := range cases {
		ours := runMachineOurs(t, bapi, c, i)
		ref := clerk[i]
		ref.calls = bapi.callsOf("node", i)
		diff := compareMachine(ref, ours)
		if diff == "" {
			agreed++
			continue
		}
		if name := matchMachineDeliberate(c, ref, ours); name != "" {
			seen[name]++
			continue
		}
		failures = append(failures, fmt.Sprintf("%s [accepts %v, %s]\n    clerk: %s\n    ours:  %s\n    diff:  %s",
			c.name, c.accepts, shortHeaders(c.headers), ref, ours, diff))
	}
	for _, f := range failures {
		t.Error(f)
	}
	var names []string
	for _, d := range machineDeliberate {
		if seen[d.name] == 0 {
			t.Errorf("deliberate difference %q never occurred: the table or the generator is stale", d.name)
		}
		names = append(names, fmt.Sprintf("%s=%d", d.name, seen[d.name]))
	}
	byOutcome := map[string]int{}
	for _, o := range clerk {
		k := o.status + " " + o.reason
		if o.tokenType != "" {
			k += " (" + o.tokenType + ")"
		}
		byOutcome[strings.TrimSpace(k)]++
	}
	var outcomes []string
	for k, n := range byOutcome {
		outcomes = append(outcomes, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(outcomes)
	t.Logf("Clerk's outcomes: %s", strings.Join(outcomes, ", "))
	t.Logf("machine conformance with @clerk/backend: %d cases, %d equal, %d deliberate (%s), %d unexplained",
		len(cases), agreed, len(cases)-agreed-len(failures), strings.Join(names, " "), len(failures))
}

// shortHeaders shows a case's headers with long values (tokens) cut.
func shortHeaders(h [][2]string) string {
	var parts []string
	for _, kv := range h {
		v := kv[1]
		if len(v) > 48 {
			v = v[:40] + "…(" + strconv.Itoa(len(kv[1])) + ")"
		}
		parts = append(parts, kv[0]+": "+strconv.Quote(v))
	}
	return strings.Join(parts, ", ")
}

func matchMachineDeliberate(c *mcCase, clerk, ours mcOutcome) string {
	for _, d := range machineDeliberate {
		if d.expected(c, clerk, ours) {
			return d.name
		}
	}
	return ""
}

// compareMachine returns "" when both sides decided alike and made the same
// verify calls.
func compareMachine(clerk, ours mcOutcome) string {
	var diffs []string
	if clerk.status != ours.status {
		diffs = append(diffs, "status")
	}
	if clerk.reason != ours.reason {
		diffs = append(diffs, "reason")
	}
	// Messages are compared on the machine paths (Clerk's
	// MachineTokenVerificationError getFullMessage, src/errors.ts). The
	// session paths' messages (tokenType session_token, reached under any
	// or a list with session_token) are outside the session conformance
	// contract too: conformance_test.go compares their status and reason.
	if clerk.message != ours.message && clerk.tokenType != string(machine.SessionToken) {
		diffs = append(diffs, "message")
	}
	if clerk.tokenType != ours.tokenType {
		diffs = append(diffs, "tokenType")
	}
	if clerk.authenticated != ours.authenticated {
		diffs = append(diffs, "isAuthenticated")
	}
	if clerk.threw != "" {
		diffs = append(diffs, "clerk threw")
	}
	if (clerk.identity == nil) != (ours.identity == nil) {
		diffs = append(diffs, "identity on one side only")
	} else if clerk.identity != nil && !reflect.DeepEqual(*clerk.identity, *ours.identity) {
		diffs = append(diffs, "identity")
	}
	if d := sameCalls(clerk.calls, ours.calls); d != "" {
		diffs = append(diffs, d)
	}
	return strings.Join(diffs, ", ")
}

// sameCalls compares the verify calls of both sides: endpoint, key, body,
// Content-Type and Clerk-API-Version (the User-Agent is each side's own).
func sameCalls(clerk, ours []mcCall) string {
	if len(clerk) != len(ours) {
		return fmt.Sprintf("calls: %d vs %d", len(clerk), len(ours))
	}
	for i := range clerk {
		c, o := clerk[i], ours[i]
		switch {
		case c.Path != o.Path:
			return fmt.Sprintf("call %d path %s vs %s", i, c.Path, o.Path)
		case c.Method != o.Method:
			return fmt.Sprintf("call %d method %s vs %s", i, c.Method, o.Method)
		case c.Auth != o.Auth:
			// Keys are test values; name which one each side used.
			return fmt.Sprintf("call %d key %s vs %s", i, keyName(c.Auth), keyName(o.Auth))
		case c.Body != o.Body:
			return fmt.Sprintf("call %d body %q vs %q", i, c.Body, o.Body)
		case c.ContentType != o.ContentType:
			return fmt.Sprintf("call %d content-type %q vs %q", i, c.ContentType, o.ContentType)
		case c.APIVersion != o.APIVersion:
			return fmt.Sprintf("call %d Clerk-API-Version %q vs %q", i, c.APIVersion, o.APIVersion)
		}
	}
	return ""
}

func keyName(auth string) string {
	switch auth {
	case "Bearer " + confSecretKey:
		return "secret_key"
	case "Bearer " + mcBadSecretKey:
		return "bad secret_key"
	case "Bearer " + mcMachineKey:
		return "machine_secret_key"
	case "Bearer " + mcBadMachineKey:
		return "bad machine_secret_key"
	case "":
		return "none"
	}
	return "other"
}

// ---------------------------------------------------------------------------
// The fake Backend API.
// ---------------------------------------------------------------------------

// mcCall is one call at the fake Backend API.
type mcCall struct {
	Method, Path, Auth, Body, ContentType, APIVersion string
}

// mcAnswer is the fake's answer to a verify call for one token.
type mcAnswer struct {
	status      int
	contentType string // "" is application/json
	body        string
	retryAfter  string
}

// machineFakeBAPI serves both sides, each case under its own base
// (/{side}/{case}/, the api_url of that case): POST /api_keys/verify,
// /m2m_tokens/verify and /oauth_applications/access_tokens/verify as the
// Backend API (src/api/endpoints APIKeysApi, M2MTokenApi,
// IdPOAuthAccessTokenApi: JSON body, Bearer key) with the answers the
// generator registered per token (404 {"errors":[…]} for others, 401
// clerk_key_invalid for a key it does not know), and GET /v1/jwks with
// the instance key. Every call is recorded by side and case.
type machineFakeBAPI struct {
	*httptest.Server
	jwks    []byte
	answers map[string]mcAnswer // by token; written before the runs

	mu    sync.Mutex
	calls map[string][]mcCall // side/case → verify calls
	jwksN map[string]int      // side/case → JWKS fetches
}

var mcVerifyField = map[string]string{
	"/api_keys/verify":                         "secret",
	"/m2m_tokens/verify":                       "token",
	"/oauth_applications/access_tokens/verify": "access_token",
}

func newMachineFakeBAPI(instanceKey *rsa.PrivateKey) *machineFakeBAPI {
	f := &machineFakeBAPI{
		jwks:    testkit.JWKS(map[string]*rsa.PublicKey{"ins_a": &instanceKey.PublicKey}),
		answers: map[string]mcAnswer{},
		calls:   map[string][]mcCall{},
		jwksN:   map[string]int{},
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

func (f *machineFakeBAPI) base(side string, i int) string {
	return f.URL + "/" + side + "/" + strconv.Itoa(i)
}

func (f *machineFakeBAPI) callsOf(side string, i int) []mcCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]mcCall(nil), f.calls[side+"/"+strconv.Itoa(i)]...)
}

func mcErrors(code, message string) string {
	b, _ := json.Marshal(map[string]any{"errors": []map[string]string{{"code": code, "message": message, "long_message": message}}})
	return string(b)
}

func (f *machineFakeBAPI) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 3)
	if len(parts) < 3 {
		http.NotFound(w, r)
		return
	}
	key, path := parts[0]+"/"+parts[1], "/"+parts[2]
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	auth := r.Header.Get("Authorization")
	answer := func(a mcAnswer) {
		ct := a.contentType
		if ct == "" {
			ct = "application/json"
		}
		w.Header().Set("Content-Type", ct)
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}
	keyInvalid := mcAnswer{status: 401, body: mcErrors("clerk_key_invalid", "The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct.")}

	if path == "/v1/jwks" && r.Method == http.MethodGet {
		f.mu.Lock()
		f.jwksN[key]++
		f.mu.Unlock()
		if auth != "Bearer "+confSecretKey {
			answer(keyInvalid)
			return
		}
		answer(mcAnswer{status: 200, body: string(f.jwks)})
		return
	}
	field, ok := mcVerifyField[path]
	f.mu.Lock()
	f.calls[key] = append(f.calls[key], mcCall{Method: r.Method, Path: path, Auth: auth, Body: string(body),
		ContentType: r.Header.Get("Content-Type"), APIVersion: r.Header.Get("Clerk-API-Version")})
	f.mu.Unlock()
	if !ok || r.Method != http.MethodPost {
		answer(mcAnswer{status: 404, body: mcErrors("resource_not_found", "not found")})
		return
	}
	known := auth == "Bearer "+confSecretKey || (path == "/m2m_tokens/verify" && auth == "Bearer "+mcMachineKey)
	if !known {
		answer(keyInvalid)
		return
	}
	var req map[string]any
	if json.Unmarshal(body, &req) != nil {
		answer(mcAnswer{status: 400, body: mcErrors("malformed_request", "malformed request body")})
		return
	}
	tok, _ := req[field].(string)
	if tok == "" {
		answer(mcAnswer{status: 422, body: mcErrors("form_param_missing", field+" is missing")})
		return
	}
	a, ok := f.answers[tok]
	if !ok {
		answer(mcAnswer{status: 404, body: mcErrors("resource_not_found", "not found")})
		return
	}
	answer(a)
}

// ---------------------------------------------------------------------------
// The two sides.
// ---------------------------------------------------------------------------

func (c *mcCase) url() string { return mcOrigin + c.target }

// runMachineOurs provisions a handler for the case (api_url its own base at
// the fake, machine_cache_ttl 0: one call per request, as Clerk) and
// decides on the request.
func runMachineOurs(t *testing.T, bapi *machineFakeBAPI, c *mcCase, i int) mcOutcome {
	t.Helper()
	a, _ := testkit.Keys(t)
	zero := caddy.Duration(0)
	h := newTestHandler(t, func(h *Handler) {
		h.PublishableKey = testPK
		if c.noPublishableKey {
			h.PublishableKey = ""
		}
		h.SecretKey = c.secretKey
		h.MachineSecretKey = c.machineSecretKey
		h.JWTKey = testkit.PublicPEM(t, a)
		if c.jwks {
			h.JWTKey = ""
		}
		h.APIURL = bapi.base("go", i)
		if c.apiURL != "" {
			h.APIURL = c.apiURL
		}
		h.AuthorizedParties = []string{mcOrigin}
		h.Audience = c.audience
		h.AcceptsToken = c.accepts
		h.MachineCacheTTL = &zero
		h.DisableMetrics = true
	})
	h.useLogger(zap.NewNop())
	if ks, ok := h.keys.(*remoteKeySet); ok {
		ks.Logger.Store(h.logger) // the refused-JWKS cases would log at warn
	}
	r := newRequest(c.method, c.url())
	for _, kv := range c.headers {
		r.Header.Add(kv[0], kv[1])
	}
	var ar authRequest
	d := h.decide(&ar, r)
	out := mcOutcome{status: d.Status, reason: d.Reason, message: d.Message, tokenType: string(d.TokenType),
		authenticated: d.Kind == authn.SignedIn, calls: bapi.callsOf("go", i)}
	switch {
	case d.Kind != authn.SignedIn:
	case d.Machine != nil:
		m := d.Machine
		out.identity = &mcIdentity{ID: m.ID, Subject: m.Subject, UserID: m.UserID, OrgID: m.OrgID, MachineID: m.MachineID,
			ClientID: m.ClientID, Name: m.Name, Scopes: jsonValue(m.Scopes), Claims: jsonValue(m.Claims)}
	case d.Session != nil:
		out.identity = &mcIdentity{UserID: d.Session.UserID, SessionID: d.Session.SessionID}
	}
	return out
}

// jsonValue is v as encoding/json would decode its JSON (nil maps and
// slices as null), so that both sides' values compare with DeepEqual.
func jsonValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("unmarshalable: %v", err)
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// runMachineClerk feeds the cases to conformance/machine_authenticate.mjs.
func runMachineClerk(t *testing.T, bapi *machineFakeBAPI, cases []*mcCase) []mcOutcome {
	t.Helper()
	a, _ := testkit.Keys(t)
	pemA := testkit.PublicPEM(t, a)
	in := clerkInput{Now: testNow.UnixMilli()}
	for i, c := range cases {
		opts := map[string]any{"apiUrl": bapi.base("node", i), "authorizedParties": []string{mcOrigin}}
		if c.apiURL != "" {
			opts["apiUrl"] = c.apiURL
		}
		if !c.noPublishableKey {
			opts["publishableKey"] = testPK
		}
		if c.secretKey != "" {
			opts["secretKey"] = c.secretKey
		}
		if c.machineSecretKey != "" {
			opts["machineSecretKey"] = c.machineSecretKey
		}
		if !c.jwks {
			opts["jwtKey"] = pemA
		}
		switch len(c.accepts) {
		case 0:
		case 1:
			opts["acceptsToken"] = c.accepts[0]
		default:
			opts["acceptsToken"] = c.accepts
		}
		if len(c.audience) == 1 {
			opts["audience"] = c.audience[0]
		} else if len(c.audience) > 1 {
			opts["audience"] = c.audience
		}
		in.Cases = append(in.Cases, clerkCase{Name: c.name, Options: opts, Method: c.method, URL: c.url(), Headers: c.headers})
	}
	var out struct {
		Results []struct {
			Name            string          `json:"name"`
			Status          string          `json:"status"`
			Reason          *string         `json:"reason"`
			Message         *string         `json:"message"`
			TokenType       *string         `json:"tokenType"`
			IsAuthenticated *bool           `json:"isAuthenticated"`
			Auth            json.RawMessage `json:"auth"`
			ToAuthError     *string         `json:"toAuthError"`
			Error           *string         `json:"error"`
		} `json:"results"`
	}
	testkit.RunNode(t, "conformance", "machine_authenticate.mjs", in, &out)
	if len(out.Results) != len(cases) {
		t.Fatalf("machine conformance runner returned %d results for %d cases", len(out.Results), len(cases))
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	results := make([]mcOutcome, len(cases))
	for i, r := range out.Results {
		if r.Name != cases[i].name {
			t.Fatalf("result %d is for %q, want %q", i, r.Name, cases[i].name)
		}
		o := mcOutcome{status: r.Status, reason: str(r.Reason), message: str(r.Message), tokenType: str(r.TokenType),
			authenticated: r.IsAuthenticated != nil && *r.IsAuthenticated}
		o.threw = str(r.Error)
		if o.threw == "" && r.ToAuthError != nil {
			o.threw = "toAuth: " + *r.ToAuthError
		}
		if o.status == wire.StatusSignedIn && r.ToAuthError == nil {
			var auth map[string]any
			if err := json.Unmarshal(r.Auth, &auth); err != nil {
				t.Fatalf("case %s: toAuth(): %v", r.Name, err)
			}
			s := func(k string) string { v, _ := auth[k].(string); return v }
			if o.tokenType == string(machine.SessionToken) {
				o.identity = &mcIdentity{UserID: s("userId"), SessionID: s("sessionId")}
			} else {
				o.identity = &mcIdentity{ID: s("id"), Subject: s("subject"), UserID: s("userId"), OrgID: s("orgId"),
					MachineID: s("machineId"), ClientID: s("clientId"), Name: s("name"), Scopes: auth["scopes"], Claims: auth["claims"]}
			}
		}
		results[i] = o
	}
	return results
}

// ---------------------------------------------------------------------------
// The generator.
// ---------------------------------------------------------------------------

type mcGenerator struct {
	t     testing.TB
	bapi  *machineFakeBAPI
	a, b  *rsa.PrivateKey
	cases []*mcCase
	names map[string]bool
}

// The acceptsToken forms every token is tried under.
var mcAcceptsForms = [][]string{
	{"session_token"},
	{"api_key"},
	{"m2m_token"},
	{"oauth_token"},
	{"any"},
	{"session_token", "api_key"},
	{"api_key", "m2m_token"},
	{"m2m_token", "oauth_token"},
	{"session_token", "api_key", "m2m_token", "oauth_token"},
}

var (
	mcAPIHeaders = [][2]string{{"accept", "application/json"}}
	mcDocHeaders = [][2]string{{"accept", "text/html"}, {"sec-fetch-dest", "document"}}
)

func mcBearer(tok string) [][2]string {
	return append([][2]string{{"authorization", "Bearer " + tok}}, mcAPIHeaders...)
}

// add appends a case; opts edit the defaults (secret key, jwt_key, GET,
// an API request).
func (g *mcGenerator) add(name string, accepts []string, headers [][2]string, tags []string, opts ...func(*mcCase)) {
	name = strings.Join(accepts, "+") + "/" + name
	if g.names[name] {
		g.t.Fatalf("duplicate case name %q", name)
	}
	g.names[name] = true
	c := &mcCase{name: name, accepts: accepts, secretKey: confSecretKey, method: http.MethodGet, target: mcPath, headers: headers,
		tags: map[string]bool{}}
	for _, tag := range tags {
		c.tags[tag] = true
	}
	for _, o := range opts {
		o(c)
	}
	g.cases = append(g.cases, c)
}

// opaque registers the fake's answer for tok and returns tok.
func (g *mcGenerator) opaque(tok string, a mcAnswer) string {
	if _, dup := g.bapi.answers[tok]; dup {
		g.t.Fatalf("token %q registered twice", tok)
	}
	g.bapi.answers[tok] = a
	return tok
}

func mcOK(body map[string]any, edits ...func(map[string]any)) mcAnswer {
	for _, e := range edits {
		e(body)
	}
	b, _ := json.Marshal(body)
	return mcAnswer{status: 200, body: string(b)}
}

func mcSet(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
func mcDel(k string) func(map[string]any)        { return func(m map[string]any) { delete(m, k) } }

var mcNowMs = testNow.UnixMilli()

// The Backend API's 200 bodies (OpenAPI /api_keys/verify,
// /m2m_tokens/verify, /oauth_applications/access_tokens/verify; @clerk/
// backend dist/fixtures/machine.d.ts).
func apiKeyBody(subject string) map[string]any {
	return map[string]any{
		"object": "api_key", "id": "ak_2b1f9c0e8d7a6b5c4d3e2f1a0b9c8d7e", "type": "api_key", "subject": subject,
		"name": "ci deploy", "description": nil, "claims": map[string]any{"team": "infra", "tier": 2},
		"scopes": []string{"read", "write"}, "revoked": false, "revocation_reason": nil, "expired": false,
		"expiration": nil, "created_by": "user_2creator", "last_used_at": nil, "created_at": mcNowMs - 86400000, "updated_at": mcNowMs - 3600000,
	}
}

func m2mBody() map[string]any {
	return map[string]any{
		"object": "machine_to_machine_token", "id": "mt_3c2e1d0f9a8b7c6d5e4f3a2b1c0d9e8f", "subject": "mch_2sender",
		"claims": map[string]any{"env": "prod"}, "scopes": []string{"mch_2receiver", "mch_2other"}, "revoked": false,
		"revocation_reason": nil, "expired": false, "expiration": mcNowMs + 3600000, "last_used_at": nil,
		"created_at": mcNowMs - 60000, "updated_at": mcNowMs - 60000,
	}
}

func oauthBody() map[string]any {
	return map[string]any{
		"object": "clerk_idp_oauth_access_token", "id": "oat_4d3f2e1a0b9c8d7e6f5a4b3c2d1e0f9a", "client_id": "client_2app",
		"subject": "user_2owner", "scopes": []string{"profile", "email"}, "revoked": false, "revocation_reason": nil,
		"expired": false, "expiration": testNow.Unix() + 3600, "created_at": testNow.Unix() - 60, "updated_at": testNow.Unix() - 60,
	}
}

// jwtHeader and the claim sets of machine JWTs, valid at testNow.
func m2mJWTParts() (map[string]any, map[string]any) {
	now := testNow.Unix()
	return map[string]any{"alg": "RS256", "typ": "JWT", "kid": "ins_a", "cat": wire.JWTCategoryM2M},
		map[string]any{"iss": testIssuer, "sub": "mch_2sender", "jti": "mt_jwt_5e4a3b2c", "iat": now - 10, "nbf": now - 10,
			"exp": now + 300, "scopes": "mch_2receiver mch_2other"}
}

func oauthJWTParts() (map[string]any, map[string]any) {
	now := testNow.Unix()
	return map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": "ins_a"},
		map[string]any{"iss": testIssuer, "sub": "user_2owner", "client_id": "client_2app", "jti": "oat_jwt_6f5b4c3d",
			"iat": now - 10, "nbf": now - 10, "exp": now + 300, "scp": []string{"profile", "email"}}
}

type jwtEdit func(h, c map[string]any)

func (g *mcGenerator) sign(key *rsa.PrivateKey, parts func() (map[string]any, map[string]any), edits ...jwtEdit) string {
	h, c := parts()
	for _, e := range edits {
		e(h, c)
	}
	if key == nil {
		key = g.a
	}
	return testkit.SignJWT(g.t, key, h, c)
}

func mcHdr(k string, v any) jwtEdit { return func(h, _ map[string]any) { setOrDel(h, k, v) } }
func mcClm(k string, v any) jwtEdit { return func(_, c map[string]any) { setOrDel(c, k, v) } }

// mcDelete as a value removes the key.
type mcDeleteT struct{}

var mcDelete = mcDeleteT{}

func setOrDel(m map[string]any, k string, v any) {
	if _, d := v.(mcDeleteT); d {
		delete(m, k)
		return
	}
	m[k] = v
}

func withSecret(k string) func(*mcCase)      { return func(c *mcCase) { c.secretKey = k } }
func withMachineKey(k string) func(*mcCase)  { return func(c *mcCase) { c.machineSecretKey = k } }
func withAudience(a ...string) func(*mcCase) { return func(c *mcCase) { c.audience = a } }
func withJWKS() func(*mcCase)                { return func(c *mcCase) { c.jwks = true } }
func withTarget(p string) func(*mcCase)      { return func(c *mcCase) { c.target = p } }
func withTag(tag string) func(*mcCase)       { return func(c *mcCase) { c.tags[tag] = true } }

// machineKeyOnly is a route that takes only M2M tokens, configured with a
// machine secret key alone: no secret key, no publishable key (Clerk's
// AuthenticateContext does not parse one for acceptsToken m2m_token,
// src/tokens/authenticateContext.ts).
func machineKeyOnly() func(*mcCase) {
	return func(c *mcCase) { c.machineSecretKey, c.secretKey, c.noPublishableKey = mcMachineKey, "", true }
}

func (g *mcGenerator) generate() []*mcCase {
	g.names = map[string]bool{}
	g.matrix()
	g.apiKeyCases()
	g.m2mOpaqueCases()
	g.oauthOpaqueCases()
	g.m2mJWTCases()
	g.oauthJWTCases()
	g.malformedCases()
	g.carrierCases()
	g.keyCases()
	return g.cases
}

// matrix: one valid token of each kind (and a few that are none), under
// every acceptsToken form: Clerk's dispatch on acceptsToken
// (src/tokens/request.ts authenticateRequest, isTokenTypeInAcceptedArray,
// checkTokenTypeMismatch).
func (g *mcGenerator) matrix() {
	m2mJWT := g.sign(nil, m2mJWTParts)
	oauthJWT := g.sign(nil, oauthJWTParts)
	h, c := m2mJWTParts()
	tokens := []struct {
		name string
		tok  string
	}{
		{"ak-valid", g.opaque("ak_live_matrixvalid0001", mcOK(apiKeyBody("user_2owner")))},
		{"mt-valid", g.opaque("mt_matrixvalid0001", mcOK(m2mBody()))},
		{"oat-valid", g.opaque("oat_matrixvalid0001", mcOK(oauthBody()))},
		{"m2m-jwt", m2mJWT},
		{"oauth-jwt", oauthJWT},
		{"session-jwt", sessionToken(g.t)},
		{"garbage", "notatoken"},
		{"empty-signature", testkit.RawURL(mcJSON(h)) + "." + testkit.RawURL(mcJSON(c)) + "."},
		{"none", ""},
	}
	for _, accepts := range mcAcceptsForms {
		for _, tk := range tokens {
			headers := mcAPIHeaders
			if tk.tok != "" {
				headers = mcBearer(tk.tok)
			}
			g.add("matrix/"+tk.name, accepts, headers, nil)
		}
	}
}

func mcJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// apiKeyCases: POST /api_keys/verify answers (src/tokens/verify.ts
// verifyAPIKey, handleClerkAPIError), under api_key and under any.
func (g *mcGenerator) apiKeyCases() {
	type v struct {
		name string
		a    mcAnswer
		tags []string
	}
	vs := []v{
		{"org-subject", mcOK(apiKeyBody("org_2team")), nil},
		{"machine-subject", mcOK(apiKeyBody("mch_2robot")), nil},
		{"no-claims-no-scopes", mcOK(apiKeyBody("user_2owner"), mcSet("claims", nil), mcSet("scopes", []string{})), nil},
		{"expiration-future", mcOK(apiKeyBody("user_2owner"), mcSet("expiration", mcNowMs+3600000)), nil},
		{"revoked", mcOK(apiKeyBody("user_2owner"), mcSet("revoked", true), mcSet("revocation_reason", "leaked")), []string{"bapi-2xx-denied"}},
		{"expired", mcOK(apiKeyBody("user_2owner"), mcSet("expired", true), mcSet("expiration", mcNowMs-1000)), []string{"bapi-2xx-denied"}},
		{"expiration-past", mcOK(apiKeyBody("user_2owner"), mcSet("expiration", mcNowMs-1000)), []string{"bapi-2xx-denied"}},
		{"wrong-object", mcOK(apiKeyBody("user_2owner"), mcSet("object", "machine_to_machine_token")), []string{"bapi-2xx-unreadable"}},
		{"no-object", mcOK(apiKeyBody("user_2owner"), mcDel("object")), []string{"bapi-2xx-unreadable"}},
		{"no-subject", mcOK(apiKeyBody("user_2owner"), mcDel("subject")), []string{"bapi-2xx-unreadable"}},
		{"text-plain", mcAnswer{status: 200, contentType: "text/plain", body: "ok"}, []string{"bapi-2xx-unreadable"}},
		{"json-null", mcAnswer{status: 200, body: "null"}, []string{"bapi-2xx-unreadable"}},
		{"json-charset", mcAnswer{status: 200, contentType: "application/json; charset=utf-8", body: mcJSON(apiKeyBody("user_2owner"))}, []string{"bapi-json-params"}},
		{"not-found", mcAnswer{status: 404, body: mcErrors("resource_not_found", "not found")}, nil},
		{"bad-request", mcAnswer{status: 400, body: mcErrors("form_param_missing", "secret is missing")}, nil},
		{"rate-limited", mcAnswer{status: 429, retryAfter: "7", body: mcErrors("too_many_requests", "Too many requests")}, nil},
		{"server-error", mcAnswer{status: 500, body: mcErrors("internal_clerk_error", "Oops")}, nil},
		{"unavailable", mcAnswer{status: 503, contentType: "text/html", body: "<html>down</html>"}, nil},
	}
	for i, x := range vs {
		tok := g.opaque(fmt.Sprintf("ak_live_%s_%04d", strings.ReplaceAll(x.name, "-", ""), i), x.a)
		for _, accepts := range [][]string{{"api_key"}, {"any"}} {
			g.add("api-key/"+x.name, accepts, mcBearer(tok), x.tags)
		}
	}
	unknown := "ak_live_neverissued0000"
	g.add("api-key/unknown", []string{"api_key"}, mcBearer(unknown), nil)
	g.add("api-key/unknown", []string{"session_token", "api_key"}, mcBearer(unknown), nil)
	// Bytes JSON.stringify escapes ('"' and '\'): the bodies must agree.
	g.add("api-key/quote-backslash", []string{"api_key"}, mcBearer(`ak_live_a"b\c`), nil)
	// A document request: machine failures never handshake.
	g.add("api-key/unknown-document", []string{"any"}, append([][2]string{{"authorization", "Bearer " + unknown}}, mcDocHeaders...), nil)
}

// m2mOpaqueCases: POST /m2m_tokens/verify (verifyM2MToken), with the
// secret key or a machine secret key.
func (g *mcGenerator) m2mOpaqueCases() {
	type v struct {
		name string
		a    mcAnswer
		tags []string
	}
	vs := []v{
		{"no-claims", mcOK(m2mBody(), mcSet("claims", nil)), nil},
		{"expiration-null", mcOK(m2mBody(), mcSet("expiration", nil)), nil},
		{"revoked", mcOK(m2mBody(), mcSet("revoked", true)), []string{"bapi-2xx-denied"}},
		{"expired", mcOK(m2mBody(), mcSet("expired", true)), []string{"bapi-2xx-denied"}},
		{"expiration-past", mcOK(m2mBody(), mcSet("expiration", mcNowMs-1)), []string{"bapi-2xx-denied"}},
		{"subject-not-machine", mcOK(m2mBody(), mcSet("subject", "user_2owner")), []string{"bapi-2xx-unreadable"}},
		{"wrong-object", mcOK(m2mBody(), mcSet("object", "api_key")), []string{"bapi-2xx-unreadable"}},
		{"not-found", mcAnswer{status: 404, body: mcErrors("resource_not_found", "not found")}, nil},
		{"rate-limited", mcAnswer{status: 429, retryAfter: "1", body: mcErrors("too_many_requests", "Too many requests")}, nil},
		{"server-error", mcAnswer{status: 500, body: mcErrors("internal_clerk_error", "Oops")}, nil},
	}
	for i, x := range vs {
		tok := g.opaque(fmt.Sprintf("mt_%s_%04d", strings.ReplaceAll(x.name, "-", ""), i), x.a)
		for _, accepts := range [][]string{{"m2m_token"}, {"any"}} {
			g.add("m2m/"+x.name, accepts, mcBearer(tok), x.tags)
		}
	}
	valid := g.opaque("mt_withmachinekey0001", mcOK(m2mBody()))
	for _, accepts := range [][]string{{"m2m_token"}, {"any"}, {"api_key", "m2m_token"}} {
		g.add("m2m/machine-secret-key", accepts, mcBearer(valid), nil, withMachineKey(mcMachineKey))
		g.add("m2m/machine-secret-key-refused", accepts, mcBearer(valid), nil, withMachineKey(mcBadMachineKey))
	}
	// A machine secret key alone (Clerk: acceptsToken m2m_token needs only
	// machineSecretKey or secretKey).
	g.add("m2m/machine-secret-key-only", []string{"m2m_token"}, mcBearer(valid), nil, machineKeyOnly())
	// The machine secret key does not verify API keys: the secret key does.
	ak := g.opaque("ak_live_beside_machinekey01", mcOK(apiKeyBody("user_2owner")))
	g.add("m2m/api-key-beside-machine-secret-key", []string{"api_key", "m2m_token"}, mcBearer(ak), nil, withMachineKey(mcMachineKey))
	g.add("m2m/unknown", []string{"m2m_token"}, mcBearer("mt_neverissued0000"), nil)
}

// oauthOpaqueCases: POST /oauth_applications/access_tokens/verify
// (verifyOAuthToken) and the audience rule after it
// (src/jwt/assertions.ts assertOAuthAudienceClaim).
func (g *mcGenerator) oauthOpaqueCases() {
	type v struct {
		name string
		a    mcAnswer
		tags []string
	}
	vs := []v{
		{"inactive", mcAnswer{status: 200, body: `{"active":false}`}, []string{"bapi-2xx-denied"}},
		{"revoked", mcOK(oauthBody(), mcSet("revoked", true)), []string{"bapi-2xx-denied"}},
		{"expired", mcOK(oauthBody(), mcSet("expired", true)), []string{"bapi-2xx-denied"}},
		{"expiration-past", mcOK(oauthBody(), mcSet("expiration", testNow.Unix()-1)), []string{"bapi-2xx-denied"}},
		{"wrong-object", mcOK(oauthBody(), mcSet("object", "api_key")), []string{"bapi-2xx-unreadable"}},
		{"not-found", mcAnswer{status: 404, body: mcErrors("resource_not_found", "not found")}, nil},
		{"server-error", mcAnswer{status: 500, body: mcErrors("internal_clerk_error", "Oops")}, nil},
		{"rate-limited", mcAnswer{status: 429, body: mcErrors("too_many_requests", "Too many requests")}, nil},
	}
	for i, x := range vs {
		tok := g.opaque(fmt.Sprintf("oat_%s_%04d", strings.ReplaceAll(x.name, "-", ""), i), x.a)
		for _, accepts := range [][]string{{"oauth_token"}, {"any"}} {
			g.add("oauth/"+x.name, accepts, mcBearer(tok), x.tags)
		}
	}
	audList := g.opaque("oat_audlist0001", mcOK(oauthBody(), mcSet("aud", []string{mcAudience, "https://other.example.com"})))
	audString := g.opaque("oat_audstring0001", mcOK(oauthBody(), mcSet("aud", mcAudience)))
	audOther := g.opaque("oat_audother0001", mcOK(oauthBody(), mcSet("aud", []string{"https://other.example.com"})))
	audEmpty := g.opaque("oat_audempty0001", mcOK(oauthBody(), mcSet("aud", []string{})))
	noAud := g.opaque("oat_noaud0001", mcOK(oauthBody()))
	for _, accepts := range [][]string{{"oauth_token"}, {"any"}} {
		g.add("oauth/aud-list-match", accepts, mcBearer(audList), nil, withAudience(mcAudience))
		g.add("oauth/aud-string-match", accepts, mcBearer(audString), nil, withAudience(mcAudience))
		g.add("oauth/aud-mismatch", accepts, mcBearer(audOther), nil, withAudience(mcAudience))
		g.add("oauth/aud-empty", accepts, mcBearer(audEmpty), nil, withAudience(mcAudience))
		g.add("oauth/aud-missing", accepts, mcBearer(noAud), nil, withAudience(mcAudience))
		g.add("oauth/aud-two-options", accepts, mcBearer(audString), nil, withAudience("https://x.example.com", mcAudience))
		g.add("oauth/aud-without-option", accepts, mcBearer(audOther), nil)
	}
	g.add("oauth/unknown", []string{"oauth_token"}, mcBearer("oat_neverissued0000"), nil)
}

// m2mJWTCases: verifyM2MJwt (src/jwt/verifyMachineJwt.ts) and verifyJwt's
// checks, networkless.
func (g *mcGenerator) m2mJWTCases() {
	now := testNow.Unix()
	type v struct {
		name string
		tok  string
		opts []func(*mcCase)
	}
	vs := []v{
		{"no-cat", g.sign(nil, m2mJWTParts, mcHdr("cat", mcDelete)), nil},
		{"no-typ", g.sign(nil, m2mJWTParts, mcHdr("typ", mcDelete)), nil},
		{"no-jti", g.sign(nil, m2mJWTParts, mcClm("jti", mcDelete)), nil},
		{"aud-as-scopes", g.sign(nil, m2mJWTParts, mcClm("scopes", mcDelete), mcClm("aud", []string{"mch_2receiver"})), nil},
		{"no-scopes-no-aud", g.sign(nil, m2mJWTParts, mcClm("scopes", mcDelete)), nil},
		{"azp-other-origin", g.sign(nil, m2mJWTParts, mcClm("azp", "https://evil.example.net")), nil},
		{"iss-other", g.sign(nil, m2mJWTParts, mcClm("iss", "https://clerk.other.example")), nil},
		{"cat-session", g.sign(nil, m2mJWTParts, mcHdr("cat", wire.JWTCategorySession)), nil},
		{"cat-template", g.sign(nil, m2mJWTParts, mcHdr("cat", "cl_B7d4PD222AAA")), nil},
		{"cat-ignore", g.sign(nil, m2mJWTParts, mcHdr("cat", wire.JWTCategoryIgnore)), nil},
		{"expired", g.sign(nil, m2mJWTParts, mcClm("exp", now-60)), nil},
		{"expired-within-skew", g.sign(nil, m2mJWTParts, mcClm("exp", now-3)), nil},
		{"not-yet-valid", g.sign(nil, m2mJWTParts, mcClm("nbf", now+60)), nil},
		{"nbf-within-skew", g.sign(nil, m2mJWTParts, mcClm("nbf", now+3)), nil},
		{"iat-future", g.sign(nil, m2mJWTParts, mcClm("iat", now+60)), nil},
		{"no-exp", g.sign(nil, m2mJWTParts, mcClm("exp", mcDelete)), nil},
		{"exp-string", g.sign(nil, m2mJWTParts, mcClm("exp", strconv.FormatInt(now+300, 10))), nil},
		{"other-key", g.sign(g.b, m2mJWTParts), nil},
		{"typ-at-jwt", g.sign(nil, m2mJWTParts, mcHdr("typ", "at+jwt")), nil},
		{"typ-lowercase", g.sign(nil, m2mJWTParts, mcHdr("typ", "jwt")), nil},
		{"rs384", g.sign(nil, m2mJWTParts, mcHdr("alg", "RS384")), nil},
		{"alg-none", g.sign(nil, m2mJWTParts, mcHdr("alg", "none")), nil},
		{"aud-match", g.sign(nil, m2mJWTParts, mcClm("aud", mcAudience)), []func(*mcCase){withAudience(mcAudience)}},
		{"aud-mismatch", g.sign(nil, m2mJWTParts, mcClm("aud", "https://other.example.com")), []func(*mcCase){withAudience(mcAudience)}},
		{"aud-missing", g.sign(nil, m2mJWTParts), []func(*mcCase){withAudience(mcAudience)}},
		{"jwks", g.sign(nil, m2mJWTParts), []func(*mcCase){withJWKS()}},
		{"jwks-unknown-kid", g.sign(nil, m2mJWTParts, mcHdr("kid", "ins_unknown")), []func(*mcCase){withJWKS(), withTag("key-set-message")}},
		{"jwks-refused", g.sign(nil, m2mJWTParts), []func(*mcCase){withJWKS(), withSecret(mcBadSecretKey), withTag("key-set-message")}},
	}
	tampered := g.sign(nil, m2mJWTParts)
	parts := strings.Split(tampered, ".")
	_, c := m2mJWTParts()
	c["sub"] = "mch_2impostor"
	parts[1] = testkit.RawURL(mcJSON(c))
	vs = append(vs, v{"tampered-payload", strings.Join(parts, "."), nil})
	for _, x := range vs {
		for _, accepts := range [][]string{{"m2m_token"}, {"any"}} {
			g.add("m2m-jwt/"+x.name, accepts, mcBearer(x.tok), nil, x.opts...)
		}
	}
	// Machine failures never handshake, even on a document request.
	expired := g.sign(nil, m2mJWTParts, mcClm("exp", now-60))
	g.add("m2m-jwt/expired-document", []string{"any"}, append([][2]string{{"authorization", "Bearer " + expired}}, mcDocHeaders...), nil)
	// A machine secret key never fetches the JWKS: an M2M JWT then fails.
	g.add("m2m-jwt/machine-secret-key-only", []string{"m2m_token"}, mcBearer(g.sign(nil, m2mJWTParts)), nil, machineKeyOnly(), withJWKS())
}

// oauthJWTCases: verifyOAuthJwt (src/jwt/verifyMachineJwt.ts).
func (g *mcGenerator) oauthJWTCases() {
	now := testNow.Unix()
	type v struct {
		name string
		tok  string
		opts []func(*mcCase)
	}
	vs := []v{
		{"application-at-jwt", g.sign(nil, oauthJWTParts, mcHdr("typ", "application/at+jwt")), nil},
		{"scope-string", g.sign(nil, oauthJWTParts, mcClm("scp", mcDelete), mcClm("scope", "profile email")), nil},
		{"no-scopes", g.sign(nil, oauthJWTParts, mcClm("scp", mcDelete)), nil},
		{"no-client-id", g.sign(nil, oauthJWTParts, mcClm("client_id", mcDelete)), nil},
		{"cat-session", g.sign(nil, oauthJWTParts, mcHdr("cat", wire.JWTCategorySession)), nil},
		{"expired", g.sign(nil, oauthJWTParts, mcClm("exp", now-60)), nil},
		{"not-yet-valid", g.sign(nil, oauthJWTParts, mcClm("nbf", now+60)), nil},
		{"other-key", g.sign(g.b, oauthJWTParts), nil},
		{"rs512", g.sign(nil, oauthJWTParts, mcHdr("alg", "RS512")), nil},
		{"no-sub", g.sign(nil, oauthJWTParts, mcClm("sub", mcDelete)), nil},
		{"aud-match", g.sign(nil, oauthJWTParts, mcClm("aud", mcAudience)), []func(*mcCase){withAudience(mcAudience)}},
		{"aud-list-match", g.sign(nil, oauthJWTParts, mcClm("aud", []string{"https://x.example.com", mcAudience})), []func(*mcCase){withAudience(mcAudience)}},
		{"aud-mismatch", g.sign(nil, oauthJWTParts, mcClm("aud", "https://other.example.com")), []func(*mcCase){withAudience(mcAudience)}},
		{"aud-missing", g.sign(nil, oauthJWTParts), []func(*mcCase){withAudience(mcAudience)}},
		{"aud-without-option", g.sign(nil, oauthJWTParts, mcClm("aud", "https://other.example.com")), nil},
		{"jwks", g.sign(nil, oauthJWTParts), []func(*mcCase){withJWKS()}},
	}
	for _, x := range vs {
		for _, accepts := range [][]string{{"oauth_token"}, {"any"}} {
			g.add("oauth-jwt/"+x.name, accepts, mcBearer(x.tok), nil, x.opts...)
		}
	}
	// typ JWT and no mch_ subject: not a machine token (isOAuthJwt), a
	// session token under any.
	typJWT := g.sign(nil, oauthJWTParts, mcHdr("typ", "JWT"))
	g.add("oauth-jwt/typ-jwt", []string{"oauth_token"}, mcBearer(typJWT), nil)
	g.add("oauth-jwt/typ-jwt", []string{"any"}, mcBearer(typJWT), nil)
	// A payload that is JSON null: isOAuthJwt reads only the header;
	// verifyMachineAuthToken then reads payload.sub of null.
	h, _ := oauthJWTParts()
	nullPayload := testkit.RawURL(mcJSON(h)) + "." + testkit.RawURL("null") + "." + testkit.RawURL("sig")
	g.add("oauth-jwt/payload-null", []string{"oauth_token"}, mcBearer(nullPayload), []string{"null-payload"})
	g.add("oauth-jwt/payload-null", []string{"any"}, mcBearer(nullPayload), []string{"null-payload"})
	// sub mch_ wins over typ at+jwt: an M2M token (getMachineTokenType).
	both := g.sign(nil, oauthJWTParts, mcClm("sub", "mch_2sender"))
	g.add("oauth-jwt/mch-subject", []string{"oauth_token"}, mcBearer(both), nil)
	g.add("oauth-jwt/mch-subject", []string{"m2m_token"}, mcBearer(both), nil)
	g.add("oauth-jwt/mch-subject", []string{"any"}, mcBearer(both), nil)
}

// malformedCases: tokens that are not what their prefix says.
func (g *mcGenerator) malformedCases() {
	h, c := m2mJWTParts()
	emptySig := testkit.RawURL(mcJSON(h)) + "." + testkit.RawURL(mcJSON(c)) + "."
	cases := []struct {
		name string
		tok  string
		tags []string
	}{
		{"ak-with-dots", "ak_live_abc.def.ghi", nil},
		{"mt-with-dots", "mt_abc.def.ghi", nil},
		{"oat-with-dots", "oat_abc.def.ghi", nil},
		{"empty-signature", emptySig, nil},
		{"two-parts", testkit.RawURL(mcJSON(h)) + "." + testkit.RawURL(mcJSON(c)), nil},
		{"prefix-only", "ak_", nil},
		{"jwt-form-garbage", "abc.def.ghi", nil},
		{"ak-del-byte", "ak_live_del\x7fbyte0001", []string{"not-ascii"}},
		{"ak-latin1", "ak_live_caf\u00e90001", []string{"not-ascii"}},
		{"mt-del-byte", "mt_del\x7fbyte0001", []string{"not-ascii"}},
	}
	for _, x := range cases {
		for _, accepts := range [][]string{{"api_key"}, {"m2m_token"}, {"oauth_token"}, {"any"}} {
			g.add("malformed/"+x.name, accepts, mcBearer(x.tok), x.tags)
		}
	}
}

// carrierCases: where Clerk finds a machine token: only Authorization
// (src/tokens/authenticateContext.ts parseAuthorizationHeader); the
// cookie path otherwise (src/tokens/request.ts
// authenticateRequestWithTokenInCookie).
func (g *mcGenerator) carrierCases() {
	tok := g.opaque("ak_live_carrier0001", mcOK(apiKeyBody("user_2owner")))
	other := g.opaque("ak_live_carrier0002", mcOK(apiKeyBody("org_2team")))
	m2mJWT := g.sign(nil, m2mJWTParts)
	uat := "__client_uat=" + strconv.FormatInt(testNow.Unix()-100, 10)
	type v struct {
		name    string
		headers [][2]string
	}
	api := func(kv ...[2]string) [][2]string { return append(kv, mcAPIHeaders...) }
	doc := func(kv ...[2]string) [][2]string { return append(kv, mcDocHeaders...) }
	vs := []v{
		{"no-scheme", api([2]string{"authorization", tok})},
		{"bearer-lowercase", api([2]string{"authorization", "bearer " + tok})},
		{"basic", api([2]string{"authorization", "Basic " + tok})},
		{"token-scheme", api([2]string{"authorization", "Token " + tok})},
		{"double-space", api([2]string{"authorization", "Bearer  " + tok})},
		{"trailing-junk", api([2]string{"authorization", "Bearer " + tok + " junk"})},
		{"bearer-empty", api([2]string{"authorization", "Bearer "})},
		{"bearer-only", api([2]string{"authorization", "Bearer"})},
		{"x-api-key", api([2]string{"x-api-key", tok})},
		{"two-authorization-headers", api([2]string{"authorization", "Bearer " + tok}, [2]string{"authorization", "Bearer " + other})},
		{"cookie-with-uat", api([2]string{"cookie", "__session=" + tok + "; " + uat})},
		{"cookie-without-uat", api([2]string{"cookie", "__session=" + tok})},
		{"cookie-without-uat-document", doc([2]string{"cookie", "__session=" + tok})},
		{"cookie-m2m-jwt-with-uat", api([2]string{"cookie", "__session=" + m2mJWT + "; " + uat})},
		{"header-and-cookie", api([2]string{"authorization", "Bearer " + tok}, [2]string{"cookie", "__session=" + other + "; " + uat})},
		{"no-authorization-document", doc()},
	}
	for _, x := range vs {
		for _, accepts := range [][]string{{"api_key"}, {"any"}, {"session_token", "api_key"}} {
			g.add("carrier/"+x.name, accepts, x.headers, nil)
		}
	}
	for _, accepts := range [][]string{{"api_key"}, {"any"}} {
		g.add("carrier/query-parameter", accepts, mcAPIHeaders, nil, withTarget(mcPath+"?api_key="+tok))
	}
	// A session bearer under any: the session header path, whose failures
	// may handshake on a document request.
	expiredSession := sessionToken(g.t, func(c map[string]any) { c["exp"] = testNow.Unix() - 60; c["iat"] = testNow.Unix() - 120 })
	for _, accepts := range [][]string{{"any"}, {"session_token", "api_key"}, {"api_key", "m2m_token"}} {
		g.add("carrier/expired-session-bearer-document", accepts, doc([2]string{"authorization", "Bearer " + expiredSession}), nil)
		g.add("carrier/expired-session-bearer", accepts, mcBearer(expiredSession), nil)
	}
}

// keyCases: the Backend API refusing the key (401: secret-key-invalid with
// the answer's message).
func (g *mcGenerator) keyCases() {
	ak := g.opaque("ak_live_badsecret0001", mcOK(apiKeyBody("user_2owner")))
	mt := g.opaque("mt_badsecret0001", mcOK(m2mBody()))
	oat := g.opaque("oat_badsecret0001", mcOK(oauthBody()))
	for _, x := range []struct {
		name, tok string
		accepts   []string
	}{
		{"api-key", ak, []string{"api_key"}}, {"api-key", ak, []string{"any"}},
		{"m2m", mt, []string{"m2m_token"}}, {"m2m", mt, []string{"any"}},
		{"oauth", oat, []string{"oauth_token"}}, {"oauth", oat, []string{"any"}},
	} {
		g.add("bad-secret-key/"+x.name, x.accepts, mcBearer(x.tok), nil, withSecret(mcBadSecretKey))
	}
	// With a machine secret key, M2M tokens are verified with it and the
	// bad instance key is never sent.
	g.add("bad-secret-key/m2m-with-machine-key", []string{"m2m_token"}, mcBearer(mt), nil, withSecret(mcBadSecretKey), withMachineKey(mcMachineKey))
	g.add("bad-secret-key/api-key-with-machine-key", []string{"api_key", "m2m_token"}, mcBearer(ak), nil, withSecret(mcBadSecretKey), withMachineKey(mcMachineKey))

	// The Backend API unreachable (a loopback port nobody listens on):
	// Clerk's fetch throws, handleClerkAPIError says unexpected-error
	// without a status.
	dead := "http://" + testkit.FreeAddr(g.t)
	for _, x := range []struct {
		name, tok string
		accepts   []string
	}{
		{"api-key", ak, []string{"api_key"}}, {"m2m", mt, []string{"m2m_token"}}, {"oauth", oat, []string{"any"}},
	} {
		g.add("unreachable/"+x.name, x.accepts, mcBearer(x.tok), nil, func(c *mcCase) { c.apiURL = dead })
	}
}
