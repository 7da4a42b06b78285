package clerkauth

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/clerk-edge/clerk_auth/internal/authn"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/keys"
	"github.com/clerk-edge/clerk_auth/internal/tokencache"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "clerk-diagnose",
		Usage: "[--token <jwt> | --authorization <value> | --cookie <header>] [--url <url>] [--method <m>] [--document] [--config <path> [--adapter <name>] [--handler <n>]] [settings]",
		Short: "Explains why clerk_auth lets a request in or refuses it",
		Long: `
Runs clerk_auth's own decision on one request and explains it: the decision
(signed-in, signed-out or handshake), the reason code, what it means and what
to do about it, the response Caddy would send, which key verified the token,
and the token's claims, labelled UNVERIFIED unless they passed verification.

The request is described with --token (sent as "Authorization: Bearer"),
--authorization, --cookie (a whole Cookie header, e.g. copied from the
browser's developer tools), --url, --method, --header and --document (a
browser page load, which may be redirected rather than refused).

The settings come from a config (--config, with --adapter; a Caddyfile is
adapted like "caddy run" does) whose clerk_auth handler is used (--handler
picks one when there are several), or from flags named like the
Caddyfile subdirectives (--publishable-key, --jwt-key, ...), which also
override the config's. With neither, the CLERK_* environment variables are
read as clerk_auth does. Keys are fetched as the handler would.

Exit status:
  0  signed in and let in (passed on to the next handler)
  1  the settings, the config or the request could not be used
  2  signed in, but denied by an authorization rule (require, deny): 403
  3  signed out: 401, or a redirect to the sign-in page
  4  handshake: a redirect through Clerk's Frontend API (or a sync redirect)
`,
		CobraFunc: setupDiagnoseCommand,
	})
}

// diagnoseSettingFlags maps flags to the handler's JSON fields, so that the
// config's handler and the flags are merged the same way.
var diagnoseSettingFlags = []struct{ flag, field, usage string }{
	{"publishable-key", "publishable_key", "publishable key (pk_live_... or pk_test_...)"},
	{"secret-key", "secret_key", "secret key (sk_...)"},
	{"jwt-key", "jwt_key", "PEM public key, or {file.<path>} / {env.<VAR>}"},
	{"jwks-url", "jwks_url", "JWKS URL"},
	{"api-url", "api_url", "Backend API base URL"},
	{"issuer", "issuer", "required iss"},
	{"session-param", "session_param", "multi-session query parameter"},
	{"sign-in-url", "sign_in_url", "sign-in URL, path, or off"},
	{"proxy-url", "proxy_url", "Frontend API proxy URL"},
	{"domain", "domain", "satellite domain"},
}

var diagnoseBoolFlags = []struct{ flag, field, usage string }{
	{"allow-pending", "allow_pending", "let pending sessions in"},
	{"satellite", "is_satellite", "the site is a satellite"},
	{"demo", "demo", "use the demo key pair"},
}

func setupDiagnoseCommand(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringP("token", "t", "", "session token, sent as Authorization: Bearer")
	f.String("authorization", "", "whole Authorization header value")
	f.String("cookie", "", "whole Cookie header value")
	f.String("url", "", "URL of the request (default: the first authorized party, else http://localhost/)")
	f.String("method", http.MethodGet, "method of the request")
	f.StringArray("header", nil, "extra request header, \"Name: value\" (repeatable)")
	f.Bool("document", false, "the request is a browser page load (Sec-Fetch-Dest: document)")
	f.String("at", "", "evaluate at this time (RFC 3339 or Unix seconds) instead of now")
	f.StringP("config", "c", "", "config file with a clerk_auth handler")
	f.StringP("adapter", "a", "", "config adapter (default: caddyfile for a Caddyfile)")
	f.Int("handler", 0, "which clerk_auth handler of the config, counting from 1")
	for _, s := range diagnoseSettingFlags {
		f.String(s.flag, "", s.usage)
	}
	for _, s := range diagnoseBoolFlags {
		f.Bool(s.flag, false, s.usage)
	}
	f.StringSlice("authorized-parties", nil, "authorized parties (origins, comma-separated or repeated)")
	f.StringSlice("audience", nil, "audiences an aud claim must name (comma-separated or repeated)")
	f.String("clock-skew", "", "leeway for exp, nbf and iat (e.g. 5s)")
	cmd.SilenceUsage = true
	// Caddy's wrapper turns a status above 1 into the process's exit code.
	cmd.RunE = caddycmd.WrapCommandFuncForCobra(func(caddycmd.Flags) (int, error) {
		return runDiagnose(cmd, cmd.OutOrStdout())
	})
}

