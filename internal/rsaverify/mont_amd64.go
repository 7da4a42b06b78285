//go:build !purego

package rsaverify

//go:generate go run mont_amd64_gen.go -out mont_amd64.s

// The assembly in mont_amd64.s needs BMI2 (MULX) and ADX (ADCX, ADOX).
var hasMont2048 = func() bool {
	ebx := cpuid7ebx()
	return ebx&(1<<8) != 0 && ebx&(1<<19) != 0
}()

// sqr2048 is t = a².
//
//go:noescape
func sqr2048(t *[64]uint64, a *[32]uint64)

// mul2048 is t = a·b.
//
//go:noescape
func mul2048(t *[64]uint64, a, b *[32]uint64)

// redc2048 is z = t/R mod m (R = 2²⁰⁴⁸), fully reduced, for t < m·R and
// m0inv = -m⁻¹ mod 2⁶⁴; t is overwritten.
//
//go:noescape
func redc2048(z *[32]uint64, t *[64]uint64, m *[32]uint64, m0inv uint64)

// cpuid7ebx is CPUID leaf 7's EBX, 0 without leaf 7.
func cpuid7ebx() uint32
