package clerkauth

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

func adaptedDoc(t *testing.T, caddyfile string) any {
	t.Helper()
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	var doc any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestAccessLogWarnings(t *testing.T) {
	site := func(log string) string {
		return "{\n\tservers {\n\t}\n}\nhttp://app.example.com {\n" + log + "\n\tclerk_auth {\n\t\tdemo\n\t}\n\trespond ok\n}\n"
	}
	allParams := "delete __clerk_handshake\n delete __clerk_handshake_nonce\n delete __clerk_db_jwt\n delete __dev_session\n delete __session"
	for name, tc := range map[string]struct {
		caddyfile string
		want      []string // substrings, one warning each
	}{
		"no access log":               {site(""), nil},
		"access log without a filter": {site("\tlog"), []string{"__clerk_handshake, __clerk_handshake_nonce, __clerk_db_jwt, __dev_session, __session"}},
		"filter without request>uri":  {site("\tlog {\n format filter {\n request>headers>Cookie delete\n }\n }"), []string{"keeps the handshake's tokens"}},
		"filter missing __session": {site("\tlog {\n format filter {\n request>uri query {\n delete __clerk_handshake\n delete __clerk_handshake_nonce\n delete __clerk_db_jwt\n delete __dev_session\n }\n }\n }"),
			[]string{"(__session)"}},
		"filter of every parameter": {site("\tlog {\n format filter {\n request>uri query {\n " + allParams + "\n }\n }\n }"), nil},
		"log_credentials without a Cookie filter": {
			strings.Replace(site("\tlog {\n format filter {\n request>uri query {\n "+allParams+"\n }\n }\n }"), "servers {\n\t}", "servers {\n\t\tlog_credentials\n\t}", 1),
			[]string{"request>headers>Authorization", "request>headers>Cookie"}},
		"a server without clerk_auth": {"http://other.example.com {\n\tlog\n\trespond ok\n}\n", nil},
	} {
		t.Run(name, func(t *testing.T) {
			got := accessLogWarnings(adaptedDoc(t, tc.caddyfile))
			if len(got) != len(tc.want) {
				t.Fatalf("warnings: %q, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %q does not name %q", got[i], w)
				}
			}
		})
	}
}

// TestExamplesLogWithoutTokens: every example and the demo that write an
// access log filter the tokens out, by clerk-diagnose's own check.
func TestExamplesLogWithoutTokens(t *testing.T) {
	paths, _ := filepath.Glob("examples/*/Caddyfile")
	paths = append(paths, "demo/Caddyfile")
	logging := 0
	for _, p := range paths {
		body, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(body), "\tlog {") {
			logging++
		}
		if w := accessLogWarnings(adaptedDoc(t, string(body))); len(w) != 0 {
			t.Errorf("%s: %q", p, w)
		}
	}
	if logging < 3 {
		t.Errorf("%d of the examples and the demo write an access log, want at least 3", logging)
	}
}

// TestDiagnoseWarnsOfUnfilteredLog: the warning reaches clerk-diagnose's
// output through handlerFromConfig.
func TestDiagnoseWarnsOfUnfilteredLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(path, []byte("http://app.example.com {\n\tlog\n\tclerk_auth {\n\t\tdemo\n\t}\n\trespond ok\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, warnings, err := handlerFromConfig(path, "caddyfile", 0, "")
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], "access log that keeps the handshake's tokens") {
		t.Errorf("warnings %q, %v", warnings, err)
	}
}