// Exit statuses of clerk-diagnose, as its help lists them.
const (
	diagnoseExitSignedIn  = 0
	diagnoseExitError     = 1
	diagnoseExitDenied    = 2
	diagnoseExitSignedOut = 3
	diagnoseExitHandshake = 4
)

// errNotSignedIn is the error of a request that would not be let in.
var errNotSignedIn = errors.New("the request would not be signed in")

// errDeniedByRule is the error of a signed-in request a rule refuses.
var errDeniedByRule = errors.New("the request would be denied by an authorization rule")

// diagnoseStatus is the exit status and error for a decision.
func diagnoseStatus(d *authn.Outcome) (int, error) {
	switch {
	case d.Kind == authn.Denied:
		return diagnoseExitDenied, fmt.Errorf("%w: %s (%s)", errDeniedByRule, d.Rule.Text, d.Reason)
	case d.Status == wire.StatusSignedIn:
		return diagnoseExitSignedIn, nil
	case d.Status == wire.StatusHandshake:
		return diagnoseExitHandshake, fmt.Errorf("%w: handshake (%s)", errNotSignedIn, d.Reason)
	case d.Status == wire.StatusSignedOut:
		return diagnoseExitSignedOut, fmt.Errorf("%w (%s)", errNotSignedIn, d.Reason)
	}
	return diagnoseExitError, fmt.Errorf("%w: no decision (%s)", errNotSignedIn, d.Reason)
}

// runDiagnose runs the command and returns its exit status.
func runDiagnose(cmd *cobra.Command, out io.Writer) (int, error) {
	code, err := runDiagnoseSettings(cmd, out)
	if err != nil && code == diagnoseExitSignedIn {
		code = diagnoseExitError
	}
	return code, err
}

func runDiagnoseSettings(cmd *cobra.Command, out io.Writer) (int, error) {
	f := cmd.Flags()
	str := func(name string) string { v, _ := f.GetString(name); return v }

	cfg := map[string]any{}
	if path := str("config"); path != "" {
		n, _ := f.GetInt("handler")
		var err error
		var warnings []string
		cfg, warnings, err = handlerFromConfig(path, str("adapter"), n, str("url"))
		if err != nil {
			return diagnoseExitError, err
		}
		for _, w := range warnings {
			fmt.Fprintln(out, "warning:   "+w)
		}
	}
	for _, s := range diagnoseSettingFlags {
		if f.Changed(s.flag) {
			cfg[s.field] = str(s.flag)
		}
	}
	for _, s := range diagnoseBoolFlags {
		if f.Changed(s.flag) {
			cfg[s.field], _ = f.GetBool(s.flag)
		}
	}
	if f.Changed("authorized-parties") {
		cfg["authorized_parties"], _ = f.GetStringSlice("authorized-parties")
	}
	if f.Changed("audience") {
		cfg["audience"], _ = f.GetStringSlice("audience")
	}
	if f.Changed("clock-skew") {
		d, err := caddy.ParseDuration(str("clock-skew"))
		if err != nil {
			return diagnoseExitError, fmt.Errorf("--clock-skew: %v", err)
		}
		cfg["clock_skew"] = caddy.Duration(d)
	}
	var at time.Time
	if v := str("at"); v != "" {
		t, err := parseDiagnoseTime(v)
		if err != nil {
			return diagnoseExitError, err
		}
		at = t
	}
	h, release, err := provisionForDiagnosis(cfg, at)
	if err != nil {
		return diagnoseExitError, err
	}
	defer release()

	headers, _ := f.GetStringArray("header")
	document, _ := f.GetBool("document")
	r, err := diagnoseRequest(h, str("method"), str("url"), str("token"), str("authorization"), str("cookie"), headers, document)
	if err != nil {
		return diagnoseExitError, err
	}
	dg := h.diagnose(r)
	dg.write(out)
	return diagnoseStatus(dg.decision)
}

