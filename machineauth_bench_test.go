package clerkauth

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/clerk-edge/clerk_auth/internal/machine"
	"go.uber.org/zap"
)

// BenchmarkMachine is the cost of machine tokens beside a session token in
// the same run, each request prepared as Caddy's server does
// (benchRequests):
//
//   - session-warm: a cached session token (the figure the warm target
//     counts), on a handler taking only session tokens;
//   - api-key-cached: an API key answered from the machine cache (no
//     Backend API call);
//   - m2m-jwt-warm: an M2M JWT remembered after its first verification;
//   - m2m-jwt-cold: 512 distinct M2M JWTs with machine_cache_ttl 0, so
//     that each request decodes and verifies one (RSA included);
//   - api-key-uncached: machine_cache_ttl 0, Clerk's behaviour: one
//     Backend API call per request, here to a loopback server.
//
// go test -run '^$' -bench BenchmarkMachine -benchmem .
func BenchmarkMachine(b *testing.B) {
	api := newFakeMachineAPI(b)
	req := func(tok string) *http.Request {
		return newRequest(http.MethodGet, "https://app.example.com/api/orders", "Authorization", "Bearer "+tok, "Accept", "*/*", "User-Agent", "bench")
	}
	m2mJWT := func(i int) string {
		return machineJWT(b, map[string]any{"cat": machine.JWTCategoryM2M}, map[string]any{"sub": "mch_1", "jti": fmt.Sprintf("mt_jwt_%d", i), "scopes": "mch_2"})
	}
	handler := func(accepts []string, edit ...func(*Handler)) *Handler {
		h := machineHandler(b, api, accepts, edit...)
		h.useLogger(zap.NewNop())
		return h
	}
	noCache := func(h *Handler) { z := caddy.Duration(0); h.MachineCacheTTL = &z }

	b.Run("passthrough", func(b *testing.B) {
		benchRequests(b, passThrough{}, []*http.Request{req(akUser)}, false)
	})
	b.Run("session-warm", func(b *testing.B) {
		benchRequests(b, benchHandler(b), []*http.Request{req(sessionToken(b, realisticClaims))}, false)
	})
	b.Run("api-key-cached", func(b *testing.B) {
		before := api.n(akUser)
		benchRequests(b, handler([]string{"api_key"}), []*http.Request{req(akUser)}, false)
		if n := api.n(akUser) - before; n != 1 {
			b.Fatalf("%d Backend API calls for one cached key", n)
		}
	})
	b.Run("m2m-jwt-warm", func(b *testing.B) {
		benchRequests(b, handler([]string{"m2m_token"}), []*http.Request{req(m2mJWT(0))}, false)
	})
	var cold []*http.Request
	b.Run("m2m-jwt-cold", func(b *testing.B) {
		if cold == nil {
			for i := range 512 {
				cold = append(cold, req(m2mJWT(i)))
			}
		}
		benchRequests(b, handler([]string{"m2m_token"}, noCache), cold, false)
	})
	b.Run("passthrough-cold", func(b *testing.B) {
		benchRequests(b, passThrough{}, cold, false)
	})
	b.Run("api-key-uncached", func(b *testing.B) {
		h := handler([]string{"api_key"}, noCache)
		h.machine = machine.NewVerifier(h.fetchMachineToken(), machine.Config{Rate: -1})
		h.useKeys(h.keys) // rebuilds the engine with the unbounded verifier
		benchRequests(b, h, []*http.Request{req(akOrg)}, false)
	})
}
