package users

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
)

// A user is fetched once with the secret key, read as Clerk's User object,
// and served from the cache for the TTL; a failure is an ErrLookup.
func TestLookup(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer sk_test_x" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/v1/users/user_1":
			w.Write([]byte(`{"first_name":"Ada","last_name":null,"username":"ada","primary_email_address_id":"e2",
				"email_addresses":[{"id":"e1","email_address":"old@example.com"},{"id":"e2","email_address":"ada@example.com","verification":{"status":"verified"}}],
				"public_metadata":{"plan":"pro"}}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	now := time.Unix(1767000000, 0)
	l := New(srv.URL, "sk_test_x", 0, 0, func() time.Time { return now }, zap.NewNop())
	if l.TTL != DefaultCacheTTL || l.Timeout != DefaultTimeout {
		t.Fatalf("ttl %v timeout %v", l.TTL, l.Timeout)
	}
	for range 2 {
		u, err := l.Get(context.Background(), "user_1")
		if err != nil || u.Email != "ada@example.com" || !u.EmailVerified || u.FirstName != "Ada" || u.LastName != "" || u.PublicMetadata["plan"] != "pro" {
			t.Fatalf("%+v, %v", u, err)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("%d fetches for one user within the TTL", calls.Load())
	}
	if _, err := l.Get(context.Background(), "user_2"); !errors.Is(err, ErrLookup) {
		t.Fatalf("unknown user: %v", err)
	}
	if v, ok := MetadataText(map[string]any{"a": 1}); !ok || v != `{"a":1}` {
		t.Fatalf("MetadataText %q %v", v, ok)
	}
}