func parseDiagnoseTime(v string) (time.Time, error) {
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(secs, 0), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("--at: %q is neither RFC 3339 nor Unix seconds", v)
	}
	return t, nil
}

// provisionForDiagnosis makes a handler from its JSON config the way Caddy
// does (strict JSON, Provision, Validate), on a clock of its own.
func provisionForDiagnosis(cfg map[string]any, at time.Time) (*Handler, func(), error) {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, nil, err
	}
	h := new(Handler)
	if err := caddy.StrictUnmarshalJSON(raw, h); err != nil {
		return nil, nil, fmt.Errorf("clerk_auth settings: %v", err)
	}
	// A diagnosis is not traffic: it is never counted.
	h.DisableMetrics = true
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	release := func() { _ = h.Cleanup(); cancel() }
	if err := h.Provision(ctx); err != nil {
		release()
		return nil, nil, err
	}
	if err := h.Validate(); err != nil {
		release()
		return nil, nil, err
	}
	if !at.IsZero() {
		h.now = func() time.Time { return at }
	}
	// The diagnosis itself says what the debug log line would.
	h.logger = h.logger.WithOptions(zap.IncreaseLevel(zap.InfoLevel))
	return h, release, nil
}

// handlerFromConfig loads a config (adapting it as `caddy run` would) and
// returns the JSON of the clerk_auth handler to diagnose with: the n-th
// (from 1), else the only one, else the only one whose site matches the
// URL's host.
func handlerFromConfig(path, adapter string, n int, rawURL string) (map[string]any, []string, error) {
	cfg, err := handlerFromConfigDoc(path, adapter, n, rawURL)
	if err != nil {
		return nil, nil, err
	}
	return cfg.handler, cfg.warnings, nil
}

type configPick struct {
	handler  map[string]any
	warnings []string
}

func handlerFromConfigDoc(path, adapter string, n int, rawURL string) (configPick, error) {
	raw, _, _, err := caddycmd.LoadConfig(path, adapter)
	if err != nil {
		return configPick{}, err
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return configPick{}, fmt.Errorf("%s: %v", path, err)
	}
	warnings := append(subtreeWarnings(doc), accessLogWarnings(doc)...)
	h, err := pickClerkHandler(doc, path, n, rawURL)
	return configPick{handler: h, warnings: warnings}, err
}

// pickClerkHandler is the handler handlerFromConfig describes.
func pickClerkHandler(doc any, path string, n int, rawURL string) (map[string]any, error) {
	var found []foundHandler
	findClerkHandlers(doc, nil, &found)
	if len(found) == 0 {
		return nil, fmt.Errorf("%s has no clerk_auth handler", path)
	}
	pick := func(f foundHandler) map[string]any {
		delete(f.config, "handler")
		return f.config
	}
	if n != 0 {
		if n < 1 || n > len(found) {
			return nil, fmt.Errorf("--handler %d: the config has %d clerk_auth handler(s)", n, len(found))
		}
		return pick(found[n-1]), nil
	}
	if len(found) == 1 {
		return pick(found[0]), nil
	}
	if u, err := url.Parse(rawURL); err == nil && u.Hostname() != "" {
		var matching []foundHandler
		for _, f := range found {
			if len(f.hosts) == 0 || slices.Contains(f.hosts, u.Hostname()) {
				matching = append(matching, f)
			}
		}
		if len(matching) == 1 {
			return pick(matching[0]), nil
		}
	}
	var list strings.Builder
	for i, f := range found {
		hosts := "any host"
		if len(f.hosts) > 0 {
			hosts = strings.Join(f.hosts, ", ")
		}
		fmt.Fprintf(&list, "\n  %d: %s", i+1, hosts)
	}
	return nil, fmt.Errorf("%s has %d clerk_auth handlers; pick one with --handler <n> (or give --url with its host):%s", path, len(found), list.String())
}

