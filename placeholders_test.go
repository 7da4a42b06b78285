package clerkauth

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// documentedPlaceholders are every placeholder README.md and
// docs/authorization.md name.
var documentedPlaceholders = []string{
	"http.auth.user.id", "http.auth.user.session_id", "http.auth.user.org_id", "http.auth.user.org_role",
	"http.auth.user.org_slug", "http.auth.user.actor_id", "http.auth.user.org_permissions", "http.auth.user.plan",
	"http.auth.user.features", "http.auth.user.email", "http.auth.user.email_verified", "http.auth.user.first_name",
	"http.auth.user.last_name", "http.auth.user.name", "http.auth.user.username", "http.auth.user.metadata.plan",
	"http.auth.clerk.status", "http.auth.clerk.reason",
}

// TestPlaceholdersKnownOnEveryRequest: signed out (both modes) or signed in
// without an organization, actor or user details, every documented
// placeholder is known, and empty when there is no such value.
func TestPlaceholdersKnownOnEveryRequest(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mode   string
		token  string
		values map[string]string // the non-empty ones
	}{
		{"signed out, require", "require", "", map[string]string{"http.auth.clerk.status": "signed-out", "http.auth.clerk.reason": wire.ReasonSessionTokenAndUATMissing}},
		{"signed out, optional", "optional", "", map[string]string{"http.auth.clerk.status": "signed-out", "http.auth.clerk.reason": wire.ReasonSessionTokenAndUATMissing}},
		{"signed in, no organization", "require", sessionToken(t), map[string]string{"http.auth.clerk.status": "signed-in",
			"http.auth.user.id": "user_1", "http.auth.user.session_id": "sess_1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHandler(t, func(h *Handler) { h.Mode = tc.mode })
			r := newRequest("GET", testOrigin+"/x")
			if tc.token != "" {
				r.Header.Set("Authorization", "Bearer "+tc.token)
			}
			s := serve(h, r)
			for _, key := range documentedPlaceholders {
				got, known := s.repl.GetString(key)
				if !known || got != tc.values[key] {
					t.Errorf("{%s}: %q (known %v), want %q", key, got, known, tc.values[key])
				}
				// ReplaceKnown leaves an unknown placeholder as it is written.
				if text := s.repl.ReplaceKnown("{"+key+"}", ""); text != tc.values[key] {
					t.Errorf("{%s} is left as %q", key, text)
				}
			}
		})
	}
}

// TestPlaceholdersInCaddy: with real Caddy, a signed-out answer's deferred
// response header, the request header an upstream gets in optional mode and
// the access log carry no literal placeholder and no user id.
func TestPlaceholdersInCaddy(t *testing.T) {
	a, _ := testkit.Keys(t)
	up := newRecordingUpstream(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	keyPath := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyPath, []byte(testkit.PublicPEM(t, a)), 0o644); err != nil {
		t.Fatal(err)
	}
	port := testkit.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	runCaddy(t, fmt.Sprintf(`{
	admin off
	auto_https off
}
http://127.0.0.1:%d {
	log {
		output file %s
		format json
	}
	header >X-Signed-In-As {http.auth.user.id}
	handle /required/* {
		clerk_auth {
			publishable_key %s
			jwt_key {file.%s}
			authorized_parties %s
		}
		respond "members"
	}
	handle /optional/* {
		clerk_auth {
			publishable_key %s
			jwt_key {file.%s}
			authorized_parties %s
			mode optional
		}
		request_header X-User {http.auth.user.id}
		request_header X-Org "{http.auth.user.org_id}"
		reverse_proxy %s {
			header_up X-Up-User {http.auth.user.id}
			header_up X-Up-Email "{http.auth.user.email}"
		}
	}
}
`, port, logPath, testPK, keyPath, testOrigin, testPK, keyPath, testOrigin, up.URL))

	resp, _ := do(t, "GET", base+"/required/page")
	if resp.StatusCode != 401 {
		t.Fatalf("signed out, require: status %d", resp.StatusCode)
	}
	if v, ok := resp.Header["X-Signed-In-As"]; ok && (len(v) != 1 || v[0] != "") {
		t.Errorf("signed out, require: X-Signed-In-As %q", v)
	}

	resp, _ = do(t, "GET", base+"/optional/page")
	if resp.StatusCode != 200 {
		t.Fatalf("signed out, optional: status %d", resp.StatusCode)
	}
	if v := resp.Header.Get("X-Signed-In-As"); v != "" {
		t.Errorf("signed out, optional: X-Signed-In-As %q", v)
	}
	up.mu.Lock()
	for _, name := range []string{"X-User", "X-Org", "X-Up-User", "X-Up-Email"} {
		if v := up.last.Get(name); v != "" {
			t.Errorf("the upstream got %s: %q for an anonymous visitor", name, v)
		}
	}
	up.mu.Unlock()

	// Signed in, the same headers carry the user.
	now := time.Now().Unix()
	tok := testkit.SignJWT(t, a, map[string]any{"alg": "RS256", "typ": "JWT"}, sessionClaims(func(c map[string]any) {
		c["iat"], c["nbf"], c["exp"] = now-1, now-1, now+60
	}))
	resp, _ = do(t, "GET", base+"/optional/page", "Authorization", "Bearer "+tok)
	if resp.StatusCode != 200 || resp.Header.Get("X-Signed-In-As") != "user_1" {
		t.Errorf("signed in: status %d, X-Signed-In-As %q", resp.StatusCode, resp.Header.Get("X-Signed-In-As"))
	}
	up.mu.Lock()
	if up.last.Get("X-User") != "user_1" || up.last.Get("X-Up-User") != "user_1" || up.last.Get("X-Org") != "" {
		t.Errorf("signed in: the upstream got X-User %q, X-Up-User %q, X-Org %q", up.last.Get("X-User"), up.last.Get("X-Up-User"), up.last.Get("X-Org"))
	}
	up.mu.Unlock()

	// The access log: user_id empty for the anonymous requests, and no
	// placeholder text anywhere. Caddy writes the line after the response.
	var lines []map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for len(lines) < 3 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		lines = readJSONLines(t, logPath)
	}
	if len(lines) < 3 {
		t.Fatalf("access log has %d lines, want 3", len(lines))
	}
	raw, _ := os.ReadFile(logPath)
	if strings.Contains(string(raw), "{http.auth") {
		t.Errorf("the access log holds placeholder text:\n%s", raw)
	}
	for i, want := range []string{"", "", "user_1"} {
		if got, _ := lines[i]["user_id"].(string); got != want {
			t.Errorf("access log line %d: user_id %q, want %q", i+1, got, want)
		}
	}
}

func readJSONLines(t *testing.T, path string) []map[string]any {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}
