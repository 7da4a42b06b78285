package jsonscan

import (
	"encoding/json"
	"testing"
)

// kindOf is the jsonKind encoding/json's decoding into any gives.
func kindOf(v any, present bool) Kind {
	if !present {
		return Absent
	}
	switch x := v.(type) {
	case nil:
		return Null
	case bool:
		if x {
			return True
		}
		return False
	case float64:
		return Number
	case string:
		return String
	case map[string]any:
		return Object
	default:
		return Array
	}
}

// checkAgainstEncodingJSON compares readMembers on payload with what
// json.Unmarshal into a map (the decoding it replaces) gives for every claim.
func checkAgainstEncodingJSON(t *testing.T, payload string) {
	t.Helper()
	var v any
	// readMembers checks the grammar itself: it must refuse what json.Valid
	// refuses, and what encoding/json fails to decode.
	wantErr := !json.Valid([]byte(payload)) || json.Unmarshal([]byte(payload), &v) != nil
	got := make([]Value, len(claimNames.names))
	err := ReadMembers(payload, claimNames, got, true)
	if (err != nil) != wantErr {
		t.Fatalf("%q: readMembers error %v, encoding/json failed: %v", payload, err, wantErr)
	}
	if wantErr {
		return
	}
	m, _ := v.(map[string]any)
	for i, name := range claimNames.names {
		raw, present := m[name]
		if k := kindOf(raw, present); got[i].Kind != k {
			t.Fatalf("%q: claim %s: kind %d, want %d", payload, name, got[i].Kind, k)
		}
		switch x := raw.(type) {
		case string:
			if got[i].Str != x {
				t.Fatalf("%q: claim %s: %q, want %q", payload, name, got[i].Str, x)
			}
		case float64:
			if got[i].Num != x {
				t.Fatalf("%q: claim %s: %v, want %v", payload, name, got[i].Num, x)
			}
		}
	}
}

// claimNames are the claims a session token's decoding reads.
var claimNames = NewNames([]string{"sub", "azp", "iss", "exp", "nbf", "iat", "sid", "sts", "v", "o",
	"org_id", "org_role", "org_slug", "act", "fea", "pla", "org_permissions", "aud"})

var payloadCases = []string{
	`{"sub":"user_1","exp":1767000050,"iat":1767000000,"nbf":1766999990,"azp":"https://app.example.com","iss":"https://clerk.example.com","sid":"sess_1","sts":"active","v":2,"o":{"id":"org_1","rol":"admin","slg":"acme"}}`,
	`{"sub":5,"exp":"1767000050","iat":null,"nbf":true,"azp":["x"],"iss":{"a":1},"sid":false}`,
	`{"sub":"a","sub":"b","exp":1,"exp":null}`,
	`{ "sub" : "\u0075ser" , "s\u0075b2":1, "azp":"h\u00e9llo\ud800", "iss":"line\nbreak\"q" }`,
	`{"sub":"\xff\xfe bad utf8","iss":"ok"}`,
	`{"exp":1e400}`,
	`{"deep":{"x":[1,2,{"y":-1e999}]},"sub":"u"}`,
	`{"exp":-0.0,"nbf":1.5e3,"iat":123456789012345678901234567890}`,
	`[1,2,3]`,
	`[1e400]`,
	`"just a string"`,
	`null`,
	`{}`,
	`{"nested":{"sub":"not top level"},"arr":[{"exp":1}]}`,
	`{"o":{"id":1,"rol":null},"act":{"sub":"actor_1"},"v":2.0}`,
	"\t{\n\"sub\"\r:\"u\" }\n",
	// Not JSON, each as json.Valid refuses it.
	``, ` `, `{`, `}`, `{"sub"}`, `{"sub":}`, `{"sub":"u",}`, `{"sub":"u"`, `{,}`, `{"a":1 "b":2}`,
	`{'sub':'u'}`, `{sub:"u"}`, `[1,]`, `[,1]`, `[1 2]`, `[`, `]`, `01`, `-`, `-01`, `1.`, `.5`, `1e`, `1e+`,
	`+1`, `0x10`, `NaN`, `Infinity`, `tru`, `truex`, `nul`, `falsey`, `"\x"`, `"\u12"`, `"\u12g4"`,
	"\"tab\there\"", "\"nl\nhere\"", `"unterminated`, `"a\"`, `{"a":1}{}`, `{"a":1} x`, `1 2`,
	"\u00a0{}", "{}\u00a0", "\v{}", `{"a":[1,{"b":[}]}`, `{"a":-}`, `{"a":1.e5}`, `{"a":1E-7}`, `{"a":-0}`,
	`{"\ud800":1}`, `{"a\u0000b":"\u0000"}`,
	// Integers on both sides of the fast path.
	`{"exp":999999999999999,"iat":-999999999999999,"nbf":9999999999999999,"v":-0}`,
	`{"exp":9007199254740993,"iat":12345678901234567890,"nbf":-1e0}`,
}

func TestReadMembersMatchesEncodingJSON(t *testing.T) {
	for _, p := range payloadCases {
		checkAgainstEncodingJSON(t, p)
	}
}

func FuzzReadMembersMatchesEncodingJSON(f *testing.F) {
	for _, p := range payloadCases {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		checkAgainstEncodingJSON(t, payload)
	})
}

// plainRun finds the first special byte wherever it sits in a word, and
// whatever plain bytes surround it.
func TestPlainRun(t *testing.T) {
	specials := []byte{'"', '\\', 0x00, 0x1f, 0x80, 0xff, 0xc3}
	plain := []byte{' ', '!', '#', '[', ']', 'a', '~', 0x7f, 0x21, 0x5b, 0x5d, 0x23}
	for n := 0; n <= 24; n++ {
		for at := 0; at <= n; at++ {
			for _, sp := range specials {
				for _, fill := range plain {
					b := make([]byte, n)
					for k := range b {
						b[k] = fill
					}
					want := n
					if at < n {
						b[at] = sp
						want = at
					}
					if got := plainRun(string(b), 0); got != want {
						t.Fatalf("plainRun(%q) = %d, want %d", b, got, want)
					}
				}
			}
		}
	}
}
