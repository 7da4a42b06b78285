// Command mint writes demo session tokens, one per line, for the load
// benchmark: signed with demo/private.pem, issued by the demo instance, each
// with its own jti so that no two are the same token.
//
//	go run ./bench/mint -n 12000 -out bench/tokens.txt
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
	"runtime"
	"sync"
	"time"
)

func main() {
	keyPath := flag.String("key", "demo/private.pem", "PEM file of the demo private key")
	n := flag.Int("n", 1, "number of tokens")
	ttl := flag.Duration("ttl", time.Hour, "lifetime of the tokens")
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
	tokens := make([]string, *n)
	var wg sync.WaitGroup
	workers := runtime.NumCPU()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < *n; i += workers {
				tokens[i] = sign(key, map[string]any{
					"iss": "https://clerk.demo.localhost", "sub": fmt.Sprintf("user_bench_%d", i%1000),
					"sid": fmt.Sprintf("sess_bench_%d", i), "sts": "active", "v": 2, "jti": fmt.Sprintf("bench-%d-%d", now, i),
					"iat": now, "nbf": now - 5, "exp": now + int64(ttl.Seconds()),
					"o": map[string]any{"id": "org_bench", "rol": "admin", "slg": "bench"},
				})
			}
		}()
	}
	wg.Wait()
	f := os.Stdout
	if *out != "-" {
		if f, err = os.Create(*out); err != nil {
			fail("%v", err)
		}
	}
	bw := bufio.NewWriter(f)
	for _, t := range tokens {
		bw.WriteString(t)
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		fail("%v", err)
	}
	if err := f.Close(); err != nil {
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

func sign(key *rsa.PrivateKey, claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(map[string]any{"alg": "RS256", "typ": "JWT", "kid": "demo", "cat": "cl_B7d4PD111AAA"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		fail("signing: %v", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "mint: "+format+"\n", args...)
	os.Exit(1)
}
