// Package rsaverify verifies RSASSA-PKCS1-v1_5 signatures (RFC 8017) with
// a public key prepared once: the modulus, with its Montgomery constants
// (R² mod N), is built when the key is prepared, not on every signature as
// crypto/rsa.VerifyPKCS1v15 does. Per signature only the public-key
// operation s^e mod N runs, and its result is compared with the whole
// encoded message expected for the digest, as RFC 8017's
// RSASSA-PKCS1-V1_5-VERIFY and Go's crypto/rsa do: the decrypted block is
// never parsed.
//
// Where the prepared path does not apply (a key crypto/rsa refuses or we do
// not prepare, a hash other than SHA-256/384/512, FIPS 140 mode) the
// verification is crypto/rsa.VerifyPKCS1v15 itself, so a PublicKey accepts
// exactly what crypto/rsa accepts (FuzzVerifyMatchesCryptoRSA).
//
// The arithmetic is filippo.io/bigmod, the standalone copy of the
// constant-time modular arithmetic inside Go's crypto/rsa
// (crypto/internal/fips140/bigmod), with the same ExpShortVarTime that Go
// uses for the public exponent.
package rsaverify

import (
	"crypto"
	"crypto/fips140"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"math/bits"

	"filippo.io/bigmod"
)

// Bounds of the prepared path. Smaller keys are refused by our key set and
// accepted by crypto/rsa from 1024 bits; larger keys are verified by
// crypto/rsa (they need buffers larger than we keep on the stack).
const (
	MinBits = 2048
	MaxBits = 4096
	// maxBytes is the largest modulus we prepare, in bytes.
	maxBytes = MaxBits / 8
)

// PublicKey is an RSA public key ready to verify PKCS #1 v1.5 signatures.
// It is immutable and safe for concurrent use; the rsa.PublicKey it was
// prepared from must not be modified afterwards.
type PublicKey struct {
	pub *rsa.PublicKey
	// m is the prepared modulus, nil when the key is verified by crypto/rsa.
	m    *bigmod.Modulus
	e    uint
	size int // the modulus's length in bytes, k in RFC 8017
}

// Prepare builds the modulus of pub once. It never fails: a key the
// prepared path does not take (see Prepared) is verified by crypto/rsa,
// which also refuses what it refuses.
func Prepare(pub *rsa.PublicKey) *PublicKey {
	k := &PublicKey{pub: pub}
	if !fastPathKey(pub) {
		return k
	}
	m, err := bigmod.NewModulus(pub.N.Bytes())
	if err != nil {
		return k
	}
	k.m, k.e, k.size = m, uint(pub.E), m.Size()
	return k
}

// fastPathKey is what we prepare: what crypto/rsa's checkPublicKey accepts
// (an odd modulus, an odd exponent from 3 to 2³¹-1), of MinBits to MaxBits,
// outside FIPS 140 mode (then crypto/rsa, the validated module, verifies).
func fastPathKey(pub *rsa.PublicKey) bool {
	if pub == nil || pub.N == nil || fips140.Enabled() {
		return false
	}
	n := pub.N.BitLen()
	return pub.N.Sign() > 0 && n >= MinBits && n <= MaxBits && pub.N.Bit(0) == 1 &&
		pub.E >= 3 && pub.E&1 == 1 && pub.E <= 1<<31-1
}

// Prepared tells whether the key's modulus was prepared; when it was not,
// VerifyPKCS1v15 is crypto/rsa.VerifyPKCS1v15.
func (k *PublicKey) Prepared() bool { return k.m != nil }

// Public is the key it was prepared from.
func (k *PublicKey) Public() *rsa.PublicKey { return k.pub }

// digestInfoPrefixes are the DER encodings of DigestInfo up to the digest
// (RFC 8017's EMSA-PKCS1-v1_5 encoding, its note 1), as in crypto/rsa's
// hashPrefixes.
var (
	prefixSHA256 = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	prefixSHA384 = []byte{0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30}
	prefixSHA512 = []byte{0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40}
)

