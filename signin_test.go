package clerkauth

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// The sign-in redirect carries what the other origin needs to bring the
// user back signed in, as createRedirect of @clerk/backend does: the dev
// browser on development, __clerk_synced=false in redirect_url on a
// satellite; and nothing of the kind when the sign-in page is our own.
func TestSignInRedirectAcrossOrigins(t *testing.T) {
	for _, tc := range []struct {
		name       string
		edit       func(*Handler)
		target     string
		cookie     string
		wantBack   string
		wantDevJWT string
	}{
		{
			name:     "production",
			edit:     func(h *Handler) { h.SignInURL = "https://accounts.example.com/sign-in" },
			target:   "https://app.example.com/page?x=1",
			wantBack: "https://app.example.com/page?x=1",
		},
		{
			name:       "development, sign-in on another origin",
			edit:       func(h *Handler) { h.PublishableKey, h.SignInURL = testDevPK, "https://foo-bar-13.accounts.dev/sign-in" },
			target:     "http://localhost:8080/page?x=1",
			cookie:     "__clerk_db_jwt=dvb_1",
			wantBack:   "http://localhost:8080/page?x=1",
			wantDevJWT: "dvb_1",
		},
		{
			name:     "development, sign-in on our own origin",
			edit:     func(h *Handler) { h.PublishableKey, h.SignInURL = testDevPK, "/sign-in" },
			target:   "http://localhost:8080/page?x=1",
			cookie:   "__clerk_db_jwt=dvb_1",
			wantBack: "http://localhost:8080/page?x=1",
		},
		{
			name: "satellite",
			edit: func(h *Handler) {
				h.Satellite, h.Domain, h.SignInURL = true, "docs.example.net", "https://app.example.com/sign-in"
			},
			target:   "https://docs.example.net/page?x=1",
			wantBack: "https://docs.example.net/page?x=1&__clerk_synced=false",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHandler(t, tc.edit)
			headers := []string{"Sec-Fetch-Dest", "document"}
			if tc.cookie != "" {
				headers = append(headers, "Cookie", tc.cookie)
			}
			out := serve(h, newRequest(http.MethodGet, tc.target, headers...))
			loc, err := url.Parse(out.rec.Header().Get("Location"))
			if out.status() != http.StatusTemporaryRedirect || err != nil {
				t.Fatalf("got %d Location %q, want 307 to sign in", out.status(), out.rec.Header().Get("Location"))
			}
			q := loc.Query()
			if got := q.Get(wire.QueryRedirectURL); got != tc.wantBack {
				t.Errorf("redirect_url: got %q, want %q", got, tc.wantBack)
			}
			if got := q.Get(wire.QueryDevBrowser); got != tc.wantDevJWT {
				t.Errorf("%s: got %q, want %q", wire.QueryDevBrowser, got, tc.wantDevJWT)
			}
		})
	}
}
