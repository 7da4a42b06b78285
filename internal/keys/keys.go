// Package keys holds the keys session tokens are verified with: Key (an RSA
// public key pinned to its algorithm, its modulus prepared once), the
// networkless PEM key (Static), and a JWKS endpoint's key set (Remote:
// background refresh, a throttle on fetches for unknown kids, unchanged keys
// kept across refreshes so the token cache keeps what they verified).
package keys

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/clerkapi"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/rsaverify"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"go.uber.org/zap"
)

// MsgKeysNotLoaded is the X-Clerk-Auth-Message of every failure to load the
// key set: a client learns the reason code and this, never where the keys
// are fetched from or why it failed (that goes to the log).
const MsgKeysNotLoaded = "The instance's key set could not be loaded."

// MinRSAExponent is the smallest public exponent a verification key may
// have (Clerk's keys use 65537); smaller or even ones are refused at load.
const MinRSAExponent = 65537

// Key is one RSA public key and the algorithm it is pinned to.
// The token never chooses the key type: only RS256/384/512 exist here, and a
// key that names its algorithm verifies only that one.
type Key struct {
	Kid string
	// Alg is the one algorithm this key verifies; empty means any of RS256,
	// RS384 and RS512 (a JWK published without "alg").
	Alg string
	Pub *rsa.PublicKey
	// prepared is pub with its modulus built once, when the key entered the
	// key set (newVerificationKey): tokens then cost only the public-key
	// operation (docs/performance.md, "Decision: RSA verification with a
	// prepared modulus"). nil verifies with crypto/rsa.
	prepared *rsaverify.PublicKey
	// Source says where the key came from, for logs and diagnostics.
	Source string
}

// NewKey is a key as it enters a key set, its modulus prepared.
func NewKey(kid, alg string, pub *rsa.PublicKey, source string) *Key {
	return &Key{Kid: kid, Alg: alg, Pub: pub, prepared: rsaverify.Prepare(pub), Source: source}
}

// Verify checks d's typ, its alg against the key's, and its signature
// (jwt.VerifySignature).
func (k *Key) Verify(d *jwt.Token) *jwt.Error {
	return jwt.VerifySignature(d, k.Alg, k.Pub, k.prepared)
}

// VerifyMachine checks d's alg against the key's and its signature, not its
// typ: internal/machine checks a machine JWT's typ by its own rule
// (verifyM2MJwt and verifyOAuthJwt, src/jwt/verifyMachineJwt.ts).
func (k *Key) VerifyMachine(d *jwt.Token) *jwt.Error {
	return jwt.VerifyAlgAndSignature(d, k.Alg, k.Pub, k.prepared)
}

// Provider resolves the key for a token's kid.
type Provider interface {
	KeyFor(ctx context.Context, kid string) (*Key, *jwt.Error)
}

// Holder is a key source that can tell whether a key it gave out is still
// one of its keys: the token cache drops what a key no longer in the set had
// verified.
type Holder interface {
	Holds(key *Key) bool
}

// Static is the networkless jwt_key. Like @clerk/backend's PEM path it is
// pinned to RS256 and ignores the token's kid.
type Static struct{ Key *Key }

// KeyFor is the one key, whatever the kid.
func (s Static) KeyFor(context.Context, string) (*Key, *jwt.Error) {
	return s.Key, nil
}

// Holds is true for the one key: a jwt_key never changes while the handler
// lives.
func (s Static) Holds(k *Key) bool { return k == s.Key }

// ParsePEM reads the Dashboard's "JWKS Public Key": a PEM block, the bare
// base64 body of one (as clerk-sdk-go accepts), or either with literal "\n"
// escapes as environment variables often carry them. Any RSA size.
func ParsePEM(text string) (*rsa.PublicKey, error) {
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
		return CheckRSA(rsaPub)
	}
	if rsaPub, err := x509.ParsePKCS1PublicKey(der); err == nil {
		return CheckRSA(rsaPub)
	}
	return nil, errors.New("the key is not an RSA public key (SPKI \"PUBLIC KEY\" or PKCS#1 \"RSA PUBLIC KEY\")")
}

// CheckRSA refuses keys under 2048 bits and small or even exponents.
func CheckRSA(k *rsa.PublicKey) (*rsa.PublicKey, error) {
	if k.N.BitLen() < 2048 {
		return nil, fmt.Errorf("RSA key of %d bits is too small (at least 2048)", k.N.BitLen())
	}
	// Clerk's keys use 65537. crypto/rsa verifies with e=3, but a small
	// exponent is what the classic signature forgeries against lax
	// PKCS#1 v1.5 verifiers need, and no Clerk key has one: refused.
	if k.E < MinRSAExponent || k.E%2 == 0 {
		return nil, fmt.Errorf("RSA key exponent %d is refused (odd and at least %d required)", k.E, MinRSAExponent)
	}
	return k, nil
}