func digestInfoPrefix(h crypto.Hash) []byte {
	switch h {
	case crypto.SHA256:
		return prefixSHA256
	case crypto.SHA384:
		return prefixSHA384
	case crypto.SHA512:
		return prefixSHA512
	}
	return nil
}

// errNotHashed is crypto/rsa's answer to a digest of the wrong length.
var errNotHashed = errors.New("crypto/rsa: input must be hashed message")

// VerifyPKCS1v15 is crypto/rsa.VerifyPKCS1v15(k.Public(), hash, hashed, sig):
// nil when sig is a valid signature of the digest hashed, an error
// otherwise (rsa.ErrVerification for a signature that does not verify).
func (k *PublicKey) VerifyPKCS1v15(hash crypto.Hash, hashed, sig []byte) error {
	prefix := digestInfoPrefix(hash)
	if k.m == nil || prefix == nil {
		return rsa.VerifyPKCS1v15(k.pub, hash, hashed, sig)
	}
	if len(hashed) != hash.Size() {
		return errNotHashed
	}
	// RFC 8017 RSASSA-PKCS1-V1_5-VERIFY step 1: the signature is k octets.
	if len(sig) != k.size {
		return rsa.ErrVerification
	}
	// Step 2 (RSAVP1): s < N, then m = s^e mod N. SetBytes refuses s ≥ N.
	s, err := bigmod.NewNat().SetBytes(sig, k.m)
	if err != nil {
		return rsa.ErrVerification
	}
	m := bigmod.NewNat().ExpShortVarTime(s, k.e, k.m)
	var emBuf, wantBuf [maxBytes]byte
	em := natBytes(&emBuf, m.Bits(), k.size)
	// Steps 3 and 4: the whole encoded message expected for the digest,
	// compared with the one the signature gives.
	want := encodeEM(&wantBuf, k.size, prefix, hashed)
	if subtle.ConstantTimeCompare(em, want) != 1 {
		return rsa.ErrVerification
	}
	return nil
}

// natBytes writes limbs (little-endian words of a value below the modulus)
// as size big-endian bytes into buf, without allocating (bigmod's Nat.Bytes
// allocates its result). A value below a modulus of size bytes has no bits
// beyond them.
func natBytes(buf *[maxBytes]byte, limbs []uint, size int) []byte {
	const s = bits.UintSize / 8
	full := len(limbs) * s // ≥ size, ≤ maxBytes: the modulus's limbs
	out := buf[:full]
	for i, l := range limbs {
		end := full - i*s
		if s == 8 {
			binary.BigEndian.PutUint64(out[end-8:end], uint64(l))
		} else {
			binary.BigEndian.PutUint32(out[end-4:end], uint32(l))
		}
	}
	// Bits above size bytes would be a value not reduced modulo N: no
	// encoded message matches then (crypto/rsa's Nat.Bytes panics).
	for _, b := range out[:full-size] {
		if b != 0 {
			return nil
		}
	}
	return out[full-size:]
}

// encodeEM is EMSA-PKCS1-v1_5 (RFC 8017), as crypto/rsa's
// pkcs1v15ConstructEM: 0x00 0x01, 0xff up to the last 0x00, then the
// DigestInfo prefix and the digest, size bytes in all. size is at least 256
// (MinBits), more than the 11 + DigestInfo the encoding needs.
func encodeEM(buf *[maxBytes]byte, size int, prefix, hashed []byte) []byte {
	em := buf[:size]
	t := size - len(prefix) - len(hashed)
	em[0], em[1] = 0x00, 0x01
	for i := 2; i < t-1; i++ {
		em[i] = 0xff
	}
	em[t-1] = 0x00
	copy(em[t:], prefix)
	copy(em[t+len(prefix):], hashed)
	return em
}
