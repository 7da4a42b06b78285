package clerkauth

import (
	"encoding/base64"
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
	in, err := newInstance(testPK, "", "", false)
	if err != nil || in.frontendAPIBase() != "https://"+testFAPIHost {
		t.Fatalf("%v %v", in, err)
	}
	in, err = newInstance(testPK, "https://app.example.com/__clerk", "", false)
	if err != nil || in.frontendAPIBase() != "https://app.example.com/__clerk" {
		t.Fatalf("with a proxy URL: %v", err)
	}
}
