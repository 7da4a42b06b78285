package rsaverify

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"flag"
	"fmt"
	"math/big"
	"os"
	"sync"
	"testing"
)

// The test keys are RSA keys of the sizes and exponents the tests need,
// which rsa.GenerateKey does not make (it always uses 65537): generated once
// by `go test -run TestGenerateKeys -regen ./internal/rsaverify` into
// testdata/keys.json, so that the tests do not spend seconds finding
// 2048-bit primes on every run.

var regen = flag.Bool("regen", false, "generate testdata/keys.json again")

const keysFile = "testdata/keys.json"

// keySpecs: the sizes and exponents. The first ones are prepared (2048,
// 3072 and 4096 bits, exponents 3, 65537 and others, sizes that are not a
// multiple of the word or the byte); the last two are verified by crypto/rsa
// (below MinBits and above MaxBits).
var keySpecs = []struct {
	bits int
	e    int
}{
	{2048, 65537}, {2048, 3}, {2048, 1<<31 - 1}, {2049, 65537}, {3000, 17},
	{3072, 65537}, {3072, 3}, {4096, 65537}, {4096, 3},
	{1024, 65537}, {4160, 65537},
}

type storedKey struct {
	Bits int    `json:"bits"`
	E    int    `json:"e"`
	P    string `json:"p"`
	Q    string `json:"q"`
}

func TestGenerateKeys(t *testing.T) {
	if !*regen {
		t.Skip("only with -regen")
	}
	var out []storedKey
	for _, s := range keySpecs {
		e := big.NewInt(int64(s.e))
		prime := func(bits int) *big.Int {
			for {
				p, err := rand.Prime(rand.Reader, bits)
				if err != nil {
					t.Fatal(err)
				}
				// e must be invertible modulo p-1.
				if new(big.Int).GCD(nil, nil, e, new(big.Int).Sub(p, big.NewInt(1))).Cmp(big.NewInt(1)) == 0 {
					return p
				}
			}
		}
		for {
			p, q := prime(s.bits-s.bits/2), prime(s.bits/2)
			if p.Cmp(q) == 0 || new(big.Int).Mul(p, q).BitLen() != s.bits {
				continue
			}
			out = append(out, storedKey{Bits: s.bits, E: s.e, P: p.Text(16), Q: q.Text(16)})
			break
		}
	}
	b, _ := json.MarshalIndent(out, "", "\t")
	if err := os.WriteFile(keysFile, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// testKey is a key pair with its CRT values for signing arbitrary encoded
// messages (math/big: the test's signer shares no code with either verifier).
type testKey struct {
	name         string
	pub          *rsa.PublicKey
	p, q, dp, dq *big.Int
	qinv         *big.Int
	prepared     *PublicKey
}

var (
	keysOnce sync.Once
	keysAll  []*testKey
	keysErr  error
)

func testKeys(tb testing.TB) []*testKey {
	tb.Helper()
	keysOnce.Do(func() {
		b, err := os.ReadFile(keysFile)
		if err != nil {
			keysErr = err
			return
		}
		var stored []storedKey
		if keysErr = json.Unmarshal(b, &stored); keysErr != nil {
			return
		}
		for _, s := range stored {
			p, _ := new(big.Int).SetString(s.P, 16)
			q, _ := new(big.Int).SetString(s.Q, 16)
			e := big.NewInt(int64(s.E))
			one := big.NewInt(1)
			n := new(big.Int).Mul(p, q)
			k := &testKey{
				name: fmt.Sprintf("%d-bit/e=%d", s.Bits, s.E),
				pub:  &rsa.PublicKey{N: n, E: s.E},
				p:    p, q: q,
				dp:   new(big.Int).ModInverse(e, new(big.Int).Sub(p, one)),
				dq:   new(big.Int).ModInverse(e, new(big.Int).Sub(q, one)),
				qinv: new(big.Int).ModInverse(q, p),
			}
			if k.dp == nil || k.dq == nil || k.qinv == nil || n.BitLen() != s.Bits {
				keysErr = fmt.Errorf("bad stored key %s", k.name)
				return
			}
			k.prepared = Prepare(k.pub)
			keysAll = append(keysAll, k)
		}
	})
	if keysErr != nil {
		tb.Fatal(keysErr)
	}
	return keysAll
}

// sign returns em^d mod N as a k-byte signature (em is taken as a number,
// whatever it holds): the RSA private operation, by CRT.
func (k *testKey) sign(em []byte) []byte {
	c := new(big.Int).SetBytes(em)
	mp := new(big.Int).Exp(c, k.dp, k.p)
	mq := new(big.Int).Exp(c, k.dq, k.q)
	h := new(big.Int).Sub(mp, mq)
	h.Mul(h, k.qinv).Mod(h, k.p)
	m := h.Mul(h, k.q).Add(h, mq)
	return m.FillBytes(make([]byte, k.pub.Size()))
}
