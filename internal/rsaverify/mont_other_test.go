//go:build !amd64 || purego

package rsaverify

import "testing"

// TestNoMont2048: without the amd64 assembly no key takes that path, and
// the stubs are never reached silently.
func TestNoMont2048(t *testing.T) {
	if hasMont2048 {
		t.Fatal("hasMont2048 without the assembly")
	}
	defer func() {
		if recover() == nil {
			t.Error("the squaring stub did not panic")
		}
	}()
	sqr2048(new([64]uint64), new([32]uint64))
}
