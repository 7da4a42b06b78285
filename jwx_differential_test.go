package clerkauth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/tokencache"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	jwxjwt "github.com/lestrrat-go/jwx/v2/jwt"
)

// jwxDifferential is a key set in both forms: ours, looked up by kid as
// keys.Remote does, and jwx's, for jws.Verify. Key A is published without
// "alg" (any of RS256/384/512), key B pinned to RS512.
type jwxDifferential struct {
	ours map[string]*keys.Key
	set  jwk.Set
}

func newJWXDifferential(t testing.TB) *jwxDifferential {
	t.Helper()
	a, b := testkit.Keys(t)
	d := &jwxDifferential{
		ours: map[string]*keys.Key{
			"ins_a": {Kid: "ins_a", Pub: &a.PublicKey},
			"ins_b": {Kid: "ins_b", Alg: "RS512", Pub: &b.PublicKey},
		},
		set: jwk.NewSet(),
	}
	for kid, k := range d.ours {
		jk, err := jwk.FromRaw(k.Pub)
		if err != nil {
			t.Fatal(err)
		}
		_ = jk.Set(jwk.KeyIDKey, kid)
		if k.Alg != "" {
			_ = jk.Set(jwk.AlgorithmKey, jwa.SignatureAlgorithm(k.Alg))
		}
		if err := d.set.AddKey(jk); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// oursAccepts is our signature path on a token: the compact decoding, the
// key by kid, then verifySignature (typ, alg pinned by the key, signature).
func (d *jwxDifferential) oursAccepts(token string) bool {
	tok, err := tokencache.Decode(token)
	if err != nil {
		return false
	}
	key, ok := d.ours[tok.Kid()]
	return ok && key.Verify(&tok.Token) == nil
}

func (d *jwxDifferential) jwxAccepts(token string) bool {
	_, err := jws.Verify([]byte(token), jws.WithKeySet(d.set, jws.WithInferAlgorithmFromKey(true)), jws.WithContext(context.Background()))
	return err == nil
}

func jwxSeeds(t testing.TB) []string {
	a, b := testkit.Keys(t)
	seeds := []string{
		sessionToken(t),
		testkit.SignJWT(t, b, map[string]any{"alg": "RS512", "kid": "ins_b"}, sessionClaims()),
		testkit.SignJWT(t, b, map[string]any{"alg": "RS256", "kid": "ins_b"}, sessionClaims()),
		testkit.SignJWT(t, a, map[string]any{"alg": "RS384", "kid": "ins_a", "typ": "JWT"}, sessionClaims()),
		testkit.SignJWT(t, a, map[string]any{"alg": "RS256", "kid": "ins_b"}, sessionClaims()),
		testkit.SignJWT(t, a, map[string]any{"alg": "PS256", "kid": "ins_a"}, sessionClaims()),
	}
	// Duplicate members: a parser that reads another "alg" or "kid" than
	// jwx's would verify with another hash or key.
	h, p, s := splitToken(seeds[0])
	seeds = append(seeds, h+"."+p+"."+s+"A", strings.ToUpper(h[:1])+h[1:]+"."+p+"."+s)
	return seeds
}

// Every token our signature path accepts, jwx's jws.Verify accepts with the
// same key set: the hand-written compact decoding and JSON scanner read no
// header, signature or signing input other than the library does. (The
// converse does not hold on purpose: we refuse typ other than "JWT", alg
// outside RS256/384/512, an alg a key is not pinned to, and non-canonical
// base64.)
func FuzzSignatureMatchesJWX(f *testing.F) {
	d := newJWXDifferential(f)
	for _, s := range jwxSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		if d.oursAccepts(token) && !d.jwxAccepts(token) {
			t.Fatalf("our signature path accepts a token jwx refuses: %q", token)
		}
	})
}

// The seeds that should verify do under both, and the differential can
// fail: a token whose signature verifies under our key set but whose header
// jwx reads differently is caught.
func TestSignatureMatchesJWXSeeds(t *testing.T) {
	d := newJWXDifferential(t)
	seeds := jwxSeeds(t)
	for i, want := range []bool{true, true, false, true, false, false} {
		if got := d.oursAccepts(seeds[i]); got != want {
			t.Errorf("seed %d: ours accepts = %v, want %v", i, got, want)
		}
		if want && !d.jwxAccepts(seeds[i]) {
			t.Errorf("seed %d: jwx refuses a token both should accept", i)
		}
	}
}

// BenchmarkParseVerify is the decision record's measurement (docs/
// architecture.md, "Decision: session tokens are parsed by our own code"):
// one session token decoded, its signature verified with the key set and
// its claims checked, by our path and by jwx's.
func BenchmarkParseVerify(b *testing.B) {
	a, _ := testkit.Keys(b)
	token := sessionToken(b)
	ours := map[string]*keys.Key{"ins_a": keys.NewKey("ins_a", "", &a.PublicKey, "")}
	set := newJWXDifferential(b).set
	opts := jwt.Options{AuthorizedParties: []string{testOrigin}, Issuer: testIssuer, Skew: 5 * time.Second}
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d, err := tokencache.Decode(token)
			if err != nil {
				b.Fatal(err)
			}
			if err := ours[d.Kid()].Verify(&d.Token); err != nil {
				b.Fatal(err)
			}
			if err := jwt.VerifyClaims(&d.Claims, &opts, testNow); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jwx-jws.Verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jws.Verify([]byte(token), jws.WithKeySet(set, jws.WithInferAlgorithmFromKey(true))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jwx-jwt.Parse", func(b *testing.B) {
		b.ReportAllocs()
		clock := jwxjwt.ClockFunc(func() time.Time { return testNow })
		for b.Loop() {
			if _, err := jwxjwt.Parse([]byte(token), jwxjwt.WithKeySet(set, jws.WithInferAlgorithmFromKey(true)),
				jwxjwt.WithValidate(true), jwxjwt.WithClock(clock), jwxjwt.WithIssuer(testIssuer),
				jwxjwt.WithAcceptableSkew(5*time.Second)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
