package clerkauth

import (
	"crypto/rsa"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// diagnoseExitCodeOf is the exit status Caddy's main would give err: the
// ExitCode of caddycmd's (unexported) exit error, 1 for any other error, 0
// for none.
func diagnoseExitCodeOf(err error) int {
	if err == nil {
		return 0
	}
	v := reflect.ValueOf(err)
	if v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct {
		if f := v.Elem().FieldByName("ExitCode"); f.IsValid() && f.CanInt() {
			return int(f.Int())
		}
	}
	return 1
}

// TestDiagnoseExitCodes: each kind of decision exits with its own status,
// as the command's help lists them, and a rule's 403 is reported as a
// denial naming the rule, never as "the request goes on".
func TestDiagnoseExitCodes(t *testing.T) {
	a, _ := testkit.Keys(t)
	settings := []string{
		"--publishable-key", testPK, "--jwt-key", testkit.PublicPEM(t, a), "--authorized-parties", testOrigin,
		"--at", strconv.FormatInt(testNow.Unix(), 10),
	}
	expired := sessionToken(t, func(c map[string]any) { c["iat"], c["exp"] = testNow.Unix()-120, testNow.Unix()-60 })
	for _, tc := range []struct {
		name    string
		args    []string
		config  string // a Caddyfile, when the settings come from one
		code    int
		want    []string
		notWant []string
	}{
		{"signed in", []string{"--token", sessionToken(t)}, "", diagnoseExitSignedIn,
			[]string{"decision:  signed-in", "The token is valid: the request goes on"}, []string{"rule:"}},
		{"denied by a rule", []string{"--token", sessionToken(t)}, "require role admin", diagnoseExitDenied, []string{
			"decision:  signed-in", "reason:    missing-role", "rule:      require role admin",
			"response:  403 Forbidden", "X-Clerk-Auth-Reason: missing-role",
			`the rule "require role admin" refuses this session`,
		}, []string{"the request goes on"}},
		{"denied by deny impersonated", []string{"--token", sessionToken(t, func(c map[string]any) { c["act"] = map[string]any{"sub": "user_admin"} })},
			"deny impersonated", diagnoseExitDenied, []string{"rule:      deny impersonated", "response:  403 Forbidden"}, []string{"the request goes on"}},
		{"signed out", []string{"--token", expired}, "", diagnoseExitSignedOut, []string{"decision:  signed-out", "response:  401 Unauthorized"}, nil},
		{"signed out, sign-in redirect", []string{"--document"}, "", diagnoseExitSignedOut, []string{"response:  307 redirect to https://accounts.example.com/sign-in"}, nil},
		{"handshake", []string{"--document", "--cookie", wire.CookieSession + "=" + expired + "; " + wire.CookieClientUAT + "=1"}, "", diagnoseExitHandshake,
			[]string{"decision:  handshake", "response:  307 redirect to https://clerk.example.com/v1/client/handshake"}, nil},
		{"config error", []string{"--token", sessionToken(t), "--proxy-url", "clerk"}, "", diagnoseExitError, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{}, settings...)
			if tc.config != "" {
				args = []string{"--config", writeDiagnoseCaddyfile(t, a, tc.config), "--at", strconv.FormatInt(testNow.Unix(), 10)}
			}
			out, err := runDiagnoseCommand(t, append(args, tc.args...)...)
			if got := diagnoseExitCodeOf(err); got != tc.code {
				t.Errorf("exit status %d (%v), want %d\n%s", got, err, tc.code, out)
			}
			if tc.code == diagnoseExitDenied && (err == nil || !strings.Contains(err.Error(), "denied by an authorization rule")) {
				t.Errorf("error %v does not say a rule denied the request", err)
			}
			// The explanation is wrapped: compare with the spaces folded.
			flat := strings.Join(strings.Fields(out), " ")
			for _, w := range tc.want {
				if !strings.Contains(flat, strings.Join(strings.Fields(w), " ")) {
					t.Errorf("output lacks %q\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q\n%s", w, out)
				}
			}
		})
	}
}

// TestDiagnoseHelpListsExitCodes: the help documents every exit status.
func TestDiagnoseHelpListsExitCodes(t *testing.T) {
	long := diagnoseCommandLong(t)
	for _, w := range []string{"0  signed in and let in", "1  the settings", "2  signed in, but denied by an authorization rule", "3  signed out", "4  handshake"} {
		if !strings.Contains(long, w) {
			t.Errorf("clerk-diagnose help lacks %q", w)
		}
	}
}

// writeDiagnoseCaddyfile writes a Caddyfile whose clerk_auth block has the
// instance's key and the extra line, and returns its path.
func writeDiagnoseCaddyfile(t *testing.T, key *rsa.PrivateKey, extra string) string {
	t.Helper()
	dir := t.TempDir()
	pemPath := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(pemPath, []byte(testkit.PublicPEM(t, key)), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "Caddyfile")
	body := "app.example.com {\n\tclerk_auth {\n\t\tpublishable_key " + testPK + "\n\t\tjwt_key {file." + pemPath +
		"}\n\t\tauthorized_parties " + testOrigin + "\n\t\t" + extra + "\n\t}\n\trespond \"app\"\n}\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// diagnoseCommandLong is the registered command's help text.
func diagnoseCommandLong(t *testing.T) string {
	t.Helper()
	c, ok := caddycmd.Commands()["clerk-diagnose"]
	if !ok {
		t.Fatal("clerk-diagnose is not registered")
	}
	return c.Long
}
