// Command demotoken mints a session token for the demo instance, signed with
// the demo private key in demo/private.pem. The key is public: demo tokens
// prove nothing outside the quick start.
//
//	go run ./cmd/demotoken [-sub user_demo] [-sid sess_demo] [-ttl 1h] [-azp http://localhost:8080] [-org-id org_1 -org-role admin]
//	go run ./cmd/demotoken -n 12000 -out bench/tokens.txt   # distinct tokens, one per line (bench/run.sh)
package main

import (
	"bufio"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	keyPath := flag.String("key", "demo/private.pem", "PEM file of the demo private key")
	sub := flag.String("sub", "user_demo", "user id (sub)")
	sid := flag.String("sid", "sess_demo", "session id (sid)")
	azp := flag.String("azp", "", "authorized party (azp), e.g. http://localhost:8080")
	ttl := flag.Duration("ttl", time.Hour, "lifetime of the token")
	orgID := flag.String("org-id", "", "active organization id (v2 o.id)")
	orgRole := flag.String("org-role", "", "organization role without the org: prefix (v2 o.rol)")
	n := flag.Int("n", 1, "how many tokens; more than one get their own sid and jti")
	out := flag.String("out", "-", "output file (- for stdout)")
	flag.Parse()

	raw, err := os.ReadFile(*keyPath)
	if err != nil {
		fail("reading %s: %v (run from the repository root)", *keyPath, err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		fail("%s is not PEM", *keyPath)
	}
	key, err := parsePrivateKey(block.Bytes)
	if err != nil {
		fail("%s: %v", *keyPath, err)
	}
	now := time.Now().Unix()
	claims := map[string]any{
		"iss": "https://clerk.demo.localhost",
		"sub": *sub, "sid": *sid, "sts": "active", "v": 2,
		"iat": now, "nbf": now - 5, "exp": now + int64(ttl.Seconds()),
	}
	if *azp != "" {
		claims["azp"] = *azp
	}
	if *orgID != "" {
		o := map[string]any{"id": *orgID}
		if *orgRole != "" {
			o["rol"] = *orgRole
		}
		claims["o"] = o
	}
	header := map[string]any{"alg": "RS256", "typ": "JWT", "kid": "demo", "cat": "cl_B7d4PD111AAA"}
	w := os.Stdout
	if *out != "-" {
		if w, err = os.Create(*out); err != nil {
			fail("%v", err)
		}
	}
	bw := bufio.NewWriter(w)
	for i := 0; i < *n; i++ {
		if *n > 1 {
			claims["sid"] = fmt.Sprintf("%s_%d", *sid, i)
			claims["jti"] = fmt.Sprintf("demo-%d-%d", now, i)
		}
		bw.WriteString(sign(key, header, claims))
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		fail("%v", err)
	}
	if err := w.Close(); err != nil {
		fail("%v", err)
	}
}

func parsePrivateKey(der []byte) (*rsa.PrivateKey, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if rk, ok := k.(*rsa.PrivateKey); ok {
			return rk, nil
		}
		return nil, fmt.Errorf("not an RSA key")
	}
	return x509.ParsePKCS1PrivateKey(der)
}

func sign(key *rsa.PrivateKey, header, claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		fail("signing: %v", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "demotoken: "+format+"\n", args...)
	os.Exit(1)
}
