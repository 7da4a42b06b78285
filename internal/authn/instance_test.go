package authn

import (
	"encoding/base64"
	"strings"
	"testing"
)

// The publishable key names the Frontend API host and the instance type;
// anything else is refused, and the cookie suffix is derived from the key.
func TestParsePublishableKey(t *testing.T) {
	host, prod, err := parsePublishableKey(testPK)
	if err != nil || host != testFAPIHost || !prod {
		t.Fatalf("%q %v %v", host, prod, err)
	}
	host, prod, err = parsePublishableKey(testDevPK)
	if err != nil || host != "foo-bar-13.clerk.accounts.dev" || prod {
		t.Fatalf("dev key: %q %v %v", host, prod, err)
	}
	for _, bad := range []string{"", "pk_live_", "sk_live_" + base64.StdEncoding.EncodeToString([]byte("x.example.com$")), "pk_live_" + base64.StdEncoding.EncodeToString([]byte("no-dollar"))} {
		if _, _, err := parsePublishableKey(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
	if a, b := cookieSuffix(testPK), cookieSuffix(testDevPK); a == "" || a == b {
		t.Fatalf("suffixes %q %q", a, b)
	}
}

// An instance built from the key answers the Frontend API of its host, and
// a proxy URL replaces it.
func TestNewInstance(t *testing.T) {
	in, err := NewInstance(testPK, "", "", false)
	if err != nil || in.frontendAPIBase() != "https://"+testFAPIHost {
		t.Fatalf("%v %v", in, err)
	}
	in, err = NewInstance(testPK, "https://app.example.com/__clerk", "", false)
	if err != nil || in.frontendAPIBase() != "https://app.example.com/__clerk" {
		t.Fatalf("with a proxy URL: %v", err)
	}
}

// A production satellite's Frontend API is clerk.<domain>, and so is the
// issuer Clerk matches tokens against to choose between suffixed and plain
// cookies (originalFrontendApi); the Account Portal stays the primary's.
func TestProductionSatelliteInstance(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		proxy                      string
		fapiHost, frontendAPI, iss string
	}{
		{"domain", "", "clerk.sat.example.org", "clerk.sat.example.org", "https://clerk.sat.example.org"},
		{"domain and proxy", "https://sat.example.org/__clerk", "clerk.sat.example.org", "https://sat.example.org/__clerk", "https://sat.example.org/__clerk"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := NewInstance(testPK, tc.proxy, "sat.example.org", true)
			if err != nil {
				t.Fatal(err)
			}
			if in.fapiHost != tc.fapiHost || in.frontendAPI != tc.frontendAPI || in.issuer(tc.proxy) != tc.iss {
				t.Errorf("fapiHost %q, frontendAPI %q, issuer %q; want %q, %q, %q", in.fapiHost, in.frontendAPI, in.issuer(tc.proxy), tc.fapiHost, tc.frontendAPI, tc.iss)
			}
			if got := in.defaultSignInURL(); got != "https://accounts.example.com/sign-in" {
				t.Errorf("default sign-in URL %q, want the primary's Account Portal", got)
			}
		})
	}
	// A development key ignores the domain, as @clerk/shared does.
	in, err := NewInstance(testDevPK, "", "sat.example.org", true)
	if err != nil {
		t.Fatal(err)
	}
	if in.fapiHost != "foo-bar-13.clerk.accounts.dev" {
		t.Errorf("development satellite fapiHost %q", in.fapiHost)
	}
}

func FuzzPublishableKey(f *testing.F) {
	for _, s := range []string{
		testPK, testDevPK, "pk_live_Y2xlcmsuZGVtby5sb2NhbGhvc3Qk" /* demo mode's */, "", "pk_live_", "pk_test_Zm9vJA", "pk_live_Y2xlcmsuZXhhbXBsZS5jb20kJA==",
		"pk_live_Y2xlcmsuZXhhbXBsZS5jb20k_x", "sk_test_Y2xlcmsuZXhhbXBsZS5jb20k", "pk_live_Y2xlcmsuZXhhbXBsZS5jb20k====",
		"pk_test_JA", "pk_test_LiQ", "pk_live_" + strings.Repeat("QUFB", 1000),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pk string) {
		host, prod, err := parsePublishableKey(pk)
		if err != nil {
			return
		}
		if host == "" || !strings.Contains(host, ".") || strings.Contains(host, "$") {
			t.Fatalf("parsePublishableKey(%q) gave host %q", pk, host)
		}
		if prod != strings.HasPrefix(pk, "pk_live_") {
			t.Fatalf("parsePublishableKey(%q): production=%v", pk, prod)
		}
		for _, sat := range []bool{false, true} {
			in, err := NewInstance(pk, "", "example.com", sat)
			if err != nil {
				t.Fatalf("newInstance after a successful parse: %v", err)
			}
			// A production satellite's tokens are issued by clerk.<domain>.
			wantIssuer := "https://" + host
			if sat && prod {
				wantIssuer = "https://clerk.example.com"
			}
			if len(in.cookieSuffix) != 8 || !strings.HasPrefix(in.frontendAPIBase(), "https://") ||
				!strings.HasPrefix(in.defaultSignInURL(), "https://") || in.issuer("") != wantIssuer {
				t.Fatalf("derived values of %q: %+v", pk, in)
			}
		}
	})
}
