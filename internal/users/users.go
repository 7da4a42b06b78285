// Package users looks the signed-in user up at Clerk's Backend API (GET
// /v1/users/{id}, with the secret key) for what session tokens usually lack:
// primary email and its verification, name, username, public metadata. Users
// are cached for a TTL, failures for a few seconds, and concurrent requests
// for one user share one fetch.
package users

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/clerkapi"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
)

// Defaults and bounds of a Lookup.
const (
	DefaultCacheTTL  = time.Minute
	DefaultTimeout   = 2 * time.Second
	FailureTTL       = 5 * time.Second
	MaxCacheEntries  = 10000
	maxResponseBytes = 1 << 20
)

// userDetails is the part of Clerk's User object we use.
type Details struct {
	Email          string
	EmailVerified  bool
	FirstName      string
	LastName       string
	Username       string
	PublicMetadata map[string]any
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

func (c *clerkUser) details() *Details {
	u := &Details{PublicMetadata: c.PublicMetadata}
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	u.FirstName, u.LastName, u.Username = deref(c.FirstName), deref(c.LastName), deref(c.Username)
	primary := deref(c.PrimaryEmailAddressID)
	for _, e := range c.EmailAddresses {
		if primary != "" && e.ID == primary {
			u.Email = e.EmailAddress
			u.EmailVerified = e.Verification != nil && e.Verification.Status == "verified"
		}
	}
	return u
}

// userLookup fetches users from the Backend API, caches them for a TTL
// (failures for a few seconds, so an outage is not hammered) and shares one
// fetch among concurrent requests for the same user.
type Lookup struct {
	BaseURL string // .../v1/users/
	secret  string
	api     *clerkapi.Client
	TTL     time.Duration
	Timeout time.Duration
	Now     func() time.Time
	logger  *zap.Logger

	mu    sync.Mutex
	cache map[string]cacheEntry
	group singleflight.Group
}

type cacheEntry struct {
	user    *Details
	err     error
	expires time.Time
}

// ErrLookup is every failed lookup.
var ErrLookup = errors.New("user lookup failed")

// New is a lookup at the Backend API of apiURL with the secret key: details
// are kept for ttl (DefaultCacheTTL when 0), and a request waits for a fetch
// at most timeout (DefaultTimeout when 0). now is the clock.
func New(apiURL, secret string, ttl, timeout time.Duration, now func() time.Time, logger *zap.Logger) *Lookup {
	l := &Lookup{
		BaseURL: apiURL + "/v1/users/", secret: secret,
		TTL: DefaultCacheTTL, Timeout: DefaultTimeout,
		Now: now, logger: logger, cache: map[string]cacheEntry{},
	}
	if ttl > 0 {
		l.TTL = ttl
	}
	if timeout > 0 {
		l.Timeout = timeout
	}
	l.api = clerkapi.New(secret, l.Timeout)
	return l
}

// Get returns the user's details, waiting at most the lookup timeout (or
// until ctx ends). The fetch itself is not tied to ctx: a client that goes
// away does not fail the others waiting on the same fetch.
func (l *Lookup) Get(ctx context.Context, userID string) (*Details, error) {
	if e, ok := l.cached(userID); ok {
		return e.user, e.err
	}
	ch := l.group.DoChan(userID, func() (any, error) {
		if e, ok := l.cached(userID); ok {
			return e.user, e.err
		}
		fctx, cancel := context.WithTimeout(context.Background(), l.Timeout)
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
		return res.Val.(*Details), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %v", ErrLookup, ctx.Err())
	}
}

func (l *Lookup) cached(userID string) (cacheEntry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.cache[userID]
	if !ok || !l.Now().Before(e.expires) {
		return cacheEntry{}, false
	}
	return e, true
}

func (l *Lookup) store(userID string, u *Details, err error) {
	ttl := l.TTL
	if err != nil {
		ttl = min(FailureTTL, l.TTL)
	}
	now := l.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.cache) >= MaxCacheEntries {
		for k, e := range l.cache {
			if !now.Before(e.expires) {
				delete(l.cache, k)
			}
		}
		for k := range l.cache {
			if len(l.cache) < MaxCacheEntries {
				break
			}
			delete(l.cache, k)
		}
	}
	l.cache[userID] = cacheEntry{user: u, err: err, expires: now.Add(ttl)}
}

func (l *Lookup) fetch(ctx context.Context, userID string) (*Details, error) {
	status, body, err := l.api.Get(ctx, l.BaseURL+url.PathEscape(userID), maxResponseBytes)
	if err != nil && status == 0 {
		l.logger.Warn("user lookup at the Backend API failed", zap.String("user_id", userID), zap.String("error", clerkapi.RedactURLError(err)))
		return nil, fmt.Errorf("%w: %s", ErrLookup, clerkapi.RedactURLError(err))
	}
	if err != nil {
		l.logger.Warn("user lookup at the Backend API failed", zap.String("user_id", userID), zap.Error(err))
		return nil, fmt.Errorf("%w: %v", ErrLookup, err)
	}
	if status != http.StatusOK {
		log := l.logger.Warn
		if status == http.StatusUnauthorized || status == http.StatusForbidden {
			log = l.logger.Error // the secret key is wrong: every lookup will fail
		}
		log("user lookup at the Backend API failed", zap.String("user_id", userID),
			zap.Int("status", status), zap.String("code", clerkapi.ErrorCode(body)))
		return nil, fmt.Errorf("%w: Backend API answered %d", ErrLookup, status)
	}
	var cu clerkUser
	if err := json.Unmarshal(body, &cu); err != nil {
		l.logger.Warn("user lookup: the Backend API answered something that is not a user", zap.String("user_id", userID), zap.Error(err))
		return nil, fmt.Errorf("%w: not a user object", ErrLookup)
	}
	return cu.details(), nil
}

// MetadataText is a metadata value as text: strings as they are, anything
// else as JSON. Absent and null give nothing.
func MetadataText(v any) (string, bool) {
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
