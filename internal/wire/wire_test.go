package wire

import (
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Every reason code is kebab-case, as Clerk's are, and no two reason
// constants share a code: a code names one cause.
func TestReasonCodes(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "wire.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	kebab := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	seen := map[string]string{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if !strings.HasPrefix(name.Name, "Reason") && !strings.HasPrefix(name.Name, "Refresh") {
					continue
				}
				code, _ := strconv.Unquote(vs.Values[i].(*ast.BasicLit).Value)
				if !kebab.MatchString(code) {
					t.Errorf("%s = %q is not kebab-case", name.Name, code)
				}
				if other, dup := seen[code]; dup {
					t.Errorf("%s and %s are both %q", name.Name, other, code)
				}
				seen[code] = name.Name
			}
		}
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
