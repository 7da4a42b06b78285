package machine

import (
	"encoding/base64"
	"errors"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
)

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// jwtOf builds an unsigned token of the given header and payload JSON with a
// non-empty signature part.
func jwtOf(header, payload string) string { return b64(header) + "." + b64(payload) + "." + b64("sig") }

var (
	m2mJWT        = jwtOf(`{"alg":"RS256","typ":"JWT"}`, `{"sub":"mch_1","exp":1}`)
	oauthJWT      = jwtOf(`{"alg":"RS256","typ":"at+jwt"}`, `{"sub":"user_1"}`)
	oauthAppJWT   = jwtOf(`{"alg":"RS256","typ":"application/at+jwt"}`, `{"sub":"user_1"}`)
	bothJWT       = jwtOf(`{"typ":"at+jwt"}`, `{"sub":"mch_1"}`)
	sessionJWT    = jwtOf(`{"alg":"RS256","typ":"JWT"}`, `{"sub":"user_1","sid":"sess_1"}`)
	bomJWT        = b64("\xEF\xBB\xBF"+`{"typ":"at+jwt"}`) + "." + b64(`{}`) + "." + b64("s")
	nullHeaderJWT = jwtOf(`null`, `{"sub":"mch_1"}`)
	arrayHdrJWT   = jwtOf(`[]`, `{"sub":"mch_1"}`)
	emptySigJWT   = b64(`{"typ":"at+jwt"}`) + "." + b64(`{"sub":"mch_1"}`) + "."
	akDotted      = "ak_live_abc.def.ghi"
	oatM2M        = "oat_" + jwtOf(`{}`, `{"sub":"mch_1"}`)
)

func TestIsJWTFormat(t *testing.T) {
	for tok, want := range map[string]bool{
		"a.b.c": true, "a-_.B9.c": true, "a.b": false, "a.b.c.d": false, ".b.c": false, "a..c": false,
		"a.b.": false, "a.b.c=": false, "a.b.c ": false, "a+b.c.d": false, "": false, "a/b.c.d": false,
	} {
		if got := IsJWTFormat(tok); got != want {
			t.Errorf("IsJWTFormat(%q) = %v, want %v", tok, got, want)
		}
	}
}

func TestKindDetection(t *testing.T) {
	tests := []struct {
		name              string
		token             string
		machine, byPrefix bool
		oauth, m2m        bool
		kind              TokenType // "" when Clerk throws
		header            TokenType
	}{
		{"ak", "ak_123", true, true, false, false, APIKey, APIKey},
		{"mt", "mt_123", true, true, false, false, M2MToken, M2MToken},
		{"oat", "oat_123", true, true, false, false, OAuthToken, OAuthToken},
		{"bare prefix", "ak_", true, true, false, false, APIKey, APIKey},
		{"case matters", "AK_123", false, false, false, false, "", SessionToken},
		{"m2m jwt", m2mJWT, true, false, false, true, M2MToken, M2MToken},
		{"oauth jwt", oauthJWT, true, false, true, false, OAuthToken, OAuthToken},
		{"oauth application typ", oauthAppJWT, true, false, true, false, OAuthToken, OAuthToken},
		{"mch sub wins over at+jwt", bothJWT, true, false, true, true, M2MToken, M2MToken},
		{"session jwt", sessionJWT, false, false, false, false, "", SessionToken},
		{"BOM stripped like TextDecoder", bomJWT, true, false, true, false, OAuthToken, OAuthToken},
		{"null header only spoils typ", nullHeaderJWT, true, false, false, true, M2MToken, M2MToken},
		{"array header reads undefined", arrayHdrJWT, true, false, false, true, M2MToken, M2MToken},
		{"empty signature is not JWT format", emptySigJWT, false, false, false, false, "", SessionToken},
		{"ak_ with dots", akDotted, true, true, false, false, APIKey, APIKey},
		{"oat_ prefix spoils the header", oatM2M, true, true, false, false, OAuthToken, OAuthToken},
		{"empty", "", false, false, false, false, "", SessionToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsMachineToken(tc.token); got != tc.machine {
				t.Errorf("IsMachineToken = %v", got)
			}
			if got := IsMachineTokenByPrefix(tc.token); got != tc.byPrefix {
				t.Errorf("IsMachineTokenByPrefix = %v", got)
			}
			if got := IsOAuthJWT(tc.token); got != tc.oauth {
				t.Errorf("IsOAuthJWT = %v", got)
			}
			if got := IsM2MJWT(tc.token); got != tc.m2m {
				t.Errorf("IsM2MJWT = %v", got)
			}
			if got := IsMachineJWT(tc.token); got != (tc.oauth || tc.m2m) {
				t.Errorf("IsMachineJWT = %v", got)
			}
			k, ok := MachineTokenType(tc.token)
			if k != tc.kind || ok != (tc.kind != "") {
				t.Errorf("MachineTokenType = %q, %v; want %q", k, ok, tc.kind)
			}
			if got := HeaderTokenType(tc.token); got != tc.header {
				t.Errorf("HeaderTokenType = %q, want %q", got, tc.header)
			}
		})
	}
}

