package clerkauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/clerk-edge/clerk_auth/internal/clerkapi"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"go.uber.org/zap"
	"golang.org/x/net/http/httpguts"
	"golang.org/x/sync/singleflight"
)

// UserDetails turns on the lookup of the signed-in user at Clerk's Backend
// API (GET /v1/users/{id}, with the secret key), for what session tokens
// usually lack: primary email and its verification, name, username, public
// metadata. They become placeholders and X-Clerk-User-* request headers.
// Rules that need them (email_domain, metadata) look the user up whether or
// not this is set.
type UserDetails struct {
	// CacheTTL is how long a user's details are reused. Default: 1m.
	// Details are not revoked with the session, so keep this short when
	// rules depend on them.
	CacheTTL caddy.Duration `json:"cache_ttl,omitempty"`

	// Timeout bounds how long a request waits for a lookup. A request that
	// needs the details for a rule is denied when it passes
	// (user-lookup-failed); any other goes on without them. Default: 2s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// Metadata are the public metadata keys published as
	// {http.auth.user.metadata.<key>} and X-Clerk-User-Metadata-<key>.
	Metadata []string `json:"metadata,omitempty"`
}

const (
	defaultUserCacheTTL     = time.Minute
	defaultUserTimeout      = 2 * time.Second
	userLookupFailureTTL    = 5 * time.Second
	maxUserCacheEntries     = 10000
	maxUserResponseBodySize = 1 << 20
)

var metadataKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// userDetails is the part of Clerk's User object we use.
type userDetails struct {
	email          string
	emailVerified  bool
	firstName      string
	lastName       string
	username       string
	publicMetadata map[string]any
}

// clerkUser is the Backend API's User JSON, the fields we read.
type clerkUser struct {
	FirstName             *string `json:"first_name"`
	LastName              *string `json:"last_name"`
	Username              *string `json:"username"`
	PrimaryEmailAddressID *string `json:"primary_email_address_id"`
	EmailAddresses        []struct {
		ID           string `json:"id"`
		EmailAddress string `json:"email_address"`
		Verification *struct {
			Status string `json:"status"`
		} `json:"verification"`
	} `json:"email_addresses"`
	PublicMetadata map[string]any `json:"public_metadata"`
}

func (c *clerkUser) details() *userDetails {
	u := &userDetails{publicMetadata: c.PublicMetadata}
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	u.firstName, u.lastName, u.username = deref(c.FirstName), deref(c.LastName), deref(c.Username)
	primary := deref(c.PrimaryEmailAddressID)
	for _, e := range c.EmailAddresses {
		if primary != "" && e.ID == primary {
			u.email = e.EmailAddress
			u.emailVerified = e.Verification != nil && e.Verification.Status == "verified"
		}
	}
	return u
}

// userLookup fetches users from the Backend API, caches them for a TTL
// (failures for a few seconds, so an outage is not hammered) and shares one
// fetch among concurrent requests for the same user.
type userLookup struct {
	baseURL string // .../v1/users/
	secret  string
	api     *clerkapi.Client
	ttl     time.Duration
	timeout time.Duration
	now     func() time.Time
	logger  *zap.Logger

	mu    sync.Mutex
	cache map[string]userCacheEntry
	group singleflight.Group
}

type userCacheEntry struct {
	user    *userDetails
	err     error
	expires time.Time
}

var errUserLookup = errors.New("user lookup failed")

func newUserLookup(apiURL, secret string, cfg *UserDetails, now func() time.Time, logger *zap.Logger) *userLookup {
	l := &userLookup{
		baseURL: apiURL + "/v1/users/", secret: secret,
		ttl: defaultUserCacheTTL, timeout: defaultUserTimeout,
		now: now, logger: logger, cache: map[string]userCacheEntry{},
	}
	if cfg != nil && cfg.CacheTTL > 0 {
		l.ttl = time.Duration(cfg.CacheTTL)
	}
	if cfg != nil && cfg.Timeout > 0 {
		l.timeout = time.Duration(cfg.Timeout)
	}
	l.api = clerkapi.New(secret, l.timeout)
	return l
}

// get returns the user's details, waiting at most the lookup timeout (or
// until ctx ends). The fetch itself is not tied to ctx: a client that goes
// away does not fail the others waiting on the same fetch.
func (l *userLookup) get(ctx context.Context, userID string) (*userDetails, error) {
	if e, ok := l.cached(userID); ok {
		return e.user, e.err
	}
	ch := l.group.DoChan(userID, func() (any, error) {
		if e, ok := l.cached(userID); ok {
			return e.user, e.err
		}
		fctx, cancel := context.WithTimeout(context.Background(), l.timeout)
		defer cancel()
		u, err := l.fetch(fctx, userID)
		l.store(userID, u, err)
		return u, err
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*userDetails), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %v", errUserLookup, ctx.Err())
	}
}

func (l *userLookup) cached(userID string) (userCacheEntry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.cache[userID]
	if !ok || !l.now().Before(e.expires) {
		return userCacheEntry{}, false
	}
	return e, true
}

