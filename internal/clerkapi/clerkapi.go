// Package clerkapi is the one client of Clerk's Backend API (and of a JWKS
// endpoint): the headers every call carries (Authorization with the secret
// key, Clerk-API-Version, User-Agent), a timeout, a bound on what is read of
// an answer, and no redirects. The key set, the handshake nonce exchange and
// the user lookup all go through it.
package clerkapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// UserAgent is the User-Agent of every call.
const UserAgent = "caddy-clerk-auth"

// Client calls the Backend API with one secret key.
type Client struct {
	// HTTP does the calls: NewHTTPClient's, unless a test replaces it.
	HTTP   *http.Client
	header http.Header
}

// New is a client that authenticates with secretKey (none when it is empty:
// a public JWKS endpoint) and gives up on a call after timeout.
func New(secretKey string, timeout time.Duration) *Client {
	header := http.Header{}
	header.Set("User-Agent", UserAgent)
	if secretKey != "" {
		header.Set("Authorization", "Bearer "+secretKey)
		header.Set("Clerk-API-Version", wire.APIVersion)
	}
	return &Client{HTTP: NewHTTPClient(timeout), header: header}
}

// Errors of Get besides the transport's own.
var (
	ErrBadURL   = errors.New("bad URL")
	ErrRead     = errors.New("reading the answer failed")
	ErrTooLarge = errors.New("the answer is too large")
)

// Get fetches url and reads at most limit bytes of the answer: a longer one
// is ErrTooLarge. Any status is an answer; callers treat all but 200 as a
// failure. A transport error is returned as is: RedactURLError it before
// logging.
func (c *Client) Get(ctx context.Context, url string, limit int64) (status int, body []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	req.Header = c.header.Clone()
	return c.do(req, limit)
}

// do sends req and reads at most limit bytes of the answer.
func (c *Client) do(req *http.Request, limit int64) (status int, body []byte, err error) {
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%w: %v", ErrRead, err)
	}
	if int64(len(body)) > limit {
		return resp.StatusCode, nil, ErrTooLarge
	}
	return resp.StatusCode, body, nil
}

// Post sends body to url with the given headers (which carry their own
// Authorization: a machine verification may use a machine secret key) and
// reads at most limit bytes of the answer, as Get does.
func (c *Client) Post(ctx context.Context, url string, header map[string]string, body []byte, limit int64) (status int, answer []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	req.Header = make(http.Header, len(header)+1)
	req.Header.Set("User-Agent", UserAgent)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return c.do(req, limit)
}

// NewHTTPClient is the HTTP client of every call that carries the secret
// key or fetches keys (the key set, the nonce exchange, the user lookup). It
// never follows a redirect: Clerk's APIs do not redirect, Go's client would
// resend the Authorization header to another port of the same host, and
// keys are trusted only from the origin configured. A 3xx is the answer,
// and every caller treats an answer other than 200 as a failure.
func NewHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, CheckRedirect: refuseRedirect}
}

func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// ErrorCode is the code of the first error of a Backend API error answer.
func ErrorCode(body []byte) string {
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

// RedactURLError keeps a transport error's cause without the URL's query.
func RedactURLError(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		return ue.Unwrap().Error()
	}
	return err.Error()
}
