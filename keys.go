package clerkauth

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/rsaverify"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"go.uber.org/zap"
)

// verificationKey is one RSA public key and the algorithm it is pinned to.
// The token never chooses the key type: only RS256/384/512 exist here, and a
// key that names its algorithm verifies only that one.
type verificationKey struct {
	kid string
	// alg is the one algorithm this key verifies; empty means any of RS256,
	// RS384 and RS512 (a JWK published without "alg").
	alg string
	pub *rsa.PublicKey
	// prepared is pub with its modulus built once, when the key entered the
	// key set (newVerificationKey): tokens then cost only the public-key
	// operation (docs/performance.md, "Decision: RSA verification with a
	// prepared modulus"). nil verifies with crypto/rsa.
	prepared *rsaverify.PublicKey
	// source says where the key came from, for logs and diagnostics.
	source string
}

// newVerificationKey is a key as it enters a key set, its modulus prepared.
func newVerificationKey(kid, alg string, pub *rsa.PublicKey, source string) *verificationKey {
	return &verificationKey{kid: kid, alg: alg, pub: pub, prepared: rsaverify.Prepare(pub), source: source}
}

// Algorithm is the one algorithm the key verifies, "" for any (jwt.Key).
func (k *verificationKey) Algorithm() string { return k.alg }

// VerifyPKCS1v15 is rsa.VerifyPKCS1v15 with the key's prepared modulus.
func (k *verificationKey) VerifyPKCS1v15(hash crypto.Hash, hashed, sig []byte) error {
	if k.prepared == nil {
		return rsa.VerifyPKCS1v15(k.pub, hash, hashed, sig)
	}
	return k.prepared.VerifyPKCS1v15(hash, hashed, sig)
}

// keyProvider resolves the key for a token's kid.
type keyProvider interface {
	keyFor(ctx context.Context, kid string) (*verificationKey, *jwt.Error)
}

// keyHolder is a key source that can tell whether a key it gave out is still
// one of its keys: the token cache drops what a key no longer in the set had
// verified.
type keyHolder interface {
	holds(key *verificationKey) bool
}

// staticKey is the networkless jwt_key. Like @clerk/backend's PEM path it is
// pinned to RS256 and ignores the token's kid.
type staticKey struct{ key *verificationKey }

func (s staticKey) keyFor(context.Context, string) (*verificationKey, *jwt.Error) {
	return s.key, nil
}

// holds is true for the one key: a jwt_key never changes while the handler
// lives.
func (s staticKey) holds(k *verificationKey) bool { return k == s.key }

// parsePEMKey reads the Dashboard's "JWKS Public Key": a PEM block, the bare
// base64 body of one (as clerk-sdk-go accepts), or either with literal "\n"
// escapes as environment variables often carry them. Any RSA size.
func parsePEMKey(text string) (*rsa.PublicKey, error) {
	text = strings.TrimSpace(strings.ReplaceAll(text, `\n`, "\n"))
	if text == "" {
		return nil, errors.New("the key is empty")
	}
	var der []byte
	if block, _ := pem.Decode([]byte(text)); block != nil {
		der = block.Bytes
	} else {
		body := strings.Join(strings.Fields(text), "")
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return nil, errors.New("not a PEM block and not base64 (expected the \"JWKS Public Key\" from the Clerk Dashboard)")
		}
		der = b
	}
	if pub, err := x509.ParsePKIXPublicKey(der); err == nil {
		rsaPub, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("the key is %T, Clerk signs with RSA", pub)
		}
		return checkRSAKey(rsaPub)
	}
	if rsaPub, err := x509.ParsePKCS1PublicKey(der); err == nil {
		return checkRSAKey(rsaPub)
	}
	return nil, errors.New("the key is not an RSA public key (SPKI \"PUBLIC KEY\" or PKCS#1 \"RSA PUBLIC KEY\")")
}

