package clerkauth

import (
	"crypto/rsa"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/clerk-edge/clerk_auth/internal/authn"
	"github.com/clerk-edge/clerk_auth/internal/demo"
)

//go:embed demo/private.pem
var demoPrivateKeyPEM []byte

// demoTokenLifetime is how long the stand-in's session tokens live (tests
// shorten it to watch a refresh).
var demoTokenLifetime = demo.DefaultTokenLifetime

// provisionDemo sets demo mode up after resolveSettings: the handshake goes
// to the stand-in for Clerk's Frontend API on the reserved path (as a
// relative proxy_url would send it, docs/browser-flow.md), the issuer stays
// the demo instance's (so cmd/demotoken's tokens stay valid on any host),
// and signed-out page loads go to the stand-in's sign-in page.
func (h *Handler) provisionDemo() error {
	if !h.Demo {
		return fmt.Errorf("clerk_auth: the Clerk stand-in runs in demo mode only")
	}
	if h.ProxyURL != "" || h.Issuer != "" {
		return fmt.Errorf("clerk_auth: demo: cannot be combined with proxy_url or issuer (it serves its own stand-in for Clerk at %s)", demo.DefaultPrefix)
	}
	block, _ := pem.Decode(demoPrivateKeyPEM)
	if block == nil {
		return fmt.Errorf("clerk_auth: demo: demo/private.pem is not PEM")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return fmt.Errorf("clerk_auth: demo: %v", err)
	}
	rk, _ := key.(*rsa.PrivateKey)
	h.ProxyURL, h.Issuer = demo.DefaultPrefix, "https://clerk.demo.localhost"
	d, err := demo.New(demo.Config{
		PublishableKey: h.PublishableKey, PrivateKey: rk, KeyID: "demo", Issuer: h.Issuer,
		CookieSuffix: authn.CookieSuffix(h.PublishableKey), TokenLifetime: demoTokenLifetime,
		Now: func() time.Time { return h.now() },
	})
	if err != nil {
		return fmt.Errorf("clerk_auth: %v", err)
	}
	if h.SignInURL == "" {
		h.SignInURL = d.SignInURL()
	}
	h.demo = d
	return nil
}

// serveDemo answers a request for the stand-in's reserved path, with our
// placeholders known and empty (no session is decided on there).
func (h *Handler) serveDemo(w http.ResponseWriter, r *http.Request) error {
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Map(placeholdersFor(&authn.Outcome{}))
	}
	h.demo.ServeHTTP(w, r)
	return nil
}
