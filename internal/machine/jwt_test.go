package machine

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func obj(s string) map[string]any {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		panic(err)
	}
	return m
}

func TestCheckJWTHeader(t *testing.T) {
	tests := []struct {
		kind   TokenType
		header string
		code   string
		msg    string
	}{
		{M2MToken, `{"alg":"RS256","typ":"JWT","cat":"cl_B7d4PD333AAA"}`, "", ""},
		{M2MToken, `{"alg":"RS512"}`, "", ""},
		{M2MToken, `{"alg":"RS256","cat":"cl_B7d4PD111AAA"}`, CodeTokenInvalid, "Invalid M2M JWT category."},
		{M2MToken, `{"alg":"RS256","cat":"cl_I7d4PD111III"}`, CodeTokenInvalid, "Invalid M2M JWT category."},
		{M2MToken, `{"alg":"HS256","cat":null}`, CodeTokenInvalid, "Invalid M2M JWT category."},
		{M2MToken, `{"alg":"RS256","typ":"at+jwt"}`, CodeTokenVerificationFailed, `Invalid JWT type "at+jwt". Expected "JWT".`},
		{M2MToken, `{"alg":"RS256","typ":null}`, CodeTokenVerificationFailed, `Invalid JWT type null. Expected "JWT".`},
		{M2MToken, `{"alg":"HS256"}`, CodeTokenVerificationFailed, `Invalid JWT algorithm "HS256". Supported: RS256,RS384,RS512.`},
		{M2MToken, `{}`, CodeTokenVerificationFailed, `Invalid JWT algorithm undefined. Supported: RS256,RS384,RS512.`},
		{OAuthToken, `{"alg":"RS256","typ":"at+jwt","cat":"cl_B7d4PD111AAA"}`, "", ""},
		{OAuthToken, `{"alg":"RS256","typ":"application/at+jwt"}`, "", ""},
		{OAuthToken, `{"alg":"RS256"}`, CodeTokenVerificationFailed, `Invalid JWT type undefined. Expected "at+jwt, application/at+jwt".`},
		{OAuthToken, `{"alg":"RS256","typ":"JWT"}`, CodeTokenVerificationFailed, `Invalid JWT type "JWT". Expected "at+jwt, application/at+jwt".`},
		{APIKey, `{"alg":"RS256"}`, CodeUnexpectedError, "Unexpected error"},
	}
	for _, tc := range tests {
		e := CheckJWTHeader(tc.kind, obj(tc.header))
		if tc.code == "" {
			if e != nil {
				t.Errorf("%s %s: %v", tc.kind, tc.header, e)
			}
			continue
		}
		if e == nil || e.Code != tc.code || e.Message != tc.msg || e.Kind != tc.kind {
			t.Errorf("%s %s: %+v, want %s %q", tc.kind, tc.header, e, tc.code, tc.msg)
		}
	}
}

func TestCheckJWTClaims(t *testing.T) {
	at := time.Unix(1666648300, 0) // between iat 1666648250 and exp 1666648550
	tests := []struct {
		kind     TokenType
		payload  string
		audience []string
		at       time.Time
		msg      string
	}{
		{M2MToken, `{"sub":"mch_1","exp":1666648550}`, nil, at, ""},
		{M2MToken, `{"exp":1666648550}`, nil, at, "Subject claim (sub) is required and must be a string. Received undefined."},
		{M2MToken, `{"sub":5,"exp":1666648550}`, nil, at, "Subject claim (sub) is required and must be a string. Received 5."},
		{M2MToken, `{"sub":"mch_1"}`, nil, at, "Invalid JWT expiry date claim (exp) undefined. Expected number."},
		{M2MToken, `{"sub":"mch_1","exp":"1"}`, nil, at, `Invalid JWT expiry date claim (exp) "1". Expected number.`},
		{M2MToken, `{"sub":"mch_1","exp":1666648295}`, nil, at, "JWT is expired. Expiry date: Mon, 24 Oct 2022 21:51:35 GMT, Current date: Mon, 24 Oct 2022 21:51:40 GMT."},
		{M2MToken, `{"sub":"mch_1","exp":1666648296}`, nil, at, ""}, // within the 5 s skew
		{M2MToken, `{"sub":"mch_1","exp":1666648550,"nbf":1666648306}`, nil, at, "JWT cannot be used prior to not before date claim (nbf). Not before date: Mon, 24 Oct 2022 21:51:46 GMT; Current date: Mon, 24 Oct 2022 21:51:40 GMT;"},
		{M2MToken, `{"sub":"mch_1","exp":1666648550,"nbf":1666648305}`, nil, at, ""},
		{M2MToken, `{"sub":"mch_1","exp":1666648550,"nbf":null}`, nil, at, "Invalid JWT not before date claim (nbf) null. Expected number."},
		{M2MToken, `{"sub":"mch_1","exp":1666648550,"iat":1666648306}`, nil, at, "JWT issued at date claim (iat) is in the future. Issued at date: Mon, 24 Oct 2022 21:51:46 GMT; Current date: Mon, 24 Oct 2022 21:51:40 GMT;"},
		{M2MToken, `{"sub":"mch_1","exp":1666648550,"aud":"x"}`, []string{"y"}, at, `Invalid JWT audience claim (aud) "x". Is not included in "["y"]".`},
		{M2MToken, `{"sub":"mch_1","exp":1666648550,"aud":["x"]}`, []string{"y"}, at, `Invalid JWT audience claim array (aud) ["x"]. Is not included in "["y"]".`},
		{M2MToken, `{"sub":"mch_1","exp":1666648550,"aud":["x","y"]}`, []string{"y"}, at, ""},
		{M2MToken, `{"sub":"mch_1","exp":1666648550}`, []string{"y"}, at, ""}, // no aud: not checked
		{M2MToken, `{"sub":"mch_1","exp":1666648550,"aud":"x"}`, nil, at, ""},
		{OAuthToken, `{"sub":"user_1","exp":1666648550,"aud":"x"}`, []string{"y"}, at, ""}, // OAuth: aud later
		{OAuthToken, `{"sub":"user_1","exp":1666648200}`, nil, at, "JWT is expired. Expiry date: Mon, 24 Oct 2022 21:50:00 GMT, Current date: Mon, 24 Oct 2022 21:51:40 GMT."},
		{M2MToken, `{"sub":"mch_1","exp":1e300}`, nil, at, ""}, // an invalid date never expires in JS
	}
	for _, tc := range tests {
		_, e := CheckJWTClaims(tc.kind, obj(tc.payload), JWTOptions{Audience: tc.audience}, tc.at)
		got := ""
		if e != nil {
			if e.Code != CodeTokenVerificationFailed || e.Kind != tc.kind {
				t.Errorf("%s: code %s kind %s", tc.payload, e.Code, e.Kind)
			}
			got = e.Message
		}
		if got != tc.msg {
			t.Errorf("%s %s: %q, want %q", tc.kind, tc.payload, got, tc.msg)
		}
	}
}