func (l *userLookup) store(userID string, u *userDetails, err error) {
	ttl := l.ttl
	if err != nil {
		ttl = min(userLookupFailureTTL, l.ttl)
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.cache) >= maxUserCacheEntries {
		for k, e := range l.cache {
			if !now.Before(e.expires) {
				delete(l.cache, k)
			}
		}
		for k := range l.cache {
			if len(l.cache) < maxUserCacheEntries {
				break
			}
			delete(l.cache, k)
		}
	}
	l.cache[userID] = userCacheEntry{user: u, err: err, expires: now.Add(ttl)}
}

func (l *userLookup) fetch(ctx context.Context, userID string) (*userDetails, error) {
	status, body, err := l.api.Get(ctx, l.baseURL+url.PathEscape(userID), maxUserResponseBodySize)
	if err != nil && status == 0 {
		l.logger.Warn("user lookup at the Backend API failed", zap.String("user_id", userID), zap.String("error", clerkapi.RedactURLError(err)))
		return nil, fmt.Errorf("%w: %s", errUserLookup, clerkapi.RedactURLError(err))
	}
	if err != nil {
		l.logger.Warn("user lookup at the Backend API failed", zap.String("user_id", userID), zap.Error(err))
		return nil, fmt.Errorf("%w: %v", errUserLookup, err)
	}
	if status != http.StatusOK {
		log := l.logger.Warn
		if status == http.StatusUnauthorized || status == http.StatusForbidden {
			log = l.logger.Error // the secret key is wrong: every lookup will fail
		}
		log("user lookup at the Backend API failed", zap.String("user_id", userID),
			zap.Int("status", status), zap.String("code", clerkapi.ErrorCode(body)))
		return nil, fmt.Errorf("%w: Backend API answered %d", errUserLookup, status)
	}
	var cu clerkUser
	if err := json.Unmarshal(body, &cu); err != nil {
		l.logger.Warn("user lookup: the Backend API answered something that is not a user", zap.String("user_id", userID), zap.Error(err))
		return nil, fmt.Errorf("%w: not a user object", errUserLookup)
	}
	return cu.details(), nil
}

// publishUserDetails sets the user-detail placeholders and, unless
// upstream_headers is off, the upstream headers. A header whose value could
// not travel in HTTP is left out; its placeholder is still set.
func publishUserDetails(r *http.Request, repl *caddy.Replacer, u *userDetails, metadataKeys []string, headers bool) {
	name := strings.TrimSpace(u.firstName + " " + u.lastName)
	fields := []struct{ placeholder, header, value string }{
		{"email", wire.HeaderUserEmail, u.email},
		{"email_verified", wire.HeaderUserEmailVerified, strconv.FormatBool(u.emailVerified)},
		{"first_name", wire.HeaderUserFirstName, u.firstName},
		{"last_name", wire.HeaderUserLastName, u.lastName},
		{"name", "", name},
		{"username", wire.HeaderUserUsername, u.username},
	}
	for _, f := range fields {
		repl.Set("http.auth.user."+f.placeholder, f.value)
		if headers {
			setUpstreamHeader(r, f.header, f.value)
		}
	}
	for _, key := range metadataKeys {
		v, ok := metadataText(u.publicMetadata[key])
		if !ok {
			continue
		}
		repl.Set("http.auth.user.metadata."+key, v)
		if headers {
			setUpstreamHeader(r, wire.HeaderUserMetadataPrefix+key, v)
		}
	}
}

func setUpstreamHeader(r *http.Request, name, value string) {
	if name != "" && value != "" && httpguts.ValidHeaderFieldValue(value) {
		r.Header.Set(name, value)
	}
}

// metadataText is a metadata value as text: strings as they are, anything
// else as JSON. Absent and null give nothing.
func metadataText(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", false
	case string:
		return v, true
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// checkUserDetails validates the user_details settings.
func checkUserDetails(cfg *UserDetails) error {
	if cfg.CacheTTL < 0 {
		return fmt.Errorf("cache_ttl: must not be negative")
	}
	if cfg.Timeout < 0 {
		return fmt.Errorf("timeout: must not be negative")
	}
	for _, k := range cfg.Metadata {
		if !metadataKeyPattern.MatchString(k) {
			return fmt.Errorf("metadata: %q: a key is letters, digits, '_' and '-'", k)
		}
	}
	return nil
}

// parseUserDetails reads the user_details block of the Caddyfile.
func parseUserDetails(d *caddyfile.Dispenser) (*UserDetails, error) {
	u := &UserDetails{}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		switch sub {
		case "cache_ttl", "timeout":
			var v string
			if err := oneArg(d, &v); err != nil {
				return nil, err
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur <= 0 {
				return nil, d.Errf("user_details: %s: %q is not a positive duration", sub, v)
			}
			if sub == "cache_ttl" {
				u.CacheTTL = caddy.Duration(dur)
			} else {
				u.Timeout = caddy.Duration(dur)
			}
		case "metadata":
			keys := d.RemainingArgs()
			if len(keys) == 0 {
				return nil, d.Errf("user_details: metadata: needs at least one key")
			}
			u.Metadata = append(u.Metadata, keys...)
		default:
			return nil, d.Errf("user_details: unknown setting %q", sub)
		}
	}
	if err := checkUserDetails(u); err != nil {
		return nil, d.Errf("user_details: %v", err)
	}
	return u, nil
}