// Tuning of the remote key set.
const (
	// keyRefreshInterval is how often a good key set is fetched again, as
	// @clerk/backend's 5-minute JWKS cache.
	RefreshInterval = 5 * time.Minute
	// UnknownKidInterval bounds fetches caused by tokens naming a kid we do not
	// hold: at most one per interval, whatever the traffic.
	UnknownKidInterval = 10 * time.Second
	// keyFetchTimeout bounds one fetch, and so how long a request may wait.
	FetchTimeout = 5 * time.Second
	// maxJWKSBytes bounds what we read of a key endpoint's answer.
	maxJWKSBytes = 1 << 20
)

// Timing is a remote key set's tuning, copied at creation so that tests
// can shorten it without racing a running key set.
type Timing struct {
	Refresh      time.Duration // keyRefreshInterval
	UnknownKid   time.Duration // unknownKidInterval, also the longest retry
	Retry        time.Duration // first retry after a failed fetch
	FetchTimeout time.Duration // keyFetchTimeout
}

// DefaultTiming is the tuning of a new Remote.
var DefaultTiming = Timing{
	Refresh:      RefreshInterval,
	UnknownKid:   UnknownKidInterval,
	Retry:        time.Second,
	FetchTimeout: FetchTimeout,
}

// Map is an immutable snapshot of a fetched key set.
type Map struct {
	Keys      map[string]*Key
	FetchedAt time.Time
}

// Remote is a JWKS endpoint's keys, fetched in the background. The module
// shares one across every handler of the same instance and config reloads
// (through a caddy.UsagePool), and never keys it by kid alone across
// instances.
type Remote struct {
	// URL is the JWKS endpoint.
	URL string
	api *clerkapi.Client
	// Logger is where fetch failures and refused keys are logged.
	Logger atomic.Pointer[zap.Logger]
	// Timing is the tuning, DefaultTiming at creation.
	Timing Timing
	// Current is the last good key set, nil until one loaded.
	Current atomic.Pointer[Map]
	report  Report

	mu          sync.Mutex
	inflight    chan struct{} // closed when the fetch under way ends
	lastAttempt time.Time
	lastErr     *jwt.Error
	// Fetches counts the downloads tried.
	Fetches atomic.Int64

	cancel context.CancelFunc
	done   chan struct{}
}

// Report hears of every fetch of r: prev is the set held before, got the
// one fetched (nil when err), took how long it took. The module publishes
// it as metrics and events.
type Report func(r *Remote, prev, got *Map, err *jwt.Error, took time.Duration)

// NewRemote starts fetching url's key set through api, and keeps it fresh
// until Destruct. report, when not nil, hears of every fetch.
func NewRemote(url string, api *clerkapi.Client, logger *zap.Logger, report Report) *Remote {
	ctx, cancel := context.WithCancel(context.Background())
	ks := &Remote{URL: url, api: api, Timing: DefaultTiming, report: report, cancel: cancel, done: make(chan struct{})}
	ks.Logger.Store(logger)
	go ks.refreshLoop(ctx)
	return ks
}

// Destruct stops the background refresh when the last handler using the key
// set is cleaned up.
func (ks *Remote) Destruct() error {
	ks.cancel()
	<-ks.done
	return nil
}

