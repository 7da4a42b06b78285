package clerkauth

import (
	"net/http"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// TestWarmRequestAllocations guards the warm path's allocation count, the
// figure the speed target counts (time is left to the benchmarks): a token
// served from the cache costs one allocation of the handler's own (the
// request's copies of its header values) with the default headers, for a
// session with an organization too, on a request with as few headers as an
// API client sends.
func TestWarmRequestAllocations(t *testing.T) {
	token := sessionToken(t, realisticClaims)
	req := newRequest(http.MethodGet, "https://app.example.com/assets/app.js", "Authorization", "Bearer "+token, "Accept", "*/*", "User-Agent", "test")
	w := &discardWriter{h: http.Header{}}
	allocs := func(h caddyhttp.MiddlewareHandler) float64 {
		return testing.AllocsPerRun(200, func() {
			if err := serveAsCaddy(h, w, req); err != nil {
				t.Fatal(err)
			}
		})
	}
	base := allocs(passThrough{})
	for _, tc := range []struct {
		setting string
		max     float64
	}{
		{"", 1},
		{"off", 0},
		// Eight headers outgrow the small map of a three-header request.
		{"all", 4},
	} {
		h := newTestHandler(t, func(h *Handler) { h.UpstreamHeaders = tc.setting })
		allocs(h) // the first request verifies and fills the cache
		got := allocs(h) - base
		t.Logf("upstream_headers %q: %.0f allocations of its own", tc.setting, got)
		if got > tc.max {
			t.Errorf("upstream_headers %q: a warm request allocates %.0f objects of its own, want at most %.0f", tc.setting, got, tc.max)
		}
	}
}
