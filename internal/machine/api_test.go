package machine

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRequestFor(t *testing.T) {
	creds := Credentials{SecretKey: "sk_test_x", MachineSecretKey: "ak_machine"}
	tests := []struct {
		kind   TokenType
		token  string
		creds  Credentials
		path   string
		body   string
		bearer string
		err    error
	}{
		{APIKey, "ak_1", creds, "/api_keys/verify", `{"secret":"ak_1"}`, "sk_test_x", nil},
		{M2MToken, "mt_1", creds, "/m2m_tokens/verify", `{"token":"mt_1"}`, "ak_machine", nil},
		{M2MToken, "mt_1", Credentials{SecretKey: "sk_test_x"}, "/m2m_tokens/verify", `{"token":"mt_1"}`, "sk_test_x", nil},
		{M2MToken, "mt_1", Credentials{MachineSecretKey: "ak_m"}, "/m2m_tokens/verify", `{"token":"mt_1"}`, "ak_m", nil},
		{OAuthToken, "oat_1", creds, "/oauth_applications/access_tokens/verify", `{"access_token":"oat_1"}`, "sk_test_x", nil},
		{APIKey, `ak_"\`, creds, "/api_keys/verify", `{"secret":"ak_\"\\"}`, "sk_test_x", nil},
		{APIKey, "ak_1", Credentials{MachineSecretKey: "ak_m"}, "", "", "", ErrNoSecretKey},
		{OAuthToken, "oat_1", Credentials{MachineSecretKey: "ak_m"}, "", "", "", ErrNoSecretKey},
		{M2MToken, "mt_1", Credentials{}, "", "", "", ErrNoM2MKey},
		{SessionToken, "x", creds, "", "", "", ErrNotOpaque},
		{APIKey, "", creds, "", "", "", ErrTokenEmpty},
		{APIKey, "ak_ 1", creds, "", "", "", ErrTokenNotASCII},
		{APIKey, "ak_\xff", creds, "", "", "", ErrTokenNotASCII},
	}
	for _, tc := range tests {
		r, err := RequestFor(tc.kind, tc.token, tc.creds)
		if err != tc.err {
			t.Errorf("%s %q: err %v, want %v", tc.kind, tc.token, err, tc.err)
			continue
		}
		if err != nil {
			if strings.Contains(err.Error(), tc.token) && tc.token != "" {
				t.Errorf("error names the token")
			}
			continue
		}
		if r.Method != "POST" || r.Path != tc.path || string(r.Body) != tc.body {
			t.Errorf("%s: %s %s %s", tc.kind, r.Method, r.Path, r.Body)
		}
		if !json.Valid(r.Body) {
			t.Errorf("%s: body not JSON", tc.kind)
		}
		want := map[string]string{"Authorization": "Bearer " + tc.bearer, "Content-Type": "application/json", "Clerk-API-Version": "2026-05-12"}
		if !reflect.DeepEqual(r.Headers, want) {
			t.Errorf("%s: headers %v", tc.kind, r.Headers)
		}
	}
}

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// Bodies shaped like the Backend API's answers: the JSON fields of
// APIKey.fromJSON, M2MToken.fromJSON and IdPOAuthAccessToken.fromJSON
// (src/api/resources/*.ts, JSON.ts).
const (
	apiKeyBody = `{"object":"api_key","id":"ak_0123456789abcdef0123456789abcdef","type":"api_key","name":"ci",
		"subject":"user_2abc","description":null,"claims":{"foo":"bar"},"scopes":["read","write"],"revoked":false,
		"revocation_reason":null,"expired":false,"expiration":1780401600000,"created_by":"user_2abc",
		"last_used_at":null,"created_at":1750000000000,"updated_at":1750000000000}`
	m2mBody = `{"object":"machine_to_machine_token","id":"mt_0123456789abcdef0123456789abcdef","subject":"mch_2src",
		"claims":null,"scopes":["mch_2dst"],"revoked":false,"revocation_reason":null,"expired":false,
		"expiration":null,"last_used_at":null,"created_at":1750000000000,"updated_at":1750000000000}`
	oauthBody = `{"object":"clerk_idp_oauth_access_token","id":"oat_0123456789abcdef0123456789abcdef",
		"client_id":"client_2app","type":"oauth_token","subject":"user_2abc","scopes":["email","profile"],
		"revoked":false,"revocation_reason":null,"expired":false,"expiration":1780401600,
		"created_at":1750000000,"updated_at":1750000000,"aud":["https://api.example.com"]}`
)

func with(body, key, value string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		panic(err)
	}
	if value == "" {
		delete(m, key)
	} else {
		m[key] = json.RawMessage(value)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestParseResultSignedIn(t *testing.T) {
	r, e := ParseResult(APIKey, 200, []byte(apiKeyBody), now)
	if e != nil {
		t.Fatal(e)
	}
	want := Result{Kind: APIKey, ID: "ak_0123456789abcdef0123456789abcdef", Subject: "user_2abc", UserID: "user_2abc",
		Scopes: []string{"read", "write"}, ScopeText: "read write", Name: "ci", Claims: map[string]any{"foo": "bar"}, Expiry: time.UnixMilli(1780401600000)}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("api key: %+v", r)
	}
	r, e = ParseResult(APIKey, 200, []byte(with(apiKeyBody, "subject", `"org_2x"`)), now)
	if e != nil || r.OrgID != "org_2x" || r.UserID != "" {
		t.Errorf("org api key: %+v %v", r, e)
	}
	r, e = ParseResult(APIKey, 200, []byte(with(apiKeyBody, "subject", `"mch_2x"`)), now)
	if e != nil || r.OrgID != "" || r.UserID != "" || r.MachineID != "" {
		t.Errorf("machine api key: %+v %v", r, e)
	}
	r, e = ParseResult(M2MToken, 200, []byte(m2mBody), now)
	if e != nil || r.MachineID != "mch_2src" || r.Subject != "mch_2src" || !reflect.DeepEqual(r.Scopes, []string{"mch_2dst"}) ||
		!r.Expiry.IsZero() || r.Claims != nil {
		t.Errorf("m2m: %+v %v", r, e)
	}
	r, e = ParseResult(OAuthToken, 200, []byte(oauthBody), now)
	if e != nil || r.ClientID != "client_2app" || r.UserID != "user_2abc" || !r.Expiry.Equal(time.Unix(1780401600, 0)) ||
		!reflect.DeepEqual(r.Audience, []string{"https://api.example.com"}) {
		t.Errorf("oauth: %+v %v", r, e)
	}
	r, e = ParseResult(APIKey, 200, []byte(with(apiKeyBody, "scopes", "null")), now)
	if e != nil || r.Scopes == nil || len(r.Scopes) != 0 {
		t.Errorf("null scopes: %+v %v", r.Scopes, e)
	}
}

func TestParseResultDenied(t *testing.T) {
	tests := []struct {
		name      string
		kind      TokenType
		status    int
		body      string
		code      string
		msg       string
		cacheable bool
	}{
		{"404", APIKey, 404, `{"errors":[{"code":"resource_not_found"}]}`, CodeTokenInvalid, "API key not found (code=token-invalid, status=404)", true},
		{"404 m2m", M2MToken, 404, ``, CodeTokenInvalid, "Machine token not found (code=token-invalid, status=404)", true},
		{"404 oauth", OAuthToken, 404, ``, CodeTokenInvalid, "OAuth token not found (code=token-invalid, status=404)", true},
		{"401 message", APIKey, 401, `{"errors":[{"message":"The provided Clerk Secret Key is invalid.","code":"clerk_key_invalid"}]}`, CodeSecretKeyInvalid, "The provided Clerk Secret Key is invalid. (code=secret-key-invalid, status=401)", false},
		{"401 bare", APIKey, 401, `nope`, CodeSecretKeyInvalid, "Invalid secret key (code=secret-key-invalid, status=401)", false},
		{"400", APIKey, 400, `{}`, CodeUnexpectedError, "Unexpected error (code=unexpected-error, status=400)", true},
		{"403", M2MToken, 403, `{}`, CodeUnexpectedError, "Unexpected error (code=unexpected-error, status=403)", true},
		{"429", APIKey, 429, `{}`, CodeUnexpectedError, "Unexpected error (code=unexpected-error, status=429)", false},
		{"408", APIKey, 408, `{}`, CodeUnexpectedError, "Unexpected error (code=unexpected-error, status=408)", false},
		{"500", APIKey, 500, `{}`, CodeUnexpectedError, "Unexpected error (code=unexpected-error, status=500)", false},
		{"503", OAuthToken, 503, `{}`, CodeUnexpectedError, "Unexpected error (code=unexpected-error, status=503)", false},
		{"network", APIKey, 0, ``, CodeUnexpectedError, "Unexpected error (code=unexpected-error, status=n/a)", false},
		{"redirect", APIKey, 302, ``, CodeUnexpectedError, "Unexpected error (code=unexpected-error, status=302)", false},
		{"revoked", APIKey, 200, with(apiKeyBody, "revoked", "true"), CodeTokenInvalid, "API key is revoked (code=token-invalid, status=200)", true},
		{"expired flag", M2MToken, 200, with(m2mBody, "expired", "true"), CodeTokenInvalid, "Machine token is expired (code=token-invalid, status=200)", true},
		{"past expiration ms", APIKey, 200, with(apiKeyBody, "expiration", "1780000000000"), CodeTokenInvalid, "API key is expired (code=token-invalid, status=200)", true},
		{"past expiration s", OAuthToken, 200, with(oauthBody, "expiration", "1780000000"), CodeTokenInvalid, "OAuth token is expired (code=token-invalid, status=200)", true},
		{"expiration now", OAuthToken, 200, with(oauthBody, "expiration", "1780315200"), CodeTokenInvalid, "OAuth token is expired (code=token-invalid, status=200)", true},
		{"inactive", OAuthToken, 200, `{"active":false}`, CodeTokenInvalid, "OAuth token is not active (code=token-invalid, status=200)", true},
		{"active false wins", OAuthToken, 200, with(oauthBody, "active", "false"), CodeTokenInvalid, "OAuth token is not active (code=token-invalid, status=200)", true},
		{"active not bool", OAuthToken, 200, with(oauthBody, "active", `"no"`), CodeUnexpectedError, "", false},
		{"not json", APIKey, 200, `API key ok`, CodeUnexpectedError, "Unexpected error (code=unexpected-error, status=200)", false},
		{"json string", APIKey, 200, `"ok"`, CodeUnexpectedError, "", false},
		{"json null", APIKey, 200, `null`, CodeUnexpectedError, "", false},
		{"empty 204", APIKey, 204, ``, CodeUnexpectedError, "", false},
		{"wrong object", APIKey, 200, with(apiKeyBody, "object", `"machine_to_machine_token"`), CodeUnexpectedError, "", false},
		{"m2m body for api key path", APIKey, 200, m2mBody, CodeUnexpectedError, "", false},
		{"no object", APIKey, 200, with(apiKeyBody, "object", ""), CodeUnexpectedError, "", false},
		{"no subject", APIKey, 200, with(apiKeyBody, "subject", ""), CodeUnexpectedError, "", false},
		{"empty subject", APIKey, 200, with(apiKeyBody, "subject", `""`), CodeUnexpectedError, "", false},
		{"m2m subject not mch_", M2MToken, 200, with(m2mBody, "subject", `"user_1"`), CodeUnexpectedError, "", false},
		{"no revoked", APIKey, 200, with(apiKeyBody, "revoked", ""), CodeUnexpectedError, "", false},
		{"null expired", APIKey, 200, with(apiKeyBody, "expired", "null"), CodeUnexpectedError, "", false},
		{"revoked string", APIKey, 200, with(apiKeyBody, "revoked", `"false"`), CodeUnexpectedError, "", false},
		{"scopes not strings", APIKey, 200, with(apiKeyBody, "scopes", `[1]`), CodeUnexpectedError, "", false},
		{"claims not object", APIKey, 200, with(apiKeyBody, "claims", `"x"`), CodeUnexpectedError, "", false},
		{"expiration string", APIKey, 200, with(apiKeyBody, "expiration", `"soon"`), CodeUnexpectedError, "", false},
		{"expiration zero", APIKey, 200, with(apiKeyBody, "expiration", `0`), CodeUnexpectedError, "", false},
		{"case-folded revoked ignored", APIKey, 200, with(with(apiKeyBody, "revoked", "true"), "Revoked", "false"), CodeTokenInvalid, "API key is revoked (code=token-invalid, status=200)", true},
		{"session kind", SessionToken, 200, apiKeyBody, CodeUnexpectedError, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, e := ParseResult(tc.kind, tc.status, []byte(tc.body), now)
			if e == nil {
				t.Fatalf("signed in: %+v", r)
			}
			if e.Code != tc.code || e.Cacheable() != tc.cacheable || e.Kind != tc.kind {
				t.Errorf("code %s cacheable %v kind %s; want %s %v", e.Code, e.Cacheable(), e.Kind, tc.code, tc.cacheable)
			}
			if tc.msg != "" && e.FullMessage() != tc.msg {
				t.Errorf("message %q, want %q", e.FullMessage(), tc.msg)
			}
			if !reflect.DeepEqual(r, Result{}) {
				t.Errorf("a denial carries a result: %+v", r)
			}
		})
	}
}

func TestCheckOAuthAudience(t *testing.T) {
	withAud := func(aud string) Result {
		r, e := ParseResult(OAuthToken, 200, []byte(with(oauthBody, "aud", aud)), now)
		if e != nil {
			t.Fatal(e)
		}
		return r
	}
	tests := []struct {
		aud      string
		audience []string
		msg      string
	}{
		{`["https://api.example.com"]`, []string{"https://api.example.com"}, ""},
		{`"a"`, []string{"b", "a"}, ""},
		{`["x"]`, nil, ""},
		{`["x"]`, []string{""}, ""},
		{``, nil, ""},
		{`["x","y"]`, []string{"a"}, `OAuth audience mismatch. Verification expected audience ["a"], but incoming token has aud ["x","y"]. (code=token-verification-failed, status=n/a)`},
		{``, []string{"a"}, `Invalid OAuth audience claim (aud) undefined. Expected a non-empty string or a non-empty array of non-empty strings. (code=token-verification-failed, status=n/a)`},
		{`[]`, []string{"a"}, `Invalid OAuth audience claim (aud) []. Expected a non-empty string or a non-empty array of non-empty strings. (code=token-verification-failed, status=n/a)`},
		{`["a",""]`, []string{"a"}, `Invalid OAuth audience claim (aud) ["a",""]. Expected a non-empty string or a non-empty array of non-empty strings. (code=token-verification-failed, status=n/a)`},
		{`"<&>"`, []string{"a"}, `OAuth audience mismatch. Verification expected audience ["a"], but incoming token has aud "<&>". (code=token-verification-failed, status=n/a)`},
	}
	for _, tc := range tests {
		e := withAud(tc.aud).CheckOAuthAudience(tc.audience)
		got := ""
		if e != nil {
			got = e.FullMessage()
		}
		if got != tc.msg {
			t.Errorf("aud %s audience %q: %q, want %q", tc.aud, tc.audience, got, tc.msg)
		}
	}
	r, _ := ParseResult(APIKey, 200, []byte(apiKeyBody), now)
	if r.CheckOAuthAudience([]string{"a"}) != nil {
		t.Error("audience applied to an API key")
	}
}

// TestScopeText: the scopes as one header value, or none when a scope
// could not be read back from it.
func TestScopeText(t *testing.T) {
	for _, tc := range []struct {
		scopes []string
		want   string
	}{
		{nil, ""}, {[]string{}, ""}, {[]string{"read"}, "read"}, {[]string{"read", "org:write"}, "read org:write"},
		{[]string{"two words"}, ""}, {[]string{"a", "b\x01"}, ""}, {[]string{"tab\there"}, ""},
	} {
		if got := scopeText(tc.scopes); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.scopes, got, tc.want)
		}
	}
}

// FuzzParseResultFailsClosed: whatever the Backend API answers, a token is
// accepted only when the answer, read by encoding/json on its own, is a
// JSON object of the kind's resource with a string id, a non-empty
// subject (mch_ for M2M), revoked and expired false, active not false,
// and an expiration that is absent, null or after now; and only on a 2xx.
func FuzzParseResultFailsClosed(f *testing.F) {
	f.Add(0, 200, []byte(apiKeyBody))
	f.Add(0, 200, []byte(with(apiKeyBody, "revoked", "true")))
	f.Add(0, 200, []byte(with(apiKeyBody, "expiration", "1")))
	f.Add(1, 200, []byte(`{"object":"machine_to_machine_token","id":"mt_1","subject":"mch_1","revoked":false,"expired":false}`))
	f.Add(2, 200, []byte(`{"active":false}`))
	f.Add(2, 200, []byte(`{"object":"clerk_idp_oauth_access_token","id":"oat_1","subject":"user_1","revoked":false,"expired":false,"active":true}`))
	f.Add(0, 404, []byte(`{"errors":[{"message":"x"}]}`))
	f.Fuzz(func(t *testing.T, k, status int, body []byte) {
		kinds := []TokenType{APIKey, M2MToken, OAuthToken}
		kind := kinds[(k%3+3)%3]
		res, err := ParseResult(kind, status, body, now)
		if err != nil {
			return
		}
		if status < 200 || status > 299 {
			t.Fatalf("accepted on status %d", status)
		}
		var m map[string]any
		if json.Unmarshal(body, &m) != nil {
			t.Fatalf("accepted an answer that is not a JSON object: %q", body)
		}
		subject, _ := m["subject"].(string)
		if m["object"] != objectOf[kind] || subject == "" || subject != res.Subject || m["revoked"] != false || m["expired"] != false || m["active"] == false {
			t.Fatalf("accepted %q as %s", body, kind)
		}
		if _, ok := m["id"].(string); !ok {
			t.Fatalf("accepted an answer without a string id: %q", body)
		}
		if kind == M2MToken && !strings.HasPrefix(subject, M2MSubjectPrefix) {
			t.Fatalf("accepted an M2M token whose subject is no machine: %q", body)
		}
		if exp, ok := m["expiration"].(float64); ok {
			at, valid := expirationTime(exp)
			if !valid || !at.After(now) {
				t.Fatalf("accepted an expired answer: %q", body)
			}
		}
	})
}