func checkRSAKey(k *rsa.PublicKey) (*rsa.PublicKey, error) {
	if k.N.BitLen() < 2048 {
		return nil, fmt.Errorf("RSA key of %d bits is too small (at least 2048)", k.N.BitLen())
	}
	// Clerk's keys use 65537. crypto/rsa verifies with e=3, but a small
	// exponent is what the classic signature forgeries against lax
	// PKCS#1 v1.5 verifiers need, and no Clerk key has one: refused.
	if k.E < minRSAExponent || k.E%2 == 0 {
		return nil, fmt.Errorf("RSA key exponent %d is refused (odd and at least %d required)", k.E, minRSAExponent)
	}
	return k, nil
}

// newClerkClient is the HTTP client of every call that carries the secret
// key or fetches keys (the key set, the nonce exchange, the user lookup). It
// never follows a redirect: Clerk's APIs do not redirect, Go's client would
// resend the Authorization header to another port of the same host, and
// keys are trusted only from the origin configured. A 3xx is the answer,
// and every caller treats an answer other than 200 as a failure.
func newClerkClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, CheckRedirect: refuseRedirect}
}

func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Tuning of the remote key set.
const (
	// keyRefreshInterval is how often a good key set is fetched again, as
	// @clerk/backend's 5-minute JWKS cache.
	keyRefreshInterval = 5 * time.Minute
	// unknownKidInterval bounds fetches caused by tokens naming a kid we do not
	// hold: at most one per interval, whatever the traffic.
	unknownKidInterval = 10 * time.Second
	// keyFetchTimeout bounds one fetch, and so how long a request may wait.
	keyFetchTimeout = 5 * time.Second
	// maxJWKSBytes bounds what we read of a key endpoint's answer.
	maxJWKSBytes = 1 << 20
)

// keyTiming is a remote key set's tuning, copied at creation so that tests
// can shorten it without racing a running key set.
type keyTiming struct {
	refresh      time.Duration // keyRefreshInterval
	unknownKid   time.Duration // unknownKidInterval, also the longest retry
	retry        time.Duration // first retry after a failed fetch
	fetchTimeout time.Duration // keyFetchTimeout
}

var defaultKeyTiming = keyTiming{
	refresh:      keyRefreshInterval,
	unknownKid:   unknownKidInterval,
	retry:        time.Second,
	fetchTimeout: keyFetchTimeout,
}

// keyMap is an immutable snapshot of a fetched key set.
type keyMap struct {
	keys      map[string]*verificationKey
	fetchedAt time.Time
}

// remoteKeySet is a JWKS endpoint's keys, fetched in the background, shared by
// every handler of the same instance across config reloads (through a
// caddy.UsagePool), and never keyed by kid alone across instances.
type remoteKeySet struct {
	url    string
	header http.Header
	client *http.Client
	logger atomic.Pointer[zap.Logger]
	timing keyTiming

	current atomic.Pointer[keyMap]

	mu          sync.Mutex
	inflight    chan struct{} // closed when the fetch under way ends
	lastAttempt time.Time
	lastErr     *jwt.Error
	fetches     atomic.Int64
	sinks       eventSinks // where key events go (events.go)

	cancel context.CancelFunc
	done   chan struct{}
}

// remoteKeySetPool shares key sets across handlers and config reloads.
var remoteKeySetPool = caddy.NewUsagePool()

// remoteKeySetPoolKey scopes a key set to its URL and credentials: two
// instances never share keys, and the secret itself is not kept as a key.
func remoteKeySetPoolKey(url, secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return url + "|" + hex.EncodeToString(sum[:8])
}

