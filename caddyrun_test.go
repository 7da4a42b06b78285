package clerkauth

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// Helpers to run a real Caddy in this process, on loopback ports of its own,
// with no config persisted. Caddy holds one config per process, so tests
// using them must not run in parallel.

// loadCaddy runs cfg (a Caddy JSON config) and stops it when the test ends.
func loadCaddy(t testing.TB, cfg any) {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	loadCaddyJSON(t, raw)
}

// loadCaddyJSON runs a Caddy JSON config until the test ends: the one
// loader of loadCaddy and runCaddy.
func loadCaddyJSON(t testing.TB, raw []byte) {
	t.Helper()
	if err := caddy.Load(raw, true); err != nil {
		t.Fatalf("loading the config: %v", err)
	}
	// A reload stops the old servers, which close the connections the test
	// client keeps idle to them; a request sent on one of those as it
	// closes fails with EOF. Start the new config on fresh connections.
	noRedirects.CloseIdleConnections()
	t.Cleanup(stopCaddy)
}

func stopCaddy() {
	// Loading a config with the admin endpoint disabled stops the endpoint
	// too, which caddy.Stop leaves running.
	_ = caddy.Load([]byte(`{"admin":{"disabled":true,"config":{"persist":false}}}`), true)
	_ = caddy.Stop()
}

// adminConfig is an admin endpoint on addr that persists nothing.
func adminConfig(addr string) map[string]any {
	if addr == "" {
		return map[string]any{"disabled": true, "config": map[string]any{"persist": false}}
	}
	return map[string]any{"listen": addr, "config": map[string]any{"persist": false}}
}

// httpServerConfig is one plain-HTTP server on addr with the given routes.
func httpServerConfig(addr string, routes ...any) map[string]any {
	return map[string]any{
		"listen":          []string{addr},
		"automatic_https": map[string]any{"disable": true},
		"routes":          routes,
	}
}

// noRedirects is a client that reports redirects instead of following them.
var noRedirects = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// do sends one request and returns the response with its body read.
func do(t testing.TB, method, url string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if strings.EqualFold(headers[i], "Host") {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// liveTimes makes session claims valid now, for handlers on the real clock.
func liveTimes(c map[string]any) {
	now := time.Now().Unix()
	c["iat"], c["nbf"], c["exp"] = now-10, now-20, now+120
}

// expiredTimes makes session claims expired a minute ago.
func expiredTimes(c map[string]any) {
	now := time.Now().Unix()
	c["iat"], c["nbf"], c["exp"] = now-180, now-190, now-60
}

func addr(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }
