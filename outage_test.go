package clerkauth

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// keyServer is a JWKS endpoint whose behaviour a test switches while the
// handler runs: it serves the keys it holds, or fails in one of the ways a
// key endpoint fails. It counts fetches and records the paths asked for.
type keyServer struct {
	srv     *httptest.Server
	fetches atomic.Int64

	mu      sync.Mutex
	keys    map[string]*rsa.PublicKey
	mode    keyServerMode
	paths   []string
	release chan struct{} // closed to end every hanging request
	entered chan struct{} // receives once per request that starts hanging
}

type keyServerMode string

const (
	keysOK    keyServerMode = "ok"
	keysDown  keyServerMode = "down"  // the connection is dropped: no HTTP answer
	keys500   keyServerMode = "500"   // Internal Server Error, JSON error body
	keysHTML  keyServerMode = "html"  // 200 with an HTML page (a captive portal, a proxy's error page)
	keysEmpty keyServerMode = "empty" // 200 {"keys":[]}
	keysHang  keyServerMode = "hang"  // no answer until the test releases it
)

func newKeyServer(t testing.TB, keys map[string]*rsa.PublicKey) *keyServer {
	t.Helper()
	ks := &keyServer{keys: keys, mode: keysOK, release: make(chan struct{}), entered: make(chan struct{}, 1024)}
	ks.srv = httptest.NewServer(http.HandlerFunc(ks.serve))
	t.Cleanup(func() {
		ks.mu.Lock()
		select {
		case <-ks.release:
		default:
			close(ks.release)
		}
		ks.mu.Unlock()
		ks.srv.Close()
	})
	return ks
}

func (ks *keyServer) url() string { return ks.srv.URL + "/jwks" }

func (ks *keyServer) set(mode keyServerMode, keys map[string]*rsa.PublicKey) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.mode = mode
	if keys != nil {
		ks.keys = keys
	}
}

func (ks *keyServer) seenPaths() []string {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return append([]string(nil), ks.paths...)
}

func (ks *keyServer) serve(w http.ResponseWriter, r *http.Request) {
	ks.fetches.Add(1)
	ks.mu.Lock()
	ks.paths = append(ks.paths, r.URL.RequestURI())
	mode, body := ks.mode, jwksJSON(ks.keys)
	ks.mu.Unlock()
	switch mode {
	case keysDown:
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
			}
		}
	case keys500:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"errors":[{"code":"internal_clerk_error"}]}`))
	case keysHTML:
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body>Service Unavailable</body></html>"))
	case keysEmpty:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[]}`))
	case keysHang:
		ks.entered <- struct{}{}
		select {
		case <-ks.release:
		case <-r.Context().Done():
		}
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}
}

// jwksJSON is a JWK set as Clerk publishes it: RSA, use sig, alg RS256.
func jwksJSON(keys map[string]*rsa.PublicKey) []byte {
	type jwkJSON struct {
		Kty string `json:"kty"`
		Use string `json:"use"`
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		N   string `json:"n"`
		E   string `json:"e"`
	}
	set := struct {
		Keys []jwkJSON `json:"keys"`
	}{Keys: []jwkJSON{}}
	for kid, k := range keys {
		set.Keys = append(set.Keys, jwkJSON{
			Kty: "RSA", Use: "sig", Alg: "RS256", Kid: kid,
			N: base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
			E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
		})
	}
	b, _ := json.Marshal(set)
	return b
}

// jwksHandler is the test handler with its keys from ks instead of a PEM.
func jwksHandler(t testing.TB, ks *keyServer, edit ...func(*Handler)) *Handler {
	t.Helper()
	return newTestHandler(t, append([]func(*Handler){func(h *Handler) { h.JWTKey, h.JWKSURL = "", ks.url() }}, edit...)...)
}
