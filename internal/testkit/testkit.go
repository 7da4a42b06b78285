// Package testkit is the tests' shared scaffolding: RSA keys minted once per
// test binary, token signing, JWK sets as Clerk serves them, and loopback
// ports. Only tests import it.
package testkit

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"go/ast"
	"go/parser"
	"go/token"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var (
	keyOnce    sync.Once
	keyA, keyB *rsa.PrivateKey
	keysErr    error
)

// Keys returns two RSA-2048 keys minted once per test binary: A is the
// instance's key, B another instance's.
func Keys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keyOnce.Do(func() {
		keyA, keysErr = rsa.GenerateKey(rand.Reader, 2048)
		if keysErr == nil {
			keyB, keysErr = rsa.GenerateKey(rand.Reader, 2048)
		}
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return keyA, keyB
}

// PublicPEM is k's public key as a PKIX PEM block.
func PublicPEM(t testing.TB, k *rsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// SignJWT signs header and claims with key using header["alg"] (RS256 when
// absent). It marshals maps as given, so tests can put any JSON type in.
func SignJWT(t testing.TB, key *rsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	if header == nil {
		header = map[string]any{}
	}
	alg, _ := header["alg"].(string)
	if _, ok := header["alg"]; !ok {
		alg = "RS256"
		header["alg"] = alg
	}
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	var hash crypto.Hash
	var sum []byte
	switch alg {
	case "RS384":
		s := sha512.Sum384([]byte(input))
		hash, sum = crypto.SHA384, s[:]
	case "RS512":
		s := sha512.Sum512([]byte(input))
		hash, sum = crypto.SHA512, s[:]
	default:
		s := sha256.Sum256([]byte(input))
		hash, sum = crypto.SHA256, s[:]
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, hash, sum)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// RawURL is s in unpadded base64url.
func RawURL(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// JWKS is the JWK set of the given keys, as Clerk serves it.
func JWKS(keys map[string]*rsa.PublicKey) []byte {
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	for kid, k := range keys {
		set.Keys = append(set.Keys, map[string]string{
			"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
			"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
		})
	}
	b, _ := json.Marshal(set)
	return b
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeAddr is a loopback address (127.0.0.1:port) that was free a moment ago.
func FreeAddr(t testing.TB) string {
	return "127.0.0.1:" + strconv.Itoa(FreePort(t))
}

// StringConsts are the string constants of a Go file whose names start with
// one of prefixes, name → value, in the order declared.
func StringConsts(t testing.TB, file string, prefixes ...string) (names, values []string) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				lit, ok := valueAt(vs, i).(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING || !hasAnyPrefix(name.Name, prefixes) {
					continue
				}
				v, _ := strconv.Unquote(lit.Value)
				names, values = append(names, name.Name), append(values, v)
			}
		}
	}
	return names, values
}

func valueAt(vs *ast.ValueSpec, i int) ast.Expr {
	if i < len(vs.Values) {
		return vs.Values[i]
	}
	return nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// EnsureConformanceRunner makes sure node and the pinned @clerk/backend are
// installed in dir (the repository's conformance/ folder): in CI (CI set)
// their absence fails the test; elsewhere npm ci installs them once, and
// without node or npm the test is skipped.
func EnsureConformanceRunner(t testing.TB, dir string) {
	t.Helper()
	_, nodeErr := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "@clerk", "backend", "package.json"))
	if nodeErr == nil && modErr == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("conformance runner not installed (node: %v, node_modules: %v); run `cd conformance && npm ci`", nodeErr, modErr)
	}
	npm, npmErr := exec.LookPath("npm")
	if nodeErr != nil || npmErr != nil {
		t.Skipf("skipping a comparison with @clerk/backend: node or npm is not installed (install Node >= 20.9, then `cd conformance && npm ci`)")
	}
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
}

// RunNode runs the script (a file in dir) with node, in as JSON on its
// standard input, and decodes its standard output into out. Its standard
// error is shown when it fails.
func RunNode(t testing.TB, dir, script string, in, out any) {
	t.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("node", script)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(body)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("node %s: output: %v\n%s", script, err, stderr.String())
	}
}
