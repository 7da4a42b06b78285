package rsaverify

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	_ "crypto/sha1" // crypto.SHA1, a hash the prepared path leaves to crypto/rsa
	"crypto/sha256"
	_ "crypto/sha512"
	"fmt"
	"math/big"
	"testing"
)

var ourHashes = []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512}

// em is the EMSA-PKCS1-v1_5 encoding of digest for hash in size bytes,
// written out here as RFC 8017 gives it.
func em(size int, hash crypto.Hash, digest []byte) []byte {
	return emWith(size, prefixOf(hash), digest)
}

// prefixOf is the DigestInfo prefix of hash, SHA-1's too (the prepared path
// leaves it to crypto/rsa), and none for crypto.Hash(0), crypto/rsa's
// "signed directly".
func prefixOf(hash crypto.Hash) []byte {
	if hash == crypto.SHA1 {
		return []byte{0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14}
	}
	return digestInfoPrefix(hash)
}

func emWith(size int, prefix, digest []byte) []byte {
	t := append(append([]byte{}, prefix...), digest...)
	out := []byte{0x00, 0x01}
	out = append(out, bytes.Repeat([]byte{0xff}, size-len(t)-3)...)
	out = append(out, 0x00)
	return append(out, t...)
}

func sum(hash crypto.Hash, msg []byte) []byte {
	h := hash.New()
	h.Write(msg)
	return h.Sum(nil)
}

// both runs the prepared verifier and crypto/rsa on the same input and
// fails when they disagree; it returns the prepared verifier's answer. A
// key verified by the 2048-bit assembly (mont.go) is also verified without
// it, with filippo.io/bigmod as on other machines, and that must agree too.
func both(t *testing.T, k *testKey, hash crypto.Hash, digest, sig []byte) error {
	t.Helper()
	got := k.prepared.VerifyPKCS1v15(hash, digest, sig)
	want := rsa.VerifyPKCS1v15(k.pub, hash, digest, sig)
	if (got == nil) != (want == nil) {
		t.Fatalf("%s, %v, digest %x, sig %x: prepared says %v, crypto/rsa says %v", k.name, hash, digest, sig, got, want)
	}
	if k.prepared.m2048 != nil {
		withBigmod := *k.prepared
		withBigmod.m2048 = nil
		if g := withBigmod.VerifyPKCS1v15(hash, digest, sig); (g == nil) != (want == nil) {
			t.Fatalf("%s, %v, digest %x, sig %x: prepared with bigmod says %v, crypto/rsa says %v", k.name, hash, digest, sig, g, want)
		}
	}
	return got
}

// The 2048-bit keys take the assembly where it runs, and only they do.
func TestMont2048Keys(t *testing.T) {
	for _, k := range testKeys(t) {
		want := hasMont2048 && k.pub.N.BitLen() == 2048
		if got := k.prepared.m2048 != nil; got != want {
			t.Errorf("%s: assembly path %v, want %v", k.name, got, want)
		}
	}
	if !hasMont2048 {
		t.Log("no 2048-bit assembly on this machine: bigmod verifies every prepared key")
	}
}

func TestPreparedOnlyWithinBounds(t *testing.T) {
	for _, k := range testKeys(t) {
		bits := k.pub.N.BitLen()
		if want := bits >= MinBits && bits <= MaxBits; k.prepared.Prepared() != want {
			t.Errorf("%s: prepared %v, want %v", k.name, k.prepared.Prepared(), want)
		}
	}
	n := testKeys(t)[0].pub.N
	for _, pub := range declinedKeys(n) {
		if Prepare(pub).Prepared() {
			t.Errorf("key with e=%d, N even %v prepared", pub.E, pub.N.Bit(0) == 0)
		}
	}
	// crypto/rsa takes a negative modulus for its absolute value; we leave
	// such a key to it.
	if Prepare(&rsa.PublicKey{N: new(big.Int).Neg(n), E: 65537}).Prepared() {
		t.Error("a negative modulus was prepared")
	}
	if Prepare(nil).Prepared() || Prepare(&rsa.PublicKey{E: 65537}).Prepared() {
		t.Error("a key without a modulus was prepared")
	}
}