// refreshLoop fetches at once, then every keyRefreshInterval; after a failure
// it retries sooner (1 s doubling up to unknownKidInterval) so that keys
// arrive soon after Clerk is reachable again.
func (ks *Remote) refreshLoop(ctx context.Context) {
	defer close(ks.done)
	backoff := ks.Timing.Retry
	for {
		err := ks.Fetch(ctx)
		wait := ks.Timing.Refresh
		if err != nil {
			wait = backoff
			backoff = min(backoff*2, ks.Timing.UnknownKid)
		} else {
			backoff = ks.Timing.Retry
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// Fetch runs one fetch, or joins the one under way.
func (ks *Remote) Fetch(ctx context.Context) *jwt.Error {
	ks.mu.Lock()
	if ch := ks.inflight; ch != nil {
		ks.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return &jwt.Error{Reason: wire.ReasonJWKRemoteFailedToLoad, Message: MsgKeysNotLoaded, Detail: "gave up waiting for the key fetch"}
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
	prev := ks.Current.Load()

	ks.mu.Lock()
	ks.lastErr = err
	if err == nil {
		keepUnchanged(km, ks.Current.Load())
		ks.Current.Store(km)
	}
	ks.inflight = nil
	ks.mu.Unlock()
	close(ch)
	if ks.report != nil {
		ks.report(ks, prev, km, err, time.Since(start))
	}

	if err != nil {
		ks.Logger.Load().Warn("clerk key fetch failed; keeping the last good keys",
			zap.String("jwks_url", ks.URL), zap.String("reason", err.Reason), zap.String("error", err.LogText()))
	}
	return err
}

// download fetches and parses the key set. It never returns a partial set.
func (ks *Remote) download() (*Map, *jwt.Error) {
	ks.Fetches.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), ks.Timing.FetchTimeout)
	defer cancel()
	status, body, err := ks.api.Get(ctx, ks.URL, maxJWKSBytes)
	switch {
	case errors.Is(err, clerkapi.ErrBadURL):
		return nil, &jwt.Error{Reason: wire.ReasonJWKRemoteFailedToLoad, Message: MsgKeysNotLoaded, Detail: "bad JWKS URL"}
	case errors.Is(err, clerkapi.ErrRead):
		return nil, &jwt.Error{Reason: wire.ReasonJWKRemoteFailedToLoad, Message: MsgKeysNotLoaded, Detail: "reading the JWKS answer failed"}
	case errors.Is(err, clerkapi.ErrTooLarge):
		return nil, &jwt.Error{Reason: wire.ReasonJWKRemoteFailedToLoad, Message: MsgKeysNotLoaded, Detail: "the JWKS answer is larger than 1 MiB"}
	case err != nil:
		return nil, &jwt.Error{Reason: wire.ReasonJWKRemoteFailedToLoad, Message: MsgKeysNotLoaded, Detail: "cannot reach the JWKS endpoint: " + clerkapi.RedactURLError(err)}
	}
	if status != http.StatusOK {
		if clerkapi.ErrorCode(body) == "clerk_key_invalid" {
			return nil, &jwt.Error{Reason: wire.ReasonSecretKeyInvalid, Message: "The Backend API rejected the secret key."}
		}
		detail := fmt.Sprintf("the JWKS endpoint answered %d", status)
		if status >= 300 && status < 400 {
			detail += " (a redirect: not followed, keys come only from the configured URL)"
		}
		return nil, &jwt.Error{Reason: wire.ReasonJWKRemoteFailedToLoad, Message: MsgKeysNotLoaded, Detail: detail}
	}
	keys, refused, err := ParseJWKS(body)
	for _, why := range refused {
		ks.Logger.Load().Warn("clerk key refused", zap.String("jwks_url", ks.URL), zap.String("why", why))
	}
	if err != nil {
		return nil, &jwt.Error{Reason: wire.ReasonJWKRemoteFailedToLoad, Message: MsgKeysNotLoaded, Detail: err.Error()}
	}
	for _, k := range keys {
		k.Source = ks.URL
	}
	return &Map{Keys: keys, FetchedAt: time.Now()}, nil
}

// ParseJWKS keeps the RSA signing keys of a JWK set, each pinned to its
// alg; refused says why each RSA signing key it did not keep was refused.
func ParseJWKS(body []byte) (keys map[string]*Key, refused []string, err error) {
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, nil, errors.New("the JWKS answer is not a JWK set")
	}
	keys = make(map[string]*Key, set.Len())
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
		if _, err := CheckRSA(&pub); err != nil {
			refused = append(refused, fmt.Sprintf("kid %q: %v", k.KeyID(), err))
			continue
		}
		keys[k.KeyID()] = NewKey(k.KeyID(), alg, &pub, "")
	}
	if len(keys) == 0 {
		return nil, refused, errors.New("the JWK set holds no RSA signing key")
	}
	return keys, refused, nil
}

// KeyFor returns the key for kid. An unknown kid triggers a fetch only when
// none was tried in the last unknownKidInterval; a request waits at most for
// one fetch, bounded by keyFetchTimeout and its own context.
func (ks *Remote) KeyFor(ctx context.Context, kid string) (*Key, *jwt.Error) {
	if k := ks.Lookup(kid); k != nil {
		return k, nil
	}
	if kid != "" && ks.mayFetchForUnknownKid() {
		ks.Fetch(ctx)
		if k := ks.Lookup(kid); k != nil {
			return k, nil
		}
	} else if ks.fetchInFlight() {
		// Keys are on their way (at start, or a rotation): wait for them
		// rather than deny.
		ks.Fetch(ctx)
		if k := ks.Lookup(kid); k != nil {
			return k, nil
		}
	}
	if ks.Current.Load() == nil {
		ks.mu.Lock()
		err := ks.lastErr
		ks.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return nil, &jwt.Error{Reason: wire.ReasonJWKRemoteFailedToLoad, Message: MsgKeysNotLoaded, Detail: "no keys have been loaded yet"}
	}
	return nil, &jwt.Error{Reason: wire.ReasonJWKKidMismatch, Message: "the token's kid is not in the instance's key set"}
}

// Holds is true while k is the key of its kid in the current set. A key
// that left the set, or was replaced under the same kid, is not held.
func (ks *Remote) Holds(k *Key) bool {
	km := ks.Current.Load()
	return km != nil && km.Keys[k.Kid] == k
}

// keepUnchanged reuses the previous set's key object where a refresh
// brought the same key back (same kid, alg and public key), so that what
// it verified stays cached across the periodic refresh.
func keepUnchanged(next, prev *Map) {
	if prev == nil {
		return
	}
	for kid, k := range next.Keys {
		if old := prev.Keys[kid]; old != nil && old.Alg == k.Alg && old.Pub.Equal(k.Pub) {
			next.Keys[kid] = old
		}
	}
}

// Lookup is the current key of kid, or nil; it never fetches.
func (ks *Remote) Lookup(kid string) *Key {
	if km := ks.Current.Load(); km != nil {
		return km.Keys[kid]
	}
	return nil
}

func (ks *Remote) fetchInFlight() bool {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.inflight != nil
}

func (ks *Remote) mayFetchForUnknownKid() bool {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.inflight != nil || time.Since(ks.lastAttempt) >= ks.Timing.UnknownKid
}
