package testkit

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
)

// A signed token verifies with crypto/rsa under the key that signed it.
func TestSignJWT(t *testing.T) {
	a, b := Keys(t)
	if a == b || a.N.Cmp(b.N) == 0 {
		t.Fatal("the two keys are one")
	}
	tok := SignJWT(t, a, nil, map[string]any{"sub": "user_1"})
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] != RawURL(`{"alg":"RS256"}`) {
		t.Fatalf("token %q", tok)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&a.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatal(err)
	}
}

// JWKS names each key by its kid, with Clerk's members.
func TestJWKS(t *testing.T) {
	a, _ := Keys(t)
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(JWKS(map[string]*rsa.PublicKey{"ins_a": &a.PublicKey}), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 || set.Keys[0]["kid"] != "ins_a" || set.Keys[0]["alg"] != "RS256" || set.Keys[0]["e"] != "AQAB" {
		t.Fatalf("set %v", set)
	}
	if !strings.Contains(PublicPEM(t, a), "BEGIN PUBLIC KEY") {
		t.Fatal("not a PEM public key")
	}
}

// FreePort is a port one can listen on.
func TestFreePort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(FreePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
}
