package clerkauth

import (
	"bytes"
	"crypto/rsa"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"github.com/spf13/cobra"
)

// runDiagnoseCommand runs clerk-diagnose as the caddy binary would, with a
// command of its own, and returns what it printed.
func runDiagnoseCommand(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := &cobra.Command{Use: "clerk-diagnose"}
	setupDiagnoseCommand(cmd)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestDiagnoseCommandIsRegistered(t *testing.T) {
	c, ok := caddycmd.Commands()["clerk-diagnose"]
	if !ok || c.CobraFunc == nil || c.Short == "" {
		t.Fatalf("clerk-diagnose is not registered as a caddy command: %+v", c)
	}
}

// TestDiagnoseExplains: for each kind of refusal, the command prints the
// decision, the reason, its plain-words explanation, which key verified the
// token (or that none did), and labels the claims verified or not.
func TestDiagnoseExplains(t *testing.T) {
	a, b := testkit.Keys(t)
	settings := []string{
		"--publishable-key", testPK, "--jwt-key", testkit.PublicPEM(t, a), "--authorized-parties", testOrigin,
		"--at", strconv.FormatInt(testNow.Unix(), 10),
	}
	const verifiedByPEM = "key:       signature verified with the configured jwt_key (PEM), RS256"
	expired := sessionToken(t, func(c map[string]any) { c["iat"], c["exp"] = testNow.Unix()-120, testNow.Unix()-60 })

	for _, tc := range []struct {
		name     string
		args     []string
		signedIn bool
		want     []string
		notWant  []string
	}{
		{"valid", []string{"--token", sessionToken(t)}, true, []string{
			"decision:  signed-in", "user:      user_1 (session sess_1)", "response:  the request goes on",
			verifiedByPEM, "Claims (verified: signature and claims pass)", `"sub": "user_1"`,
		}, []string{"UNVERIFIED", "reason:"}},
		{"expired", []string{"--token", expired}, false, []string{
			"decision:  signed-out", "reason:    session-token-expired-refresh-non-eligible-no-refresh-cookie",
			"detail:    JWT is expired.", "What to do:",
			"response:  401 Unauthorized", verifiedByPEM, "Claims (UNVERIFIED, token-expired",
			"exp: 2025-12-29T09:19:00Z (1m0s before the evaluation time)",
		}, nil},
		{"wrong authorized party", []string{"--token", sessionToken(t, func(c map[string]any) { c["azp"] = "https://other.example" })}, false, []string{
			"reason:    token-invalid-authorized-parties", verifiedByPEM,
			"Claims (UNVERIFIED, token-invalid-authorized-parties", `"azp": "https://other.example"`,
		}, nil},
		{"wrong issuer", []string{"--token", sessionToken(t, func(c map[string]any) { c["iss"] = "https://clerk.other.example" })}, false, []string{
			"reason:    token-invalid-issuer", `Expected "https://clerk.example.com"`, "Claims (UNVERIFIED, token-invalid-issuer",
		}, nil},
		{"wrong key", []string{"--token", testkit.SignJWT(t, b, map[string]any{"typ": "JWT", "kid": "ins_b"}, sessionClaims())}, false, []string{
			"reason:    token-invalid-signature", "key:       the configured jwt_key (PEM) does NOT verify the signature (token-invalid-signature)",
			"Claims (UNVERIFIED, token-invalid-signature",
		}, []string{"signature verified"}},
		{"malformed", []string{"--token", "not-a-jwt"}, false, []string{
			"reason:    token-invalid", "key:       none: the token could not be decoded",
		}, []string{"Claims"}},
		{"pending session", []string{"--token", sessionToken(t, func(c map[string]any) { c["sts"] = "pending" })}, false, []string{
			"reason:    session-pending", "allow_pending",
			verifiedByPEM, "Claims (verified: signature and claims pass)", `"sts": "pending"`,
		}, nil},
		{"session-id mismatch", []string{"--token", sessionToken(t), "--url", testOrigin + "/?_clerk_session_id=sess_2"}, false, []string{
			"request:   GET https://app.example.com/?_clerk_session_id=sess_2",
			"reason:    session-id-mismatch", "Claims (verified",
		}, nil},
		{"no session, page load", []string{"--document"}, false, []string{
			"token:     none", "reason:    session-token-and-uat-missing",
			"response:  307 redirect to https://accounts.example.com/sign-in?redirect_url=https%3A%2F%2Fapp.example.com%2F",
		}, []string{"key:"}},
		{"cookie, valid", []string{"--cookie", wire.CookieSession + "=" + sessionToken(t) + "; " + wire.CookieClientUAT + "=1"}, true, []string{
			"token:     from the __session cookie", "decision:  signed-in", verifiedByPEM,
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runDiagnoseCommand(t, append(append([]string{}, settings...), tc.args...)...)
			if tc.signedIn != (err == nil) || (err != nil && diagnoseExitCodeOf(err) < diagnoseExitDenied) {
				t.Errorf("error %v, signed in %v", err, tc.signedIn)
			}
			// The plain-words explanation of the reason, whole (the output
			// wraps it, so spaces are compared loosely).
			if reason := reasonLine(out); reason != "" {
				doc, ok := explainReason(reason)
				flat := strings.Join(strings.Fields(out), " ")
				if !ok || !strings.Contains(flat, strings.Join(strings.Fields(doc.Meaning), " ")) ||
					!strings.Contains(flat, strings.Join(strings.Fields(doc.Fix), " ")) {
					t.Errorf("the explanation of %s is not printed whole", reason)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q", w)
				}
			}
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
	}
}

// reasonLine is the reason code the output names.
func reasonLine(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if r, ok := strings.CutPrefix(line, "reason:    "); ok {
			return r
		}
	}
	return ""
}

// TestDiagnoseFromCaddyfile: the settings come from a Caddyfile's clerk_auth
// handler (picked by the URL's host among two sites), and the key from a
// remote JWKS, which the output names.
func TestDiagnoseFromCaddyfile(t *testing.T) {
	a, _ := testkit.Keys(t)
	jwks := newCountingJWKS(t)
	jwks.serveKeys(map[string]*rsa.PrivateKey{"ins_a": a})
	dir := t.TempDir()
	caddyfile := filepath.Join(dir, "Caddyfile")
	t.Setenv("DIAG_JWKS_URL", jwks.URL+"/jwks")
	os.WriteFile(caddyfile, []byte(`
app.example.com {
	clerk_auth {
		publishable_key `+testPK+`
		jwks_url {env.DIAG_JWKS_URL}
		authorized_parties https://app.example.com
	}
	respond "app"
}
other.example.com {
	clerk_auth {
		publishable_key `+testPK+`
		jwks_url {env.DIAG_JWKS_URL}
		authorized_parties https://other.example.com
	}
	respond "other"
}
`), 0o644)
	base := []string{"--config", caddyfile, "--at", strconv.FormatInt(testNow.Unix(), 10)}

	out, err := runDiagnoseCommand(t, append(base, "--url", "https://app.example.com/", "--token", sessionToken(t))...)
	if err != nil || !strings.Contains(out, "decision:  signed-in") ||
		!strings.Contains(out, `key:       signature verified with kid "ins_a" from `+jwks.URL+"/jwks, RS256") {
		t.Errorf("app site: err %v, output:\n%s", err, out)
	}
	// The other site's handler wants another authorized party.
	out, err = runDiagnoseCommand(t, append(base, "--url", "https://other.example.com/", "--token", sessionToken(t))...)
	if diagnoseExitCodeOf(err) != diagnoseExitSignedOut || !strings.Contains(out, "reason:    token-invalid-authorized-parties") {
		t.Errorf("other site: err %v, output:\n%s", err, out)
	}
	// Without a URL naming a site, the command asks which handler.
	_, err = runDiagnoseCommand(t, append(base, "--token", sessionToken(t))...)
	if err == nil || !strings.Contains(err.Error(), "--handler") {
		t.Errorf("ambiguous config: err %v", err)
	}
	// A flag overrides the config's setting.
	out, err = runDiagnoseCommand(t, append(base, "--handler", "2", "--authorized-parties", testOrigin, "--token", sessionToken(t))...)
	if err != nil || !strings.Contains(out, "decision:  signed-in") {
		t.Errorf("--handler 2 with --authorized-parties: err %v, output:\n%s", err, out)
	}
}