// subtreeWarnings finds clerk_auth guarding a subtree by a path matcher
// "/x/*" while nothing guarded by clerk_auth matches "/x" itself: the bare
// path, "/x;y" and "/x.html" then reach other routes (with a file_server's
// try_files {path}.html, /x serves x.html). It reads the adapted JSON, so
// it sees both `clerk_auth /x/* {...}` and `handle /x/* { clerk_auth ... }`.
func subtreeWarnings(doc any) []string {
	var guarded []string // path patterns of routes that run clerk_auth
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if handle, ok := x["handle"]; ok && holdsClerkAuth(handle) {
				for _, p := range routePaths(x) {
					guarded = append(guarded, strings.ToLower(p))
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	covered := func(p string) bool {
		for _, g := range guarded {
			if g == p || (strings.HasSuffix(g, "*") && strings.HasPrefix(p, strings.TrimSuffix(g, "*")) && !strings.HasSuffix(g, "/*")) {
				return true
			}
		}
		return false
	}
	var out []string
	seen := map[string]bool{}
	for _, g := range guarded {
		base, ok := strings.CutSuffix(g, "/*")
		if !ok || base == "" || strings.ContainsAny(base, "*") || covered(base) || seen[g] {
			continue
		}
		seen[g] = true
		out = append(out, fmt.Sprintf("clerk_auth guards the path matcher %q, which leaves %q itself (and %q, %q) to other routes; match %q instead (docs/authorization.md, \"Protecting part of a site\")",
			g, base, base+";x", base+".html", base+"*"))
	}
	sort.Strings(out)
	return out
}

// holdsClerkAuth tells whether a route's handlers (subroutes included) run
// clerk_auth.
func holdsClerkAuth(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		if x["handler"] == "clerk_auth" {
			return true
		}
		for _, e := range x {
			if holdsClerkAuth(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if holdsClerkAuth(e) {
				return true
			}
		}
	}
	return false
}

// routePaths are the path matcher patterns of a route's match sets.
func routePaths(route map[string]any) []string {
	var out []string
	sets, _ := route["match"].([]any)
	for _, set := range sets {
		m, _ := set.(map[string]any)
		paths, _ := m["path"].([]any)
		for _, p := range paths {
			if s, ok := p.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

type foundHandler struct {
	config map[string]any
	hosts  []string
}

// findClerkHandlers walks a JSON config in a stable order (object keys
// sorted, arrays in order), noting the host matchers of enclosing routes.
func findClerkHandlers(v any, hosts []string, found *[]foundHandler) {
	switch x := v.(type) {
	case map[string]any:
		if x["handler"] == "clerk_auth" {
			*found = append(*found, foundHandler{config: x, hosts: hosts})
			return
		}
		if match, ok := x["match"].([]any); ok {
			for _, m := range match {
				if mm, ok := m.(map[string]any); ok {
					if hs, ok := mm["host"].([]any); ok {
						for _, h := range hs {
							if s, ok := h.(string); ok {
								hosts = append(hosts[:len(hosts):len(hosts)], s)
							}
						}
					}
				}
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			findClerkHandlers(x[k], hosts, found)
		}
	case []any:
		for _, e := range x {
			findClerkHandlers(e, hosts, found)
		}
	}
}

// diagnoseRequest builds the request to decide on.
func diagnoseRequest(h *Handler, method, rawURL, token, authorization, cookie string, headers []string, document bool) (*http.Request, error) {
	if rawURL == "" {
		rawURL = "http://localhost/"
		if len(h.AuthorizedParties) > 0 {
			rawURL = h.AuthorizedParties[0] + "/"
		}
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--url: %q is not an absolute http(s) URL", rawURL)
	}
	r, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("--method/--url: %v", err)
	}
	r.RemoteAddr = "127.0.0.1:0"
	if u.Scheme == "https" {
		r.TLS = &tls.ConnectionState{}
	}
	for _, hv := range headers {
		name, value, ok := strings.Cut(hv, ":")
		if !ok {
			return nil, fmt.Errorf("--header: %q is not \"Name: value\"", hv)
		}
		r.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	switch {
	case token != "":
		r.Header.Set("Authorization", "Bearer "+token)
	case authorization != "":
		r.Header.Set("Authorization", authorization)
	}
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	if document {
		r.Header.Set("Sec-Fetch-Dest", "document")
		r.Header.Set("Accept", "text/html")
	}
	return r, nil
}

// diagnosis is what the command reports about one request.
type diagnosis struct {
	request  string
	decision *authn.Outcome
	response string
	// token is the session token the decision was about, if any.
	token      *tokencache.Token
	tokenFrom  string
	verifyErr  *jwt.Error // nil when the token verified
	keyLine    string
	evaluateAt time.Time
}

// diagnose runs the handler's own decision on r (decide, as ServeHTTP
// does), answers it into a recorder (respond), and reads the outcome. The
// key line comes from the outcome when its session signed in with the token
// shown; otherwise that token is verified once more through the same code,
// to tell which key it names and whether its claims can be trusted.
func (h *Handler) diagnose(r *http.Request) *diagnosis {
	dg := &diagnosis{request: r.Method + " " + r.URL.String(), evaluateAt: h.now()}

	repl := caddy.NewReplacer()
	ctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl)
	ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{})
	r = r.WithContext(ctx)
	rec := httptest.NewRecorder()
	passed := false
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
		passed = true
		return nil
	})
	a := new(authRequest)
	var err error
	if h.demo != nil && h.demo.Owns(r) {
		// Demo mode's own pages: no decision.
		var u url.URL
		h.setRequestURL(&u, r)
		h.engine.Init(&a.Request, r, h.now(), &u)
		err = h.serveDemo(rec, r)
		dg.decision = &authn.Outcome{Status: "unknown", Reason: wire.ReasonUnexpectedError}
	} else {
		dg.decision = h.decide(a, r)
		err = h.respond(rec, r, next, repl, a, dg.decision)
	}
	dg.response = describeResponse(rec, err, passed)

	raw := ""
	switch {
	case a.HeaderToken() != "":
		raw, dg.tokenFrom = a.HeaderToken(), "the Authorization header"
	case a.SessionCookie() != "":
		raw, dg.tokenFrom = a.SessionCookie(), "the "+h.engine.SessionCookieName(&a.Request)+" cookie"
	}
	if raw == "" {
		return dg
	}
	tok, derr := tokencache.Decode(raw)
	if derr != nil {
		dg.verifyErr = derr
		dg.keyLine = "none: the token could not be decoded"
		return dg
	}
	dg.token = tok
	var ku authn.KeyUse
	if d := dg.decision; (d.Kind == authn.SignedIn || d.Kind == authn.Denied) && d.Key != nil && d.Token == raw {
		ku = authn.KeyUse{Kid: d.Key.Kid, Key: d.Key}
	} else {
		_, dg.verifyErr = h.engine.VerifyRequestSession(ctx, &a.Request, tok, h.verify.Skew)
		ku = a.KeyUse()
	}
	dg.keyLine = describeKey(&ku, tok, dg.verifyErr)
	return dg
}

func describeResponse(rec *httptest.ResponseRecorder, err error, passed bool) string {
	var he caddyhttp.HandlerError
	switch {
	case errors.As(err, &he):
		return fmt.Sprintf("%d %s (an error for Caddy's handle_errors)%s", he.StatusCode, http.StatusText(he.StatusCode), authHeaders(rec))
	case err != nil:
		return "error: " + err.Error()
	case passed:
		return "the request goes on to the next handler"
	case rec.Code == http.StatusTemporaryRedirect:
		return "307 redirect to " + rec.Header().Get("Location")
	default:
		return fmt.Sprintf("%d %s%s", rec.Code, http.StatusText(rec.Code), authHeaders(rec))
	}
}

// authHeaders names the X-Clerk-Auth-* headers of a refusal.
func authHeaders(rec *httptest.ResponseRecorder) string {
	var b strings.Builder
	for _, name := range []string{wire.HeaderAuthStatus, wire.HeaderAuthReason} {
		if v := rec.Header().Get(name); v != "" {
			fmt.Fprintf(&b, ", %s: %s", name, v)
		}
	}
	return b.String()
}

func describeKey(rk *authn.KeyUse, tok *tokencache.Token, verifyErr *jwt.Error) string {
	if rk.Key == nil {
		if rk.Err != nil {
			return fmt.Sprintf("none: no key for kid %q (%s: %s)", rk.Kid, rk.Err.Reason, rk.Err.LogText())
		}
		if verifyErr != nil {
			return "none: the token was refused before a key was looked up (" + verifyErr.Reason + ")"
		}
		return "none"
	}
	key := fmt.Sprintf("kid %q from %s", rk.Key.Kid, keySourceName(rk.Key))
	if rk.Key.Source == "jwt_key" {
		key = "the configured jwt_key (PEM)"
	}
	if sigErr := rk.Key.Verify(&tok.Token); sigErr != nil {
		return fmt.Sprintf("%s does NOT verify the signature (%s)", key, sigErr.Reason)
	}
	return fmt.Sprintf("signature verified with %s, %s", key, tok.Alg())
}

func keySourceName(k *keys.Key) string {
	if k.Source == "" {
		return "the key set"
	}
	return displayURL(k.Source)
}

// write prints the diagnosis for a person.
func (dg *diagnosis) write(w io.Writer) {
	d := dg.decision
	fmt.Fprintf(w, "request:   %s\n", dg.request)
	if dg.tokenFrom != "" {
		fmt.Fprintf(w, "token:     from %s\n", dg.tokenFrom)
	} else {
		fmt.Fprintf(w, "token:     none\n")
	}
	fmt.Fprintf(w, "decision:  %s\n", d.Status)
	if d.Reason != "" {
		fmt.Fprintf(w, "reason:    %s\n", d.Reason)
	}
	if d.Message != "" {
		fmt.Fprintf(w, "detail:    %s\n", d.Message)
		if d.Detail != "" {
			fmt.Fprintf(w, "cause:     %s\n", d.Detail)
		}
	}
	fmt.Fprintf(w, "response:  %s\n", dg.response)
	if d.Status == wire.StatusSignedIn && d.Session != nil {
		s := d.Session
		if d.Kind == authn.Denied {
			fmt.Fprintf(w, "rule:      %s\n", d.Rule.Text)
		}
		fmt.Fprintf(w, "user:      %s (session %s)\n", s.UserID, s.SessionID)
		if s.OrgID != "" {
			fmt.Fprintf(w, "org:       %s role %s\n", s.OrgID, s.OrgRole)
		}
		if d.Kind == authn.Denied {
			// A rule refused the session: the token itself is fine.
			fmt.Fprintf(w, "\nWhat it means:\n%s\n", indent("The token is valid and signed in, but the rule \""+d.Rule.Text+"\" refuses this session: Caddy answers 403 with X-Clerk-Auth-Reason: "+d.Reason+" and the request does not go on."))
			if doc, ok := explainReason(d.Reason); ok {
				fmt.Fprintf(w, "%s\n", indent(doc.Meaning))
				fmt.Fprintf(w, "What to do:\n%s\n", indent(doc.Fix))
			}
		} else {
			fmt.Fprintf(w, "\nWhat it means:\n%s\n", indent("The token is valid: the request goes on with the user's identity in the {http.auth.user.*} placeholders and in the X-Clerk-* headers that upstream_headers passes on."))
		}
	} else if d.Status == wire.StatusSignedIn && d.Machine != nil {
		m := d.Machine
		if d.Kind == authn.Denied {
			fmt.Fprintf(w, "rule:      %s\n", d.Rule.Text)
		}
		fmt.Fprintf(w, "machine:   %s %s (subject %s, scopes %q)\n", m.Kind, m.ID, m.Subject, m.ScopeText)
		if d.Kind == authn.Denied {
			fmt.Fprintf(w, "\nWhat it means:\n%s\n", indent("The "+string(m.Kind)+" is valid, but the rule \""+d.Rule.Text+"\" refuses it: Caddy answers 403 with X-Clerk-Auth-Reason: "+d.Reason+"."))
		} else {
			fmt.Fprintf(w, "\nWhat it means:\n%s\n", indent("The "+string(m.Kind)+" is valid: the request goes on with its subject in {http.auth.user.id} and the machine token's X-Clerk-* headers (docs/machine-auth.md)."))
		}
	} else if doc, ok := explainReason(d.Reason); ok {
		fmt.Fprintf(w, "\nWhat it means:\n%s\n", indent(doc.Meaning))
		fmt.Fprintf(w, "What to do:\n%s\n", indent(doc.Fix))
	}
	if dg.keyLine != "" {
		fmt.Fprintf(w, "\nkey:       %s\n", dg.keyLine)
	}
	if dg.token == nil {
		return
	}
	header, _ := json.Marshal(rawHeader(dg.token))
	fmt.Fprintf(w, "\nToken header (unverified): %s\n", header)
	if dg.verifyErr == nil {
		fmt.Fprintf(w, "Claims (verified: signature and claims pass):\n")
	} else {
		fmt.Fprintf(w, "Claims (UNVERIFIED, %s: do not rely on them):\n", dg.verifyErr.Reason)
	}
	raw := jwt.RawClaims(dg.token.Payload)
	claims, _ := json.MarshalIndent(raw, "  ", "  ")
	fmt.Fprintf(w, "  %s\n", claims)
	for _, name := range []string{"iat", "nbf", "exp"} {
		if v, ok := raw[name].(float64); ok {
			t := time.Unix(int64(v), 0).UTC()
			fmt.Fprintf(w, "  %s: %s (%s)\n", name, t.Format(time.RFC3339), relativeTime(t, dg.evaluateAt))
		}
	}
}

// rawHeader is the token's header as JSON.parse gives it, for display.
func rawHeader(d *tokencache.Token) map[string]any {
	seg, _, _ := strings.Cut(d.SigningInput, ".")
	var m map[string]any
	if b, err := jwt.RawURLStrict.DecodeString(strings.TrimRight(seg, "=")); err == nil {
		_ = json.Unmarshal(b, &m)
	}
	return m
}

func relativeTime(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	switch {
	case d > 0:
		return d.String() + " after the evaluation time"
	case d < 0:
		return (-d).String() + " before the evaluation time"
	}
	return "the evaluation time"
}

// indent wraps text at about 76 columns, indented by two spaces.
func indent(text string) string {
	var b strings.Builder
	line := 0
	for _, word := range strings.Fields(text) {
		if line > 0 && line+1+len(word) > 76 {
			b.WriteString("\n")
			line = 0
		}
		if line == 0 {
			b.WriteString("  ")
			line = 2
		} else {
			b.WriteString(" ")
			line++
		}
		b.WriteString(word)
		line += len(word)
	}
	return b.String()
}
