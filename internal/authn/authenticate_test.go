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