func TestCheckJWTClaimsResults(t *testing.T) {
	at := time.Unix(1666648300, 0)
	r, e := CheckJWTClaims(M2MToken, obj(`{"sub":"mch_1","exp":1666648550,"iat":1666648250,"jti":"mt_1","iss":"x","scopes":"mch_a mch_b","foo":1}`), JWTOptions{}, at)
	if e != nil {
		t.Fatal(e)
	}
	want := Result{Kind: M2MToken, ID: "mt_1", Subject: "mch_1", MachineID: "mch_1", Scopes: []string{"mch_a", "mch_b"}, ScopeText: "mch_a mch_b",
		Claims: map[string]any{"scopes": "mch_a mch_b", "foo": 1.0}, Expiry: time.Unix(1666648550, 0)}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("m2m: %+v", r)
	}
	r, _ = CheckJWTClaims(M2MToken, obj(`{"sub":"mch_1","exp":1666648550,"aud":["mch_x"]}`), JWTOptions{}, at)
	if !reflect.DeepEqual(r.Scopes, []string{"mch_x"}) || r.ID != "" {
		t.Errorf("m2m scopes from aud: %+v", r)
	}
	r, _ = CheckJWTClaims(M2MToken, obj(`{"sub":"mch_1","exp":1666648550}`), JWTOptions{}, at)
	if r.Claims != nil || r.Scopes == nil {
		t.Errorf("m2m without custom claims: %+v", r)
	}
	// The payload of Clerk's mockSignedOAuthAccessTokenJwt (dist/fixtures/machine.d.ts).
	p := `{"azp":"https://accounts.inspired.puma-74.lcl.dev","exp":1666648550,"iat":1666648250,"iss":"https://clerk.oauth.example.test","nbf":1666648240,"sid":"sess_2GbDB4enNdCa5vS1zpC3Xzg9tK9","sub":"user_2vYVtestTESTtestTESTtestTESTtest","client_id":"client_2VTWUzvGC5UhdJCNx6xG1D98edc","scope":"read:foo write:bar","jti":"oat_2xKa9Bgv7NxMRDFyQw8LpZ3cTmU1vHjE"}`
	r, e = CheckJWTClaims(OAuthToken, obj(p), JWTOptions{}, at)
	if e != nil || r.ID != "oat_2xKa9Bgv7NxMRDFyQw8LpZ3cTmU1vHjE" || r.ClientID != "client_2VTWUzvGC5UhdJCNx6xG1D98edc" ||
		r.UserID != "user_2vYVtestTESTtestTESTtestTESTtest" || !reflect.DeepEqual(r.Scopes, []string{"read:foo", "write:bar"}) {
		t.Errorf("oauth: %+v %v", r, e)
	}
	if e := r.CheckOAuthAudience([]string{"https://api.example.com"}); e == nil || e.Code != CodeTokenVerificationFailed {
		t.Errorf("oauth JWT without aud passed an audience: %v", e)
	}
	r, _ = CheckJWTClaims(OAuthToken, obj(`{"sub":"user_1","exp":1666648550,"scp":["a","b"],"scope":"c","aud":"api"}`), JWTOptions{}, at)
	if !reflect.DeepEqual(r.Scopes, []string{"a", "b"}) || r.CheckOAuthAudience([]string{"api"}) != nil {
		t.Errorf("oauth scp: %+v", r)
	}
}