func newRemoteKeySet(url, secretKey string, client *http.Client, logger *zap.Logger) *remoteKeySet {
	header := http.Header{}
	header.Set("User-Agent", "caddy-clerk-auth")
	if secretKey != "" {
		header.Set("Authorization", "Bearer "+secretKey)
		header.Set("Clerk-API-Version", wire.APIVersion)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ks := &remoteKeySet{url: url, header: header, client: client, timing: defaultKeyTiming, cancel: cancel, done: make(chan struct{})}
	ks.logger.Store(logger)
	go ks.refreshLoop(ctx)
	return ks
}

// Destruct stops the background refresh when the last handler using the key
// set is cleaned up.
func (ks *remoteKeySet) Destruct() error {
	ks.cancel()
	<-ks.done
	return nil
}

// refreshLoop fetches at once, then every keyRefreshInterval; after a failure
// it retries sooner (1 s doubling up to unknownKidInterval) so that keys
// arrive soon after Clerk is reachable again.
func (ks *remoteKeySet) refreshLoop(ctx context.Context) {
	defer close(ks.done)
	backoff := ks.timing.retry
	for {
		err := ks.fetch(ctx)
		wait := ks.timing.refresh
		if err != nil {
			wait = backoff
			backoff = min(backoff*2, ks.timing.unknownKid)
		} else {
			backoff = ks.timing.retry
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// fetch runs one fetch, or joins the one under way.
func (ks *remoteKeySet) fetch(ctx context.Context) *jwt.Error {
	ks.mu.Lock()
	if ch := ks.inflight; ch != nil {
		ks.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return &jwt.Error{Reason: wire.ReasonJWKRemoteFailedToLoad, Message: msgKeysNotLoaded, Detail: "gave up waiting for the key fetch"}
		}
		ks.mu.Lock()
		err := ks.lastErr
		ks.mu.Unlock()
		return err
	}
	ch := make(chan struct{})
	ks.inflight = ch
	ks.lastAttempt = time.Now()
	ks.mu.Unlock()

	start := time.Now()
	km, err := ks.download()
	prev := ks.current.Load()

	ks.mu.Lock()
	ks.lastErr = err
	if err == nil {
		keepUnchangedKeys(km, ks.current.Load())
		ks.current.Store(km)
	}
	ks.inflight = nil
	ks.mu.Unlock()
	close(ch)
	ks.reportFetch(prev, km, err, time.Since(start))

	if err != nil {
		ks.logger.Load().Warn("clerk key fetch failed; keeping the last good keys",
			zap.String("jwks_url", ks.url), zap.String("reason", err.Reason), zap.String("error", err.LogText()))
	}
	return err
}

// download fetches and parses the key set. It never returns a partial set.
func (ks *remoteKeySet) download() (*keyMap, *jwt.Error) {
	ks.fetches.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), ks.timing.fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ks.url, nil)
	if err != nil {
		return nil, &jwt.Error{Reason: wire.ReasonJWKRemoteFailedToLoad, Message: msgKeysNotLoaded, Detail: "bad JWKS URL"}
	}
	req.Header = ks.header.Clone()
	resp, err := ks.client.Do(req)
	if err != nil {
		return nil, &jwt.Error{Reason: wire.ReasonJWKRemoteFailedToLoad, Message: msgKeysNotLoaded, Detail: "cannot reach the JWKS endpoint: " + redactURLError(err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, &jwt.Error{Reason: wire.ReasonJWKRemoteFailedToLoad, Message: msgKeysNotLoaded, Detail: "reading the JWKS answer failed"}
	}
	if len(body) > maxJWKSBytes {
		return nil, &jwt.Error{Reason: wire.ReasonJWKRemoteFailedToLoad, Message: msgKeysNotLoaded, Detail: "the JWKS answer is larger than 1 MiB"}
	}
	if resp.StatusCode != http.StatusOK {
		if bapiErrorCode(body) == "clerk_key_invalid" {
			return nil, &jwt.Error{Reason: wire.ReasonSecretKeyInvalid, Message: "The Backend API rejected the secret key."}
		}
		detail := fmt.Sprintf("the JWKS endpoint answered %d", resp.StatusCode)
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			detail += " (a redirect: not followed, keys come only from the configured URL)"
		}
		return nil, &jwt.Error{Reason: wire.ReasonJWKRemoteFailedToLoad, Message: msgKeysNotLoaded, Detail: detail}
	}
	keys, refused, err := parseJWKS(body)
	for _, why := range refused {
		ks.logger.Load().Warn("clerk key refused", zap.String("jwks_url", ks.url), zap.String("why", why))
	}
	if err != nil {
		return nil, &jwt.Error{Reason: wire.ReasonJWKRemoteFailedToLoad, Message: msgKeysNotLoaded, Detail: err.Error()}
	}
	for _, k := range keys {
		k.source = ks.url
	}
	return &keyMap{keys: keys, fetchedAt: time.Now()}, nil
}

// parseJWKS keeps the RSA signing keys of a JWK set, each pinned to its
// alg; refused says why each RSA signing key it did not keep was refused.
func parseJWKS(body []byte) (keys map[string]*verificationKey, refused []string, err error) {
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, nil, errors.New("the JWKS answer is not a JWK set")
	}
	keys = make(map[string]*verificationKey, set.Len())
	for i := 0; i < set.Len(); i++ {
		k, _ := set.Key(i)
		if k.KeyType() != jwa.RSA || k.KeyUsage() == string(jwk.ForEncryption) {
			continue
		}
		alg := k.Algorithm().String()
		if alg != "" && !jwt.IsAllowedAlg(alg) {
			continue
		}
		var pub rsa.PublicKey
		if err := k.Raw(&pub); err != nil {
			continue
		}
		if _, err := checkRSAKey(&pub); err != nil {
			refused = append(refused, fmt.Sprintf("kid %q: %v", k.KeyID(), err))
			continue
		}
		keys[k.KeyID()] = newVerificationKey(k.KeyID(), alg, &pub, "")
	}
	if len(keys) == 0 {
		return nil, refused, errors.New("the JWK set holds no RSA signing key")
	}
	return keys, refused, nil
}

func bapiErrorCode(body []byte) string {
	var e struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Errors) == 0 {
		return ""
	}
	return e.Errors[0].Code
}