// declinedKeys are keys crypto/rsa refuses (exponent 1, even, beyond 2³¹-1;
// an even modulus), on the modulus n: the prepared path must not take them.
func declinedKeys(n *big.Int) []*rsa.PublicKey {
	even := new(big.Int).Add(n, big.NewInt(1))
	return []*rsa.PublicKey{
		{N: n, E: 1}, {N: n, E: 2}, {N: n, E: 65536}, {N: n, E: 1<<31 + 1}, {N: n, E: -3}, {N: n, E: 0},
		{N: even, E: 65537},
	}
}

func TestValidSignatures(t *testing.T) {
	for _, k := range testKeys(t) {
		for _, h := range ourHashes {
			d := sum(h, []byte("message "+k.name))
			sig := k.sign(em(k.pub.Size(), h, d))
			if err := both(t, k, h, d, sig); err != nil {
				t.Errorf("%s %v: valid signature refused: %v", k.name, h, err)
			}
		}
	}
}

// Each algorithm verifies only its own digest length and DigestInfo: a
// signature over one hash's encoding fails under every other hash, whether
// the digest has the other hash's length or is the signed one reused.
func TestEachHashOnlyItsOwnEncoding(t *testing.T) {
	for _, k := range testKeys(t)[:9] {
		for _, signed := range ourHashes {
			d := sum(signed, []byte("x"))
			sig := k.sign(em(k.pub.Size(), signed, d))
			for _, claimed := range ourHashes {
				if claimed == signed {
					continue
				}
				// The signed digest under another label: the wrong length.
				if err := both(t, k, claimed, d, sig); err == nil {
					t.Errorf("%s: %v signature accepted as %v with its own digest", k.name, signed, claimed)
				}
				// A digest of the claimed hash's length that starts (or ends)
				// with the signed one.
				long := make([]byte, claimed.Size())
				copy(long, d)
				if err := both(t, k, claimed, long, sig); err == nil {
					t.Errorf("%s: %v signature accepted as %v, padded digest", k.name, signed, claimed)
				}
				if claimed.Size() < len(d) {
					if err := both(t, k, claimed, d[:claimed.Size()], sig); err == nil {
						t.Errorf("%s: %v signature accepted as %v, truncated digest", k.name, signed, claimed)
					}
					if err := both(t, k, claimed, d[len(d)-claimed.Size():], sig); err == nil {
						t.Errorf("%s: %v signature accepted as %v, digest's tail", k.name, signed, claimed)
					}
				}
				// The claimed hash's DigestInfo over the signed digest.
				mixed := em(k.pub.Size(), claimed, d)
				copy(mixed[len(mixed)-len(d)-len(digestInfoPrefix(signed)):], digestInfoPrefix(signed))
				if err := both(t, k, claimed, long, k.sign(mixed)); err == nil {
					t.Errorf("%s: %v prefix accepted as %v", k.name, signed, claimed)
				}
			}
			// A digest of the right length but the wrong length for the key
			// is refused before any arithmetic.
			if err := k.prepared.VerifyPKCS1v15(signed, d[:len(d)-1], sig); err == nil {
				t.Errorf("%s %v: short digest accepted", k.name, signed)
			}
		}
	}
}

