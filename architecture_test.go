package clerkauth

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// modulePath is this module's import path.
const modulePath = "github.com/clerk-edge/clerk_auth"

// allowedImports is the dependency rule (docs/architecture.md, "The
// dependency rule"): the packages of ours each internal package may import.
// The root (the Caddy module) may import any of them; none of them imports
// Caddy, the root, or internal/testkit (which only tests import). A new
// internal package gets a line here, in its layer.
var allowedImports = map[string][]string{
	// Leaves: Clerk's names, JSON and JavaScript parsing, RSA.
	"internal/wire":      nil,
	"internal/jsonscan":  nil,
	"internal/jsparse":   nil,
	"internal/rsaverify": nil,
	// Tokens.
	"internal/jwt": {"internal/wire", "internal/jsonscan", "internal/jsparse", "internal/rsaverify"},
	// The Backend API, keys and sessions.
	"internal/clerkapi": {"internal/wire"},
	"internal/keys":     {"internal/wire", "internal/jwt", "internal/clerkapi", "internal/rsaverify"},
	"internal/session":  {"internal/wire", "internal/jsonscan", "internal/jsparse", "internal/jwt"},
	// The token cache.
	"internal/tokencache": {"internal/wire", "internal/jsparse", "internal/jwt", "internal/keys", "internal/session"},
	// The user lookup.
	"internal/users": {"internal/clerkapi"},
	// Organization sync's URL patterns (path-to-regexp 6.x) and targets.
	"internal/orgsync": {"internal/jsparse"},
	// The authorization rules: compiled from their config, evaluated on a
	// session (and the user, and the URL's organization). jwt and jsonscan
	// are below session: its tests read claims into a session with them.
	"internal/policy": {"internal/wire", "internal/jsonscan", "internal/jwt", "internal/session", "internal/users", "internal/orgsync", "internal/machine"},
	// The decision: Clerk's authenticateRequest on one request, ending in
	// an Outcome (policy only for the Rule a denied outcome names).
	"internal/authn": {"internal/wire", "internal/jsonscan", "internal/jsparse", "internal/jwt", "internal/clerkapi", "internal/keys", "internal/session", "internal/tokencache", "internal/orgsync", "internal/policy", "internal/machine"},
	// Machine tokens: kinds, acceptsToken, the Backend API verify calls as
	// data, their cache, and the JWT-format checks (not wired in yet).
	"internal/machine": {"internal/jsparse"},
	// Demo mode's stand-in for Clerk's hosted pages and handshake.
	"internal/demo": nil,
	// Tests only.
	"internal/testkit": nil,
}

// listedPackage is what go list -json says of a package.
type listedPackage struct {
	ImportPath                string
	Imports, Deps             []string
	TestImports, XTestImports []string
}

func listPackages(t *testing.T) []listedPackage {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps=false", "-json", "./...").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Skipf("go list: %v", err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestDependencyRule fails on an import that breaks the rule.
func TestDependencyRule(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < len(allowedImports) {
		t.Fatalf("go list gave %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		rel, ok := strings.CutPrefix(p.ImportPath, modulePath+"/")
		if !ok {
			rel = "" // the root
		}
		for _, imp := range p.Imports {
			if imp == modulePath+"/internal/testkit" {
				t.Errorf("%s imports internal/testkit outside its tests", p.ImportPath)
			}
		}
		if !strings.HasPrefix(rel, "internal/") {
			continue
		}
		allowed, known := allowedImports[rel]
		if !known {
			t.Errorf("%s is not in allowedImports: give it a line in its layer (and in docs/architecture.md)", rel)
			continue
		}
		check := func(imps []string, test bool) {
			for _, imp := range imps {
				switch {
				case imp == modulePath:
					t.Errorf("%s imports the root package", rel)
				case strings.HasPrefix(imp, "github.com/caddyserver/"):
					t.Errorf("%s imports %s: internal packages do not import Caddy", rel, imp)
				case strings.HasPrefix(imp, modulePath+"/"):
					dep := strings.TrimPrefix(imp, modulePath+"/")
					if dep == rel || slices.Contains(allowed, dep) || test && dep == "internal/testkit" {
						continue
					}
					t.Errorf("%s imports %s, which the dependency rule does not allow", rel, dep)
				}
			}
		}
		check(p.Imports, false)
		check(p.TestImports, true)
		check(p.XTestImports, true)
	}
}

// The table allows only packages it lists, so that it has no cycle of
// allowances and every allowance is checked.
func TestAllowedImportsTable(t *testing.T) {
	for pkg, deps := range allowedImports {
		for _, d := range deps {
			if _, ok := allowedImports[d]; !ok {
				t.Errorf("%s may import %s, which the table does not list", pkg, d)
			}
			if slices.Contains(allowedImports[d], pkg) {
				t.Errorf("%s and %s may import each other", pkg, d)
			}
		}
	}
}