func TestParseAcceptsToken(t *testing.T) {
	all := []TokenType{"", SessionToken, APIKey, M2MToken, OAuthToken}
	tests := []struct {
		in      []string
		allowed []TokenType
		list    bool
		err     string
	}{
		{[]string{"any"}, []TokenType{SessionToken, APIKey, M2MToken, OAuthToken}, false, ""},
		{[]string{"api_key"}, []TokenType{APIKey}, false, ""},
		{[]string{"session_token"}, []TokenType{SessionToken}, false, ""},
		{[]string{"api_key", "m2m_token"}, []TokenType{APIKey, M2MToken}, true, ""},
		{[]string{"api_key", "api_key"}, []TokenType{APIKey}, true, ""},
		{[]string{"api_keys"}, nil, false, `unknown token type "api_keys"`},
		{[]string{"api_key", "any"}, nil, false, "any must be the only value"},
		{nil, nil, false, "no token type"},
		{[]string{""}, nil, false, `unknown token type ""`},
	}
	for _, tc := range tests {
		a, err := ParseAcceptsToken(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if a.IsList() != tc.list {
			t.Errorf("%q: IsList = %v", tc.in, a.IsList())
		}
		for _, ty := range all {
			want := false
			for _, w := range tc.allowed {
				want = want || w == ty
			}
			if a.Allows(ty) != want || IsTokenTypeAccepted(ty, a) != want {
				t.Errorf("%q: Allows(%q) = %v, want %v", tc.in, ty, a.Allows(ty), want)
			}
		}
	}
	var u *UnknownTokenTypeError
	if _, err := ParseAcceptsToken([]string{"jwt"}); !errors.As(err, &u) || u.Value != "jwt" {
		t.Errorf("unknown value error = %#v", err)
	}
}

func TestMismatch(t *testing.T) {
	mustAccepts := func(v ...string) Accepts {
		a, err := ParseAcceptsToken(v)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	tests := []struct {
		accepts  Accepts
		token    string
		state    TokenType
		mismatch bool
	}{
		{mustAccepts("api_key"), "ak_1", "", false},
		{mustAccepts("api_key"), "mt_1", APIKey, true},
		{mustAccepts("api_key"), sessionJWT, APIKey, true},
		{mustAccepts("api_key"), "", "", false},
		{mustAccepts("m2m_token"), m2mJWT, "", false},
		{mustAccepts("oauth_token"), bothJWT, OAuthToken, true},
		{mustAccepts("oauth_token"), emptySigJWT, OAuthToken, true},
		{mustAccepts("any"), "mt_1", "", false},
		{mustAccepts("session_token"), "mt_1", "", false},
		{mustAccepts("session_token", "api_key"), "", "", false},
		{mustAccepts("api_key", "m2m_token"), "", "", true},
		{mustAccepts("api_key", "m2m_token"), "oat_1", "", true},
		{mustAccepts("api_key", "m2m_token"), "mt_1", "", false},
		{mustAccepts("api_key", "m2m_token"), sessionJWT, "", true},
		{mustAccepts("session_token", "api_key"), sessionJWT, "", false},
	}
	for i, tc := range tests {
		s, m := tc.accepts.Mismatch(tc.token)
		if s != tc.state || m != tc.mismatch {
			t.Errorf("%d %v %.20q: Mismatch = %q, %v; want %q, %v", i, tc.accepts.Types(), tc.token, s, m, tc.state, tc.mismatch)
		}
	}
}

// conformanceTokens are generated to cover every branch of Clerk's kind
// detection: prefixes, JWT shapes, typ and sub values, broken encodings.
func conformanceTokens() []string {
	r := rand.New(rand.NewPCG(1, 2))
	headers := []string{`{"typ":"at+jwt"}`, `{"typ":"application/at+jwt"}`, `{"typ":"JWT"}`, `{"typ":"AT+JWT"}`, `{}`, `null`, `[]`, `"x"`, `{"typ":1}`, `{bad`}
	payloads := []string{`{"sub":"mch_1"}`, `{"sub":"user_1"}`, `{"sub":"MCH_1"}`, `{"sub":1}`, `{}`, `null`, `3`, `{bad`, `{"sub":"mch_"}`}
	prefixes := []string{"", "ak_", "mt_", "oat_", "sk_", "mch_"}
	var toks []string
	for _, h := range headers {
		for _, p := range payloads {
			toks = append(toks, jwtOf(h, p), prefixes[r.IntN(len(prefixes))]+jwtOf(h, p))
		}
	}
	toks = append(toks, "ak_x", "mt_x", "oat_x", "x", "Ak_x", "ak", "a.b.c", "ak_a.b.c", emptySigJWT, bomJWT,
		b64(`{"typ":"at+jwt"}`)+"A."+b64(`{}`)+".sig", // 1 mod 4 length: not decodable
		b64(`{"typ":"at+jwt"}`)+"."+b64(`{}`)+".AB",   // non-zero trailing bits
		b64(`{"typ":"at+jwt"}`)+"."+b64(`{}`)+".AA")
	return toks
}

// TestConformanceWithClerk compares kind detection, the array and single
// mismatch checks and isTokenTypeAccepted with Clerk's own code
// (conformance/machine.mjs). Without node it is skipped, except in CI.
func TestConformanceWithClerk(t *testing.T) {
	dir := filepath.Join("..", "..", "conformance")
	testkit.EnsureConformanceRunner(t, dir)
	tokens := conformanceTokens()
	acceptsIn := [][]string{{"any"}, {"session_token"}, {"api_key"}, {"m2m_token"}, {"oauth_token"},
		{"api_key", "m2m_token"}, {"session_token", "oauth_token"}, {"session_token", "api_key", "m2m_token", "oauth_token"}}
	var jsAccepts []any
	for _, a := range acceptsIn {
		if len(a) == 1 {
			jsAccepts = append(jsAccepts, a[0])
		} else {
			jsAccepts = append(jsAccepts, a)
		}
	}
	var got struct {
		Tokens []struct {
			IsMachineToken bool            `json:"isMachineToken"`
			ByPrefix       bool            `json:"byPrefix"`
			ArrayMismatch  map[string]bool `json:"arrayMismatch"`
			SingleMismatch map[string]bool `json:"singleMismatch"`
		} `json:"tokens"`
		Accepted [][]bool `json:"accepted"`
	}
	testkit.RunNode(t, dir, "machine.mjs", map[string]any{"tokens": tokens, "accepts": jsAccepts}, &got)
	if len(got.Tokens) != len(tokens) || len(got.Accepted) != len(acceptsIn) {
		t.Fatalf("node answered %d tokens, %d accepts", len(got.Tokens), len(got.Accepted))
	}
	for i, tok := range tokens {
		c := got.Tokens[i]
		if IsMachineToken(tok) != c.IsMachineToken || IsMachineTokenByPrefix(tok) != c.ByPrefix {
			t.Errorf("%q: IsMachineToken %v/%v, byPrefix %v/%v (Go/Clerk)", tok, IsMachineToken(tok), c.IsMachineToken, IsMachineTokenByPrefix(tok), c.ByPrefix)
		}
		for ty, clerk := range c.ArrayMismatch {
			a, _ := ParseAcceptsToken([]string{ty, ty}) // a one-type array
			if _, m := a.Mismatch(tok); m != clerk {
				t.Errorf("%q: acceptsToken [%s] mismatch Go %v, Clerk %v", tok, ty, m, clerk)
			}
		}
		for ty, clerk := range c.SingleMismatch {
			a, _ := ParseAcceptsToken([]string{ty})
			s, m := a.Mismatch(tok)
			if m != clerk || (m && s != TokenType(ty)) {
				t.Errorf("%q: acceptsToken %s mismatch Go %v (%q), Clerk %v", tok, ty, m, s, clerk)
			}
		}
	}
	types := []TokenType{"", SessionToken, APIKey, M2MToken, OAuthToken}
	for i, in := range acceptsIn {
		a, err := ParseAcceptsToken(in)
		if err != nil {
			t.Fatal(err)
		}
		for j, ty := range types {
			if a.Allows(ty) != got.Accepted[i][j] {
				t.Errorf("isTokenTypeAccepted(%q, %v): Go %v, Clerk %v", ty, in, a.Allows(ty), got.Accepted[i][j])
			}
		}
	}
}
