package clerkauth

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/reasons.md from reasonCatalog")

// TestEveryReasonIsExplained: each reason code declared in internal/wire has
// a plain-words entry, so the diagnose command and the docs cover it.
func TestEveryReasonIsExplained(t *testing.T) {
	names, codes := testkit.StringConsts(t, "internal/wire/wire.go", "Reason")
	for i, code := range codes {
		if code == wire.ReasonSessionTokenExpired {
			// Only ever given with its -refresh-<why> suffix.
			code += "-refresh-" + wire.RefreshNonEligibleNonGet
		}
		if doc, ok := explainReason(code); !ok || doc.Meaning == "" || doc.Fix == "" {
			t.Errorf("%s (%q) has no explanation in reasonCatalog", names[i], code)
		}
	}
	if len(codes) < 25 {
		t.Fatalf("found only %d reason constants in internal/wire/wire.go; did their naming change?", len(codes))
	}
}

// reasonsMarkdown renders docs/reasons.md from reasonCatalog.
func reasonsMarkdown() string {
	var b strings.Builder
	b.WriteString(`# Troubleshooting by reason code

<!-- Generated from reasons.go by: go test -run TestReasonsDocIsCurrent -update-docs . -->

Every refused request carries its reason in the ` + "`X-Clerk-Auth-Reason`" + ` response header and
in the ` + "`{http.auth.clerk.reason}`" + ` placeholder (for ` + "`handle_errors`" + ` and logs), next to
` + "`X-Clerk-Auth-Status`" + ` (` + "`signed-out`" + ` or ` + "`handshake`" + `; ` + "`signed-in`" + ` with ` + "`403`" + ` when an authorization
rule refuses). Clerk's own codes keep Clerk's names; ` + "`session-id-mismatch`" + `, ` + "`origin-mismatch`" + `,
` + "`session-pending`" + ` and the authorization rules' codes are clerk_auth's.

To see why one token or request is refused, run the diagnose command with the same settings:

` + "```" + `
caddy clerk-diagnose --config Caddyfile --token <token>
caddy clerk-diagnose --config Caddyfile --url https://app.example.com/ --cookie '<Cookie header>' --document
` + "```" + `

| Reason | What it means | What to do |
| --- | --- | --- |
`)
	for _, r := range reasonCatalog {
		b.WriteString("| `" + r.Code + "` | " + r.Meaning + " | " + r.Fix + " |\n")
	}
	return b.String()
}

// TestReasonsDocIsCurrent: docs/reasons.md says what reasonCatalog says.
func TestReasonsDocIsCurrent(t *testing.T) {
	want := reasonsMarkdown()
	if *updateDocs {
		if err := os.WriteFile("docs/reasons.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("docs/reasons.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatal("docs/reasons.md is out of date: run go test -run TestReasonsDocIsCurrent -update-docs .")
	}
}
