package wire

import (
	"regexp"
	"testing"

	"github.com/clerk-edge/clerk_auth/internal/testkit"
)

// Every reason code is kebab-case, as Clerk's are, and no two reason
// constants share a code: a code names one cause.
func TestReasonCodes(t *testing.T) {
	kebab := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	seen := map[string]string{}
	names, codes := testkit.StringConsts(t, "wire.go", "Reason", "Refresh")
	for i, code := range codes {
		if !kebab.MatchString(code) {
			t.Errorf("%s = %q is not kebab-case", names[i], code)
		}
		if other, dup := seen[code]; dup {
			t.Errorf("%s and %s are both %q", names[i], other, code)
		}
		seen[code] = names[i]
	}
	if len(seen) < 30 {
		t.Fatalf("found %d reason constants", len(seen))
	}
}

// Cookie and query names that Clerk shares keep one spelling.
func TestSharedNames(t *testing.T) {
	if CookieHandshake != QueryHandshake || CookieDevBrowser != QueryDevBrowser || CookieSession != QuerySession {
		t.Fatal("a cookie and its query parameter differ")
	}
	if StatusSignedIn != "signed-in" || StatusSignedOut != "signed-out" || StatusHandshake != "handshake" {
		t.Fatal("auth statuses")
	}
}
