package rsaverify

import (
	"bytes"
	"math/big"
	"math/rand/v2"
	"testing"
)

// limbsInt is the value of little-endian 64-bit limbs.
func limbsInt(z []uint64) *big.Int {
	v := new(big.Int)
	for i := len(z) - 1; i >= 0; i-- {
		v.Lsh(v, 64).Or(v, new(big.Int).SetUint64(z[i]))
	}
	return v
}

// edgeValues are the values below n that carries and reductions get
// wrong first: 0, 1, 2, n-1, n-2, (n-1)/2, powers of two, all-ones limbs,
// R mod n and its neighbours.
func edgeValues(n *big.Int, limbs int) []*big.Int {
	one := big.NewInt(1)
	r := new(big.Int).Lsh(one, uint(64*limbs))
	vs := []*big.Int{
		big.NewInt(0), big.NewInt(1), big.NewInt(2),
		new(big.Int).Sub(n, one), new(big.Int).Sub(n, big.NewInt(2)),
		new(big.Int).Rsh(n, 1),
		new(big.Int).Mod(r, n), new(big.Int).Sub(new(big.Int).Mod(r, n), one),
		new(big.Int).Sub(new(big.Int).Lsh(one, uint(n.BitLen()-1)), one),
		new(big.Int).Lsh(one, uint(n.BitLen()-1)),
		new(big.Int).Lsh(one, 64), new(big.Int).Sub(new(big.Int).Lsh(one, 64), one),
	}
	// Every limb all ones below the top limb, the top limb of n minus one.
	ones := new(big.Int).Sub(new(big.Int).Lsh(one, uint(64*(limbs-1))), one)
	top := new(big.Int).Rsh(n, uint(64*(limbs-1)))
	if top.Sign() > 0 {
		vs = append(vs, new(big.Int).Or(new(big.Int).Lsh(new(big.Int).Sub(top, one), uint(64*(limbs-1))), ones))
	}
	return vs
}

// randBelow is a uniformly random number below n, or, one time in four,
// one with long runs of zero and one bits (carry chains).
func randBelow(rng *rand.Rand, n *big.Int) *big.Int {
	b := make([]byte, (n.BitLen()+7)/8)
	for {
		if rng.IntN(4) == 0 {
			for i := range b {
				b[i] = []byte{0x00, 0xff, 0x80, 0x7f, 0x01}[rng.IntN(5)]
			}
		} else {
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
		}
		v := new(big.Int).SetBytes(b)
		v.Rsh(v, uint(8*len(b)-n.BitLen()))
		if v.Cmp(n) < 0 {
			return v
		}
	}
}

// expCase checks m.exp against math/big.Int.Exp for x^e mod n.
func expCase(t *testing.T, m *mont2048, n, x *big.Int, e uint) {
	t.Helper()
	var xl, z [32]uint64
	setLimbs(xl[:], x)
	m.exp(&z, &xl, e)
	want := new(big.Int).Exp(x, new(big.Int).SetUint64(uint64(e)), n)
	if got := limbsInt(z[:]); got.Cmp(want) != 0 {
		t.Fatalf("modulus %x, e=%d, x=%x:\n got %x\nwant %x", n, e, x, got, want)
	}
}

func needMont2048(tb testing.TB) {
	if !hasMont2048 {
		tb.Skip("no 2048-bit assembly on this machine (amd64 with BMI2 and ADX, without the purego tag)")
	}
}

