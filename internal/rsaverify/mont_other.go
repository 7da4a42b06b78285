//go:build !amd64 || purego

package rsaverify

// Without the amd64 assembly, every prepared key is verified with
// filippo.io/bigmod.
const hasMont2048 = false

func sqr2048(t *[64]uint64, a *[32]uint64)    { panic("rsaverify: no sqr2048") }
func mul2048(t *[64]uint64, a, b *[32]uint64) { panic("rsaverify: no mul2048") }
func redc2048(z *[32]uint64, t *[64]uint64, m *[32]uint64, m0inv uint64) {
	panic("rsaverify: no redc2048")
}