// redactURLError keeps a transport error's cause without the URL's query.
func redactURLError(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		return ue.Unwrap().Error()
	}
	return err.Error()
}

// keyFor returns the key for kid. An unknown kid triggers a fetch only when
// none was tried in the last unknownKidInterval; a request waits at most for
// one fetch, bounded by keyFetchTimeout and its own context.
func (ks *remoteKeySet) keyFor(ctx context.Context, kid string) (*verificationKey, *jwt.Error) {
	if k := ks.lookup(kid); k != nil {
		return k, nil
	}
	if kid != "" && ks.mayFetchForUnknownKid() {
		ks.fetch(ctx)
		if k := ks.lookup(kid); k != nil {
			return k, nil
		}
	} else if ks.fetchInFlight() {
		// Keys are on their way (at start, or a rotation): wait for them
		// rather than deny.
		ks.fetch(ctx)
		if k := ks.lookup(kid); k != nil {
			return k, nil
		}
	}
	if ks.current.Load() == nil {
		ks.mu.Lock()
		err := ks.lastErr
		ks.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return nil, &jwt.Error{Reason: wire.ReasonJWKRemoteFailedToLoad, Message: msgKeysNotLoaded, Detail: "no keys have been loaded yet"}
	}
	return nil, &jwt.Error{Reason: wire.ReasonJWKKidMismatch, Message: "the token's kid is not in the instance's key set"}
}

// holds is true while k is the key of its kid in the current set. A key
// that left the set, or was replaced under the same kid, is not held.
func (ks *remoteKeySet) holds(k *verificationKey) bool {
	km := ks.current.Load()
	return km != nil && km.keys[k.kid] == k
}

// keepUnchangedKeys reuses the previous set's key object where a refresh
// brought the same key back (same kid, alg and public key), so that what
// it verified stays cached across the periodic refresh.
func keepUnchangedKeys(next, prev *keyMap) {
	if prev == nil {
		return
	}
	for kid, k := range next.keys {
		if old := prev.keys[kid]; old != nil && old.alg == k.alg && old.pub.Equal(k.pub) {
			next.keys[kid] = old
		}
	}
}

func (ks *remoteKeySet) lookup(kid string) *verificationKey {
	if km := ks.current.Load(); km != nil {
		return km.keys[kid]
	}
	return nil
}

func (ks *remoteKeySet) fetchInFlight() bool {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.inflight != nil
}

func (ks *remoteKeySet) mayFetchForUnknownKid() bool {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.inflight != nil || time.Since(ks.lastAttempt) >= ks.timing.unknownKid
}
