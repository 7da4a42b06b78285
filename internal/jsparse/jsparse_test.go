package jsparse

import (
	"math"
	"testing"
)

// The answers are what node gives for the same input.
func TestParseInt(t *testing.T) {
	for in, want := range map[string]float64{
		"42": 42, "  -17abc": -17, "+8": 8, "0x1F": 31, "0X10g": 16, "\t\n12": 12,
		"007": 7,
	} {
		if got, ok := ParseInt(in); !ok || got != want {
			t.Errorf("ParseInt(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "abc", "-", "0x", " +x1"} {
		if got, ok := ParseInt(in); ok {
			t.Errorf("ParseInt(%q) = %v, want NaN", in, got)
		}
	}
}

func TestNumber(t *testing.T) {
	for in, want := range map[string]float64{"": 0, "  ": 0, " 3 ": 3, "0x10": 16, "1e3": 1000, "-2.5": -2.5} {
		if got, ok := Number(in); !ok || got != want {
			t.Errorf("Number(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"abc", "1_000", "inf", "-Inf", "NaN", "3px", "0xg"} {
		if got, ok := Number(in); ok {
			t.Errorf("Number(%q) = %v, want NaN", in, got)
		}
	}
}

func TestTrim(t *testing.T) {
	for in, want := range map[string]string{
		"plain": "plain", " a b ": "a b", "\uFEFFx\u2028": "x", "\u00a0y\u3000": "y",
		"\u0085z": "\u0085z", "\t\v\f\r\n": "",
	} {
		if got := Trim(in); got != want {
			t.Errorf("Trim(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDateMs(t *testing.T) {
	if ms, ok := DateMs(1.9); !ok || ms != 1000 {
		t.Errorf("DateMs(1.9) = %v, %v", ms, ok)
	}
	if ms, ok := DateMs(-1.9); !ok || ms != -1000 {
		t.Errorf("DateMs(-1.9) = %v, %v", ms, ok)
	}
	for _, s := range []float64{math.NaN(), math.Inf(1), 8.64e12 + 1} {
		if _, ok := DateMs(s); ok {
			t.Errorf("DateMs(%v) is a valid date", s)
		}
	}
}

func TestTrimBytes(t *testing.T) {
	sp := func(c byte) bool { return c == ' ' }
	for in, want := range map[string]string{"": "", "   ": "", " a ": "a", "a b": "a b"} {
		if got := TrimBytes(in, sp); got != want {
			t.Errorf("TrimBytes(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTruthy(t *testing.T) {
	for _, c := range []struct {
		v    any
		want bool
	}{
		{nil, false}, {false, false}, {true, true}, {0.0, false}, {math.NaN(), false}, {-1.5, true},
		{"", false}, {"0", true}, {[]any{}, true}, {map[string]any{}, true},
	} {
		if got := Truthy(c.v); got != c.want {
			t.Errorf("Truthy(%#v) = %v, want %v", c.v, got, c.want)
		}
	}
}
