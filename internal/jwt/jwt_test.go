package jwt

import (
	"crypto/rsa"
	"strings"
	"testing"

	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// Each allowed algorithm verifies a token it signed, with a key published
// without "alg", and no other algorithm's signature passes for it: the
// digest of each hash is computed over the whole signing input, whatever
// its length.
func TestSignatureOfEachAlgorithm(t *testing.T) {
	a, b := testkit.Keys(t)
	anyAlg := rsaKey{&a.PublicKey}
	for _, alg := range []string{"RS256", "RS384", "RS512"} {
		for _, size := range []int{0, 511, 512, 513, 5000} {
			claims := claims(func(c map[string]any) { c["pad"] = strings.Repeat("x", size) })
			token := testkit.SignJWT(t, a, map[string]any{"alg": alg}, claims)
			d, derr := decode(token)
			if derr != nil {
				t.Fatalf("%s/%d: decode: %v", alg, size, derr)
			}
			if err := VerifySignature(d, "", anyAlg.pub, nil); err != nil {
				t.Errorf("%s/%d: a valid signature was refused: %v", alg, size, err)
			}
			if err := VerifySignature(d, "", rsaKey{&b.PublicKey}.pub, nil); err == nil || err.Reason != wire.ReasonTokenInvalidSignature {
				t.Errorf("%s/%d: another key's verification gave %v, want %s", alg, size, err, wire.ReasonTokenInvalidSignature)
			}
			// The same signature under another algorithm's label.
			for _, other := range []string{"RS256", "RS384", "RS512"} {
				if other == alg {
					continue
				}
				forged := relabel(t, token, other)
				fd, _ := decode(forged)
				if err := VerifySignature(fd, "", anyAlg.pub, nil); err == nil || err.Reason != wire.ReasonTokenInvalidSignature {
					t.Errorf("%s relabelled %s: got %v, want %s", alg, other, err, wire.ReasonTokenInvalidSignature)
				}
			}
		}
	}
}

// relabel changes the alg of a token's header, keeping its payload and
// signature.
func relabel(t *testing.T, token, alg string) string {
	t.Helper()
	_, rest, ok := strings.Cut(token, ".")
	if !ok {
		t.Fatalf("not a JWT: %q", token)
	}
	return testkit.RawURL(`{"alg":"`+alg+`"}`) + "." + rest
}

// The signature segment is checked without being decoded: the check must
// accept exactly what the strict decoder accepts, but for CR and LF, which
// Go's decoder skips and Clerk's base64url parser refuses.
func TestSignatureSegmentCheckMatchesDecoder(t *testing.T) {
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=. \r\n\x00\xff"
	var check func(s string, depth int)
	check = func(s string, depth int) {
		_, err := RawURLStrict.DecodeString(s)
		if got := IsStrictRawURLBase64(s); got != (err == nil && !strings.ContainsAny(s, "\r\n")) {
			t.Fatalf("isStrictRawURLBase64(%q) = %v, decoder error %v", s, got, err)
		}
		if depth == 0 {
			return
		}
		for i := 0; i < len(alphabet); i++ {
			check(s+alphabet[i:i+1], depth-1)
		}
	}
	// Every string of up to 3 characters over the alphabet and a few
	// others, and each of them after a valid 4-character block.
	check("", 3)
	check("QUJD", 3)
}

func FuzzSignatureSegmentCheck(f *testing.F) {
	f.Add("QUJD")
	f.Add("QUI")
	f.Add("QUJ")
	f.Add("Q")
	f.Fuzz(func(t *testing.T, s string) {
		_, err := RawURLStrict.DecodeString(s)
		if got := IsStrictRawURLBase64(s); got != (err == nil && !strings.ContainsAny(s, "\r\n")) {
			t.Fatalf("isStrictRawURLBase64(%q) = %v, decoder error %v", s, got, err)
		}
	})
}

// The header is read with exact member names, as JavaScript reads
// header.alg: encoding/json's case-insensitive struct matching would have
// taken "ALG" for "alg".
func TestHeaderMembersAreCaseSensitive(t *testing.T) {
	a, _ := testkit.Keys(t)
	token := testkit.SignJWT(t, a, map[string]any{"alg": "RS256", "ALG": "none", "Kid": "other", "kid": "ins_a", "TYP": "x"}, claims())
	d, err := decode(token)
	if err != nil {
		t.Fatal(err)
	}
	if d.Alg() != "RS256" || d.Kid() != "ins_a" {
		t.Fatalf("alg %q kid %q, want RS256 and ins_a", d.Alg(), d.Kid())
	}
	if _, present := d.Typ(); present {
		t.Fatal("TYP was read as typ")
	}
}

// A header is an object (or null, which reads as no members); any other
// JSON does not decode, as when it was decoded into a struct.
func TestHeaderMustBeAnObject(t *testing.T) {
	sig := "." + testkit.RawURL("sig")
	payload := "." + testkit.RawURL(`{"sub":"u"}`)
	for header, wantErr := range map[string]bool{
		`{"alg":"RS256"}`: false,
		` null `:          false,
		`[1]`:             true,
		`"RS256"`:         true,
		`12`:              true,
		`true`:            true,
	} {
		_, err := decode(testkit.RawURL(header) + payload + sig)
		if (err != nil) != wantErr || (err != nil && err.Reason != wire.ReasonTokenInvalid) {
			t.Errorf("header %s: error %v, want error: %v", header, err, wantErr)
		}
	}
}

// rsaKey is a key for any RS algorithm, verified by crypto/rsa.
type rsaKey struct{ pub *rsa.PublicKey }

// decode is DecodeInto a new Token.
func decode(token string) (*Token, *Error) {
	d := new(Token)
	if err := DecodeInto(d, token); err != nil {
		return nil, err
	}
	return d, nil
}

// claims are a session's claims, to be edited per case.
func claims(edit ...func(map[string]any)) map[string]any {
	c := map[string]any{"sub": "user_1", "sid": "sess_1", "iss": "https://clerk.example.com", "exp": 1767000050, "iat": 1767000000, "v": 2}
	for _, e := range edit {
		e(c)
	}
	return c
}