// testModuli are the 2048-bit test keys' moduli and odd 2048-bit numbers
// with extreme limbs (2²⁰⁴⁸-1, 2²⁰⁴⁷+1, 2²⁰⁴⁷ + 2¹⁰²⁴ - 1, a top limb of
// all ones over zeros), which are not RSA moduli but are moduli for
// Montgomery arithmetic, and random ones.
func testModuli(t testing.TB, rng *rand.Rand) []*big.Int {
	var ns []*big.Int
	for _, k := range testKeys(t) {
		if k.pub.N.BitLen() == 2048 {
			ns = append(ns, k.pub.N)
		}
	}
	one := big.NewInt(1)
	pow := func(i int) *big.Int { return new(big.Int).Lsh(one, uint(i)) }
	all := new(big.Int).Sub(pow(2048), one)
	ns = append(ns, all,
		new(big.Int).Add(pow(2047), one),
		new(big.Int).Add(pow(2047), new(big.Int).Sub(pow(1024), one)),
		new(big.Int).Add(new(big.Int).Sub(pow(2048), pow(1984)), one))
	for range 4 {
		ns = append(ns, new(big.Int).Or(randBelow(rng, all), new(big.Int).Add(pow(2047), one)))
	}
	return ns
}

// TestExpMatchesMathBig: the Montgomery exponentiation gives x^e mod N as
// math/big does, for the 2048-bit test keys and extreme moduli, exponents
// 3, 17, 65537, 2³¹-1 and random odd ones, x at the edges (0, 1, N-1, R mod
// N, …) and random.
func TestExpMatchesMathBig(t *testing.T) {
	needMont2048(t)
	rng := rand.New(rand.NewPCG(1, 2))
	exps := []uint{3, 5, 17, 65537, 1<<31 - 1, 0b1010101010101}
	for range 4 {
		exps = append(exps, uint(rng.Uint32()>>1)|1)
	}
	for _, n := range testModuli(t, rng) {
		m := newMont2048(n)
		for _, e := range exps {
			for _, x := range edgeValues(n, 32) {
				expCase(t, m, n, x, e)
			}
			for range 8 {
				expCase(t, m, n, randBelow(rng, n), e)
			}
		}
	}
}

// FuzzExpMatchesMathBig: x^e mod N from the fuzzer's bytes, against
// math/big, on the 2048-bit test keys' moduli and on odd 2048-bit moduli
// the fuzzer makes.
//
// go test -run '^$' -fuzz '^FuzzExpMatchesMathBig$' -fuzztime 10m -parallel 1 ./internal/rsaverify
func FuzzExpMatchesMathBig(f *testing.F) {
	needMont2048(f)
	var keyModuli []*big.Int
	for _, k := range testKeys(f) {
		if k.pub.N.BitLen() == 2048 {
			keyModuli = append(keyModuli, k.pub.N)
		}
	}
	f.Add(uint8(0), uint32(65537), []byte{1}, []byte{})
	f.Add(uint8(1), uint32(3), []byte{0xff, 0xff}, []byte{0xff})
	f.Add(uint8(0x80), uint32(65537), []byte{0x80}, []byte{0xff, 0xff})
	f.Add(uint8(0x81), uint32(65537), bytes.Repeat([]byte{0xff}, 256), []byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, mi uint8, e32 uint32, xb, nb []byte) {
		var n *big.Int
		if mi&0x80 == 0 || len(nb) == 0 {
			n = keyModuli[int(mi)%len(keyModuli)]
		} else {
			// A modulus from nb, repeated to 256 bytes, with its top and
			// bottom bits set.
			b := make([]byte, 256)
			for i := range b {
				b[i] = nb[i%len(nb)]
			}
			n = new(big.Int).SetBytes(b)
			n.SetBit(n, 2047, 1).SetBit(n, 0, 1)
		}
		e := uint(e32) | 1
		if e == 1 {
			e = 3
		}
		// x from xb, reduced if it is not below n (xb = n's bytes gives 0).
		x := new(big.Int).SetBytes(xb)
		if x.Cmp(n) >= 0 {
			x.Mod(x, n)
		}
		expCase(t, newMont2048(n), n, x, e)
	})
}

func BenchmarkExp(b *testing.B) {
	needMont2048(b)
	k := testKeys(b)[0] // 2048 bits, e = 65537
	m := newMont2048(k.pub.N)
	var x, z [32]uint64
	setLimbs(x[:], new(big.Int).Sub(k.pub.N, big.NewInt(12345)))
	for b.Loop() {
		m.exp(&z, &x, 65537)
	}
}