// What crypto/rsa refuses, the prepared path refuses: signatures of the
// wrong length (one byte more with a leading zero, one byte less), s ≥ N,
// and encoded messages that are almost right.
func TestRefusals(t *testing.T) {
	for _, k := range testKeys(t) {
		size := k.pub.Size()
		d := sum(crypto.SHA256, []byte("refusals"))
		good := em(size, crypto.SHA256, d)
		sig := k.sign(good)
		n := k.pub.N
		cases := map[string][]byte{
			"leading zero added":  append([]byte{0}, sig...),
			"last byte dropped":   sig[:size-1],
			"first byte dropped":  sig[1:],
			"empty":               {},
			"zero":                make([]byte, size),
			"one":                 new(big.Int).SetInt64(1).FillBytes(make([]byte, size)),
			"N-1":                 new(big.Int).Sub(n, big.NewInt(1)).FillBytes(make([]byte, size)),
			"N":                   n.FillBytes(make([]byte, size)),
			"all ones":            bytes.Repeat([]byte{0xff}, size),
			"last bit flipped":    flip(sig, size-1),
			"first byte changed":  flip(sig, 0),
			"no 0x00 separator":   k.sign(set(good, size-len(d)-20, 0xff)),
			"0x02 block type":     k.sign(set(good, 1, 0x02)),
			"0x00 block type":     k.sign(set(good, 1, 0x00)),
			"non-zero first byte": k.sign(set(good, 0, 0x01)),
			"a 0x00 in padding":   k.sign(set(good, 10, 0x00)),
			"digest changed":      k.sign(set(good, size-1, good[size-1]^1)),
			"prefix changed":      k.sign(set(good, size-len(d)-3, 0x10)),
			"short padding, garbage after digest": k.sign(append(append([]byte{0x00, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00},
				append(digestInfoPrefix(crypto.SHA256), d...)...), bytes.Repeat([]byte{0xab}, size-11-19-32)...)),
		}
		// s + N still fits in k bytes when N's top byte leaves room.
		if s := new(big.Int).Add(new(big.Int).SetBytes(sig), n); (s.BitLen()+7)/8 == size {
			cases["s+N"] = s.FillBytes(make([]byte, size))
		}
		for name, c := range cases {
			if err := both(t, k, crypto.SHA256, d, c); err == nil {
				t.Errorf("%s: %s accepted", k.name, name)
			}
		}
	}
}

func flip(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 1; return c }
func set(b []byte, i int, v byte) []byte {
	c := bytes.Clone(b)
	c[i] = v
	return c
}

// Bleichenbacher's e=3 forgery (2006): with e = 3 and a key large enough,
// the cube root of 00 01 FF 00 DigestInfo hash ‖ garbage, rounded, is a
// number whose cube starts with that prefix. A verifier that parses the
// block and ignores what follows the digest accepts it without the private
// key; comparing the whole encoded message refuses it.
func TestCubeRootForgery(t *testing.T) {
	for _, k := range testKeys(t) {
		if k.pub.E != 3 || k.pub.N.BitLen() < 3072 {
			continue
		}
		size := k.pub.Size()
		d := sum(crypto.SHA256, []byte("forged"))
		head := append([]byte{0x00, 0x01, 0xff, 0x00}, append(digestInfoPrefix(crypto.SHA256), d...)...)
		garbage := (size - len(head)) * 8
		lo := new(big.Int).Lsh(new(big.Int).SetBytes(head), uint(garbage))
		hi := new(big.Int).Add(lo, new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(garbage)), big.NewInt(1)))
		s := cubeRoot(hi)
		cube := new(big.Int).Exp(s, big.NewInt(3), nil)
		if cube.Cmp(lo) < 0 || cube.Cmp(k.pub.N) >= 0 {
			t.Fatalf("%s: the forgery does not work on this key", k.name)
		}
		block := cube.FillBytes(make([]byte, size))
		if !bytes.HasPrefix(block, head) {
			t.Fatalf("%s: the forged block does not start with the encoding's head", k.name)
		}
		if err := both(t, k, crypto.SHA256, d, s.FillBytes(make([]byte, size))); err == nil {
			t.Errorf("%s: cube-root forgery accepted", k.name)
		}
	}
}

// cubeRoot is ⌊∛n⌋ (Newton's method).
func cubeRoot(n *big.Int) *big.Int {
	x := new(big.Int).Lsh(big.NewInt(1), uint(n.BitLen()/3+1))
	three, two := big.NewInt(3), big.NewInt(2)
	for {
		// y = (2x + n/x²) / 3
		y := new(big.Int).Div(n, new(big.Int).Mul(x, x))
		y.Add(y, new(big.Int).Mul(x, two)).Div(y, three)
		if y.Cmp(x) >= 0 {
			return x
		}
		x = y
	}
}

