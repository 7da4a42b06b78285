package clerkapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// Every call carries the secret key, the API version and our User-Agent; a
// client without a secret sends only the User-Agent.
func TestGetHeaders(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	status, body, err := New("sk_test_x", time.Second).Get(context.Background(), srv.URL, 10)
	if err != nil || status != 200 || string(body) != "{}" {
		t.Fatalf("%d %q %v", status, body, err)
	}
	if got.Get("Authorization") != "Bearer sk_test_x" || got.Get("Clerk-API-Version") != wire.APIVersion || got.Get("User-Agent") != UserAgent {
		t.Fatalf("headers %v", got)
	}
	if _, _, err := New("", time.Second).Get(context.Background(), srv.URL, 10); err != nil {
		t.Fatal(err)
	}
	if got.Get("Authorization") != "" || got.Get("Clerk-API-Version") != "" || got.Get("User-Agent") != UserAgent {
		t.Fatalf("headers without a secret: %v", got)
	}
}

// A redirect is the answer, never followed; an answer over the limit is
// ErrTooLarge; a bad URL is ErrBadURL.
func TestGetRedirectLimitAndURL(t *testing.T) {
	followed := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/elsewhere":
			followed = true
		default:
			w.Write([]byte(strings.Repeat("x", 11)))
		}
	}))
	defer srv.Close()
	c := New("sk_test_x", time.Second)
	if status, _, err := c.Get(context.Background(), srv.URL+"/moved", 1000); err != nil || status != http.StatusFound || followed {
		t.Fatalf("redirect: %d %v, followed %v", status, err, followed)
	}
	if _, _, err := c.Get(context.Background(), srv.URL+"/big", 10); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("11 bytes over a limit of 10: %v", err)
	}
	if _, body, err := c.Get(context.Background(), srv.URL+"/big", 11); err != nil || len(body) != 11 {
		t.Fatalf("11 bytes at a limit of 11: %q %v", body, err)
	}
	if _, _, err := c.Get(context.Background(), "http://a b/", 10); !errors.Is(err, ErrBadURL) {
		t.Fatalf("bad URL: %v", err)
	}
}

func TestErrorCodeAndRedaction(t *testing.T) {
	if c := ErrorCode([]byte(`{"errors":[{"code":"clerk_key_invalid"},{"code":"other"}]}`)); c != "clerk_key_invalid" {
		t.Fatalf("code %q", c)
	}
	if c := ErrorCode([]byte(`not json`)); c != "" {
		t.Fatalf("code %q", c)
	}
	_, _, err := New("", 50*time.Millisecond).Get(context.Background(), "http://127.0.0.1:1/v1/jwks?secret=s3cr3t", 10)
	if err == nil || strings.Contains(RedactURLError(err), "s3cr3t") {
		t.Fatalf("redacted %q", RedactURLError(err))
	}
}

// Post sends the body with the headers it is given (their Authorization,
// not the client's), our User-Agent, and the same answer rules as Get:
// redirects are answers, the limit holds, the timeout ends the call.
func TestPost(t *testing.T) {
	var got http.Header
	var gotBody, gotMethod string
	followed := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
			return
		case "/elsewhere":
			followed = true
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		}
		got, gotMethod = r.Header.Clone(), r.Method
		b := make([]byte, 100)
		n, _ := r.Body.Read(b)
		gotBody = string(b[:n])
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	c := New("sk_test_client", 100*time.Millisecond)
	h := map[string]string{"Authorization": "Bearer ak_machine", "Content-Type": "application/json"}
	status, body, err := c.Post(context.Background(), srv.URL+"/verify", h, []byte(`{"token":"mt_x"}`), 100)
	if err != nil || status != 200 || string(body) != `{"ok":true}` {
		t.Fatalf("%d %q %v", status, body, err)
	}
	if gotMethod != http.MethodPost || gotBody != `{"token":"mt_x"}` || got.Get("Authorization") != "Bearer ak_machine" ||
		got.Get("User-Agent") != UserAgent || got.Get("Content-Type") != "application/json" {
		t.Fatalf("%s %q %v", gotMethod, gotBody, got)
	}
	if status, _, err := c.Post(context.Background(), srv.URL+"/moved", h, nil, 100); err != nil || status != http.StatusTemporaryRedirect || followed {
		t.Fatalf("redirect: %d %v, followed %v", status, err, followed)
	}
	if _, _, err := c.Post(context.Background(), srv.URL+"/verify", h, nil, 5); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	if _, _, err := c.Post(context.Background(), srv.URL+"/slow", h, nil, 100); err == nil {
		t.Fatal("the timeout did not end the call")
	}
}
