package authn

import "testing"

// stripHTTPSchemes is iss.replace(/https?:\/\//gi, "") (tokenBelongsToInstance).
func TestStripHTTPSchemes(t *testing.T) {
	for in, want := range map[string]string{
		"https://clerk.example.com":        "clerk.example.com",
		"HTTP://clerk.example.com":         "clerk.example.com",
		"hTtPs://clerk.example.com":        "clerk.example.com",
		"clerk.example.com":                "clerk.example.com",
		"https://http://clerk.example.com": "clerk.example.com",
		"xhttps://clerk.example.com":       "xclerk.example.com",
		"https:/clerk.example.com":         "https:/clerk.example.com",
		"httpsx://a":                       "httpsx://a",
		"clerk.example.com/HTTPS://":       "clerk.example.com/",
		"":                                 "",
	} {
		if got := stripHTTPSchemes(in); got != want {
			t.Errorf("stripHTTPSchemes(%q) = %q, want %q", in, got, want)
		}
	}
}

// sessionParamSpellings counts the spellings other parsers read as the
// session parameter (signedInChecks, "Decision: checks we add").
func TestSessionParamSpellings(t *testing.T) {
	for raw, want := range map[string]struct {
		n     int
		clean bool
	}{
		"_clerk_session_id=s":                     {1, true},
		"a=1&_clerk_session_id=s":                 {1, true},
		"_CLERK_session_id=s":                     {1, false},
		"_clerk.session_id=s":                     {1, false},
		"_clerk_session_id[]=s":                   {1, false},
		"%5Fclerk_session_id=s":                   {1, false},
		"_clerk_session_id=s;_clerk_session_id=t": {2, false},
		"other=1": {0, false},
	} {
		n, clean := sessionParamSpellings(raw, "_clerk_session_id")
		if n != want.n || clean != want.clean {
			t.Errorf("%q: %d %v, want %d %v", raw, n, clean, want.n, want.clean)
		}
	}
}

// parseAuthorizationHeader is Clerk's: Bearer (case sensitive) or a bare
// token; another scheme is no token.
func TestParseAuthorizationHeader(t *testing.T) {
	for v, want := range map[string]string{
		"Bearer abc": "abc", "abc": "abc", "bearer abc": "", "Basic dXNlcg==": "",
		"Bearer a b": "a", "": "", "Bearer ": "Bearer",
	} {
		if got := ParseAuthorizationHeader(v); got != want {
			t.Errorf("%q: %q, want %q", v, got, want)
		}
	}
}
