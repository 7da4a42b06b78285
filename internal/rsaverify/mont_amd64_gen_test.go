//go:build amd64 && !purego

package rsaverify

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedAssemblyIsCurrent: mont_amd64.s is what mont_amd64_gen.go
// writes, so that a change to the generator cannot be left unapplied (or
// the assembly edited by hand).
func TestGeneratedAssemblyIsCurrent(t *testing.T) {
	out := filepath.Join(t.TempDir(), "mont_amd64.s")
	cmd := exec.Command("go", "run", "mont_amd64_gen.go", "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run mont_amd64_gen.go: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("mont_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("mont_amd64.s differs from what mont_amd64_gen.go writes: run go generate ./internal/rsaverify")
	}
}
