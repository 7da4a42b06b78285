package rsaverify

import (
	"encoding/binary"
	"math/big"
	"math/bits"
)

// The public-key operation s^e mod N for 2048-bit moduli on amd64 with
// BMI2 and ADX (mont_amd64.s): Montgomery arithmetic over 32 limbs of 64
// bits (little-endian: limb 0 is the least significant), R = 2²⁰⁴⁸.
//
// Everything here is variable time: the modulus, the exponent, the
// signature and the result are public in a verification. The algorithms are
// the textbook ones, as in Go's crypto/internal/fips140/bigmod (whose
// Montgomery multiplication crypto/rsa and filippo.io/bigmod use), with two
// differences that make the e = 65537 chain (16 squarings, one
// multiplication) cheaper:
//
//   - squaring has its own routine: each cross product aᵢaⱼ (i < j) is
//     computed once and the sum doubled (Handbook of Applied Cryptography,
//     algorithm 14.16), 528 limb products instead of 1024, then the
//     Montgomery reduction (HAC algorithm 14.32) of the 64-limb square;
//   - the last multiplication of the chain is by s itself, not by s in
//     Montgomery form, which leaves the Montgomery domain in the same step
//     (MontMul(s^(e-1)·R, s) = s^e mod N) instead of a reduction of its
//     own. That needs e odd, which every key the prepared path takes has
//     (crypto/rsa refuses even exponents).
//
// exp's result is fully reduced (< N), so that it can be compared with the
// encoded message byte for byte.

// mont2048 is a 2048-bit odd modulus with its Montgomery constants.
type mont2048 struct {
	m     [32]uint64 // N
	rr    [32]uint64 // R² mod N
	m0inv uint64     // -N⁻¹ mod 2⁶⁴
}

// newMont2048 prepares n, odd and of exactly 2048 bits.
func newMont2048(n *big.Int) *mont2048 {
	k := &mont2048{}
	setLimbs(k.m[:], n)
	r2 := new(big.Int).Lsh(big.NewInt(1), 2*2048)
	setLimbs(k.rr[:], r2.Mod(r2, n))
	k.m0inv = minusInverse(k.m[0])
	return k
}

// setLimbs writes x (which fits) into z, zero-extended.
func setLimbs(z []uint64, x *big.Int) {
	clear(z)
	for i, w := range x.Bits() {
		// big.Word is 32 or 64 bits.
		if bits.UintSize == 64 {
			z[i] = uint64(w)
		} else {
			z[i/2] |= uint64(w) << (32 * (i % 2))
		}
	}
}

// minusInverse is -x⁻¹ mod 2⁶⁴ for x odd (Newton's iteration: each step
// doubles the low bits that are right, and x is its own inverse mod 8).
func minusInverse(x uint64) uint64 {
	y := x
	for range 5 {
		y *= 2 - x*y
	}
	return -y
}

// setBytes2048 reads the 256 big-endian bytes b into z.
func setBytes2048(z *[32]uint64, b []byte) {
	b = b[:256]
	for i := range z {
		z[i] = binary.BigEndian.Uint64(b[256-8*(i+1):])
	}
}

// bytes2048 writes z as 256 big-endian bytes into b.
func bytes2048(b []byte, z *[32]uint64) {
	b = b[:256]
	for i := range z {
		binary.BigEndian.PutUint64(b[256-8*(i+1):], z[i])
	}
}

// less2048 is x < y.
func less2048(x, y *[32]uint64) bool {
	for i := 31; i >= 0; i-- {
		if x[i] != y[i] {
			return x[i] < y[i]
		}
	}
	return false
}

// exp is z = x^e mod N for x < N and e odd, at least 3; z is fully
// reduced.
func (k *mont2048) exp(z, x *[32]uint64, e uint) {
	var t [64]uint64
	var xR [32]uint64
	mul2048(&t, x, &k.rr)
	redc2048(&xR, &t, &k.m, k.m0inv) // x·R mod N
	*z = xR
	// Square and multiply from the bit below e's top bit down, in the
	// Montgomery domain: after bit i, z = x^⌊e/2^i⌋·R. At bit 0, which is
	// 1, the multiplication by x itself leaves the domain:
	// x^(e-1)·R · x / R = x^e.
	for i := bits.Len(e) - 2; i >= 0; i-- {
		sqr2048(&t, z)
		redc2048(z, &t, &k.m, k.m0inv)
		switch {
		case i == 0:
			mul2048(&t, z, x)
			redc2048(z, &t, &k.m, k.m0inv)
		case e>>i&1 == 1:
			mul2048(&t, z, &xR)
			redc2048(z, &t, &k.m, k.m0inv)
		}
	}
}