// Keys and hashes outside the prepared path give crypto/rsa's answers,
// including its accepting a 1024-bit key (our key set refuses those before
// they get here) and its refusing the keys it refuses.
func TestFallback(t *testing.T) {
	keys := testKeys(t)
	for _, k := range keys {
		d := sum(crypto.SHA1, []byte("sha1"))
		if err := both(t, k, crypto.SHA1, d, k.sign(em(k.pub.Size(), crypto.SHA1, d))); err != nil {
			t.Errorf("%s: SHA-1 signature refused: %v", k.name, err)
		}
		if err := both(t, k, crypto.Hash(0), d, k.sign(em(k.pub.Size(), crypto.Hash(0), d))); err != nil {
			t.Errorf("%s: directly signed message refused: %v", k.name, err)
		}
	}
	d := sum(crypto.SHA256, []byte("declined"))
	sig := keys[0].sign(em(keys[0].pub.Size(), crypto.SHA256, d))
	for _, pub := range declinedKeys(keys[0].pub.N) {
		k := &testKey{name: fmt.Sprintf("declined e=%d", pub.E), pub: pub, prepared: Prepare(pub)}
		if err := both(t, k, crypto.SHA256, d, sig); err == nil {
			t.Errorf("%s: accepted", k.name)
		}
	}
}

// A 2048-bit verification allocates nothing: the modulus is prepared, the
// numbers and both encoded messages live on the stack.
func TestVerifyAllocations(t *testing.T) {
	k := testKeys(t)[0]
	d := sum(crypto.SHA256, []byte("allocs"))
	sig := k.sign(em(k.pub.Size(), crypto.SHA256, d))
	if n := testing.AllocsPerRun(100, func() {
		if k.prepared.VerifyPKCS1v15(crypto.SHA256, d, sig) != nil {
			t.Fatal("refused")
		}
	}); n != 0 {
		t.Errorf("%v allocations per verification, want 0", n)
	}
}

