package clerkauth

import (
	"testing"

	"github.com/clerk-edge/clerk_auth/internal/session"
)

// scopedValues makes the plan and features header values from pla and fea:
// user-scoped slugs first, each once, nothing for a malformed claim.
func TestScopedValues(t *testing.T) {
	for claim, want := range map[string]string{
		"":                         "",
		"u:pro":                    "pro",
		" u:pro\t":                 "pro",
		"\u00a0u:pro\ufeff":        "pro",
		"u:a,o:b":                  "a,b",
		"o:b,u:a":                  "a,b",
		"ou:x,u:x,o:y":             "x,y",
		"uo:z":                     "z",
		"o:a,o:a,u:a":              "a",
		"u:a,b":                    "",
		"u:a,,u:b":                 "",
		"x:a":                      "",
		"x:a,u:b":                  "b",
		"u:,u:a":                   ",a",
		"u:a:b":                    "a:b",
		"u:f1,u:f2,u:f3,o:f4,o:f1": "f1,f2,f3,f4",
	} {
		if got := session.ScopedValues(claim); got != want {
			t.Errorf("scopedValues(%q) = %q, want %q", claim, got, want)
		}
	}
}

// More slugs than the stack buffers hold still come out whole.
func TestScopedValuesMany(t *testing.T) {
	claim, want := "", ""
	for i := 0; i < 40; i++ {
		if i > 0 {
			claim += ","
			want += ","
		}
		slug := string(rune('a'+i%26)) + string(rune('a'+i/26))
		claim += "u:" + slug
		want += slug
	}
	if got := session.ScopedValues(claim); got != want {
		t.Fatalf("scopedValues of 40 slugs = %q, want %q", got, want)
	}
}
