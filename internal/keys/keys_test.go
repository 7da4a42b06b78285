package keys

import (
	"context"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/clerkapi"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"go.uber.org/zap"
)

// The PEM key is read in each spelling the Dashboard and environment
// variables give it, and a small key is refused.
func TestParsePEM(t *testing.T) {
	a, _ := testkit.Keys(t)
	pemText := testkit.PublicPEM(t, a)
	for name, text := range map[string]string{"pem": pemText, "escaped": escapeNewlines(pemText)} {
		pub, err := ParsePEM(text)
		if err != nil || !pub.Equal(&a.PublicKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ParsePEM(""); err == nil {
		t.Error("an empty key was accepted")
	}
	if _, err := CheckRSA(&rsa.PublicKey{N: a.N, E: 3}); err == nil {
		t.Error("e=3 was accepted")
	}
}

func escapeNewlines(s string) string {
	b := []byte{}
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			b = append(b, '\\', 'n')
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

// A remote key set serves the keys of its endpoint, reports each fetch,
// tells a known kid from an unknown one, and keeps a key object across a
// refresh that brings it back unchanged.
func TestRemote(t *testing.T) {
	a, b := testkit.Keys(t)
	var set atomic.Pointer[[]byte]
	one := testkit.JWKS(map[string]*rsa.PublicKey{"ins_a": &a.PublicKey})
	set.Store(&one)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(*set.Load()) }))
	defer srv.Close()
	var reports atomic.Int64
	r := NewRemote(srv.URL, clerkapi.New("", time.Second), zap.NewNop(), func(_ *Remote, _, _ *Map, _ *jwt.Error, _ time.Duration) { reports.Add(1) })
	defer r.Destruct()
	k, err := r.KeyFor(context.Background(), "ins_a")
	if err != nil || !k.Pub.Equal(&a.PublicKey) || !r.Holds(k) {
		t.Fatalf("ins_a: %v, %v", k, err)
	}
	if _, err := r.KeyFor(context.Background(), "ins_b"); err == nil || err.Reason != wire.ReasonJWKKidMismatch {
		t.Fatalf("unknown kid: %v", err)
	}
	two := testkit.JWKS(map[string]*rsa.PublicKey{"ins_a": &a.PublicKey, "ins_b": &b.PublicKey})
	set.Store(&two)
	if err := r.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.Lookup("ins_a") != k || r.Lookup("ins_b") == nil {
		t.Fatal("the unchanged key was not kept, or the new one not added")
	}
	if reports.Load() < 2 {
		t.Fatalf("%d fetches reported", reports.Load())
	}
}

// The static key verifies whatever the kid and holds only itself.
func TestStatic(t *testing.T) {
	a, _ := testkit.Keys(t)
	s := Static{Key: NewKey("local", "RS256", &a.PublicKey, "jwt_key")}
	k, err := s.KeyFor(context.Background(), "any")
	if err != nil || k != s.Key || !s.Holds(k) || s.Holds(NewKey("local", "RS256", &a.PublicKey, "jwt_key")) {
		t.Fatalf("%v %v", k, err)
	}
	if k.Alg != "RS256" {
		t.Fatalf("alg %q", k.Alg)
	}
}
