//go:build amd64 && !purego

package rsaverify

import (
	"os"
	"strings"
	"testing"
)

// TestHasMont2048MatchesTheCPU: the assembly is chosen exactly when the
// processor reports BMI2 and ADX, as Linux lists them in /proc/cpuinfo.
func TestHasMont2048MatchesTheCPU(t *testing.T) {
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Skip("no /proc/cpuinfo to compare with")
	}
	var flags []string
	for _, line := range strings.Split(string(info), "\n") {
		if name, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "flags" {
			flags = strings.Fields(v)
			break
		}
	}
	has := func(f string) bool {
		for _, x := range flags {
			if x == f {
				return true
			}
		}
		return false
	}
	if want := has("bmi2") && has("adx"); hasMont2048 != want {
		t.Errorf("hasMont2048 = %v, but /proc/cpuinfo says bmi2 %v, adx %v", hasMont2048, has("bmi2"), has("adx"))
	}
}