// FuzzVerifyMatchesCryptoRSA: for every key, hash, digest and signature, the
// prepared verifier accepts exactly when rsa.VerifyPKCS1v15 accepts. The
// signatures are real ones, real ones with bits changed, signatures over
// altered or foreign encoded messages (made with the private key, so they
// reach the comparison), arbitrary bytes, and numbers around N; the keys
// are 2048 to 4096 bits with exponents 3, 17, 65537 and 2³¹-1, and keys the
// prepared path leaves to crypto/rsa.
//
// go test -run '^$' -fuzz '^FuzzVerifyMatchesCryptoRSA$' -fuzztime 10m -parallel 1 ./internal/rsaverify
func FuzzVerifyMatchesCryptoRSA(f *testing.F) {
	keys := testKeys(f)
	all := append([]*testKey{}, keys...)
	for _, pub := range append(declinedKeys(keys[0].pub.N), &rsa.PublicKey{N: new(big.Int).Neg(keys[0].pub.N), E: 65537}) {
		// No private key: signatures come from keys[0], whose modulus
		// they share.
		all = append(all, &testKey{name: fmt.Sprintf("declined e=%d", pub.E), pub: pub, prepared: Prepare(pub)})
	}
	hashes := []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512, crypto.SHA1, crypto.Hash(0)}
	for ki := range all {
		for mode := range 7 {
			f.Add(uint8(ki), uint8(0), uint8(mode), []byte("msg"), []byte{})
			f.Add(uint8(ki), uint8(mode%3), uint8(mode), []byte("message"), []byte{1, 0, 0x80})
		}
	}
	f.Add(uint8(0), uint8(0), uint8(0x80), bytes.Repeat([]byte{7}, 32), []byte{})
	f.Fuzz(func(t *testing.T, ki, hi, mode uint8, msg, mut []byte) {
		k := all[int(ki)%len(all)]
		signer := k
		if k.p == nil {
			signer = keys[0]
		}
		hash := hashes[int(hi)%len(hashes)]
		var digest []byte
		if mode&0x80 != 0 || hash == crypto.Hash(0) {
			digest = msg // a digest of any length
		} else {
			digest = sum(hash, msg)
		}
		size := k.pub.Size()
		encoding := func(h crypto.Hash, d []byte) []byte {
			p := prefixOf(h)
			if len(p)+len(d)+11 > size {
				// No valid encoding: d where the digest would end.
				e := make([]byte, size)
				copy(e[max(0, size-len(d)):], d)
				return e
			}
			return emWith(size, p, d)
		}
		var sig []byte
		switch mode & 0x7f % 7 {
		case 0: // a real signature, bits changed by mut
			sig = signer.sign(encoding(hash, digest))
			for i, b := range mut {
				sig[i%len(sig)] ^= b
			}
		case 1: // arbitrary bytes
			sig = mut
		case 2: // a signature over the encoding with bytes changed by mut
			e := encoding(hash, digest)
			for i, b := range mut {
				e[i%len(e)] ^= b
			}
			sig = signer.sign(e)
		case 3: // another hash's encoding of the digest, padded or cut
			other := ourHashes[int(hi/8)%3]
			d := make([]byte, other.Size())
			copy(d, digest)
			sig = signer.sign(encoding(other, d))
		case 4: // N plus or minus mut, as a number
			v := new(big.Int).SetBytes(mut)
			if len(mut) > 0 && mut[0]&1 == 1 {
				v.Sub(k.pub.N, v)
			} else {
				v.Add(k.pub.N, v)
			}
			if v.Sign() < 0 {
				v.Neg(v)
			}
			sig = v.FillBytes(make([]byte, max(size, (v.BitLen()+7)/8)))
		case 5: // a real signature with mut appended, or len(mut) bytes cut
			sig = signer.sign(encoding(hash, digest))
			if len(mut) > 0 && mut[0]&1 == 1 {
				sig = sig[:max(0, len(sig)-len(mut))]
			} else {
				sig = append(sig, mut...)
			}
		case 6: // the encoding written into mut at its end
			e := encoding(hash, digest)
			copy(e[max(0, len(e)-len(mut)):], mut)
			sig = signer.sign(e)
		}
		both(t, k, hash, digest, sig)
	})
}

func BenchmarkVerify(b *testing.B) {
	msg := []byte("a signing input of a session token")
	d := sha256.Sum256(msg)
	for _, k := range testKeys(b) {
		if k.pub.E != 65537 || !k.prepared.Prepared() || k.pub.N.BitLen()%1024 != 0 {
			continue
		}
		sig := k.sign(em(k.pub.Size(), crypto.SHA256, d[:]))
		b.Run(fmt.Sprintf("crypto-rsa/%d", k.pub.N.BitLen()), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if rsa.VerifyPKCS1v15(k.pub, crypto.SHA256, d[:], sig) != nil {
					b.Fatal("refused")
				}
			}
		})
		b.Run(fmt.Sprintf("prepared/%d", k.pub.N.BitLen()), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if k.prepared.VerifyPKCS1v15(crypto.SHA256, d[:], sig) != nil {
					b.Fatal("refused")
				}
			}
		})
		if k.prepared.m2048 != nil {
			// The same key without the 2048-bit assembly: bigmod's
			// ExpShortVarTime, as before it and on other machines.
			withBigmod := *k.prepared
			withBigmod.m2048 = nil
			b.Run(fmt.Sprintf("prepared-bigmod/%d", k.pub.N.BitLen()), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if withBigmod.VerifyPKCS1v15(crypto.SHA256, d[:], sig) != nil {
						b.Fatal("refused")
					}
				}
			})
		}
		b.Run(fmt.Sprintf("prepare/%d", k.pub.N.BitLen()), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Prepare(k.pub)
			}
		})
	}
}
