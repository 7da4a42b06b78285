package clerkauth

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
)

// Attacks on what clerk_auth hands on, through a real Caddy: clerk_auth in
// front of reverse_proxy (to an upstream that records everything it got)
// or of file_server with try_files. Requests are written byte for byte on
// a TCP connection, so that the client's spelling reaches Caddy unchanged.

// stackSeen is one request as the upstream received it.
type stackSeen struct {
	header, trailer http.Header
	uri, body       string
}

// stackUpstream answers 200 after reading the whole body (so that request
// trailers arrive) and remembers what it saw.
type stackUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []stackSeen
}

func newStackUpstream(t *testing.T) *stackUpstream {
	u := &stackUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.seen = append(u.seen, stackSeen{header: r.Header.Clone(), trailer: r.Trailer.Clone(), uri: r.RequestURI, body: string(body)})
		u.mu.Unlock()
		fmt.Fprint(w, "upstream")
	}))
	t.Cleanup(u.Close)
	return u
}

// take returns what the upstream saw since the last call.
func (u *stackUpstream) take() []stackSeen {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.seen
	u.seen = nil
	return s
}

// runStack runs one site on a loopback port with the given directives and
// returns its address. Keys come from the environment, as in the examples.
func runStack(t *testing.T, pk, directives string) string {
	t.Helper()
	a, _ := testkit.Keys(t)
	t.Setenv("CLERK_JWT_KEY", testkit.PublicPEM(t, a))
	t.Setenv("CLERK_SECRET_KEY", "")
	t.Setenv("CLERK_PUBLISHABLE_KEY", pk)
	port := testkit.FreePort(t)
	runCaddy(t, fmt.Sprintf("{\n\tadmin off\n\tauto_https off\n}\n:%d {\n\tbind 127.0.0.1\n%s\n}\n", port, directives))
	return addr(port)
}

// rawExchange writes raw (CRLF line ends) and reads one response.
func rawExchange(t *testing.T, address, raw string) (*http.Response, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", address, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// rawGet is a request line and headers ("Name: value" lines), no body.
func rawGet(target string, lines ...string) string {
	return "GET " + target + " HTTP/1.1\r\n" + strings.Join(append(lines, "Connection: close"), "\r\n") + "\r\n\r\n"
}

// stackAttack is one request against a running stack and what the safe
// outcome is.
type stackAttack struct {
	name string
	raw  string
	// check asserts the outcome: the response and what reached the upstream.
	check func(t *testing.T, resp *http.Response, body string, seen []stackSeen)
}

func runStackAttacks(t *testing.T, address string, up *stackUpstream, cases []stackAttack) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			up.take()
			resp, body := rawExchange(t, address, c.raw)
			c.check(t, resp, body, up.take())
		})
	}
}

// impersonatedAdmin is a live token of an impersonation session of an
// organization admin: the upstream must see who impersonates.
func impersonatedAdmin(t *testing.T) string {
	return sessionToken(t, liveTimes, func(c map[string]any) {
		c["o"] = map[string]any{"id": "org_1", "rol": "admin", "slg": "acme", "per": "manage", "fpm": "1"}
		c["fea"] = "o:billing"
		c["pla"] = "o:team"
		c["act"] = map[string]any{"sub": "user_support"}
	})
}

// wantIdentity asserts the request reached the upstream once, carrying
// exactly the identity headers we set, and no list header naming ours.
func wantIdentity(want map[string]string) func(*testing.T, *http.Response, string, []stackSeen) {
	return func(t *testing.T, resp *http.Response, _ string, seen []stackSeen) {
		t.Helper()
		if resp.StatusCode != 200 || len(seen) != 1 {
			t.Fatalf("status %d (reason %q), upstream reached %d times; want 200 once", resp.StatusCode, resp.Header.Get(wire.HeaderAuthReason), len(seen))
		}
		got := seen[0]
		for name, v := range want {
			if vals := got.header.Values(name); len(vals) != 1 || vals[0] != v {
				t.Errorf("upstream %s = %q, want [%s]", name, vals, v)
			}
		}
		for k := range got.header {
			if isIdentityHeaderName(k) && want[k] == "" {
				t.Errorf("upstream got %s, which we did not set", k)
			}
		}
		for _, list := range []string{"Connection", "Proxy-Connection", "Trailer"} {
			if listNamesClerkHeader(got.header.Values(list)) {
				t.Errorf("upstream %s names an identity header: %q", list, got.header.Values(list))
			}
		}
		for k := range got.trailer {
			if isIdentityHeaderName(k) {
				t.Errorf("upstream got the trailer %s: %q", k, got.trailer[k])
			}
		}
	}
}

// wantRefused asserts the request never reached the upstream and was
// answered with status (and reason, when given).
func wantRefused(status int, reason string) func(*testing.T, *http.Response, string, []stackSeen) {
	return func(t *testing.T, resp *http.Response, _ string, seen []stackSeen) {
		t.Helper()
		if len(seen) != 0 {
			t.Fatalf("the request reached the upstream (status %d)", resp.StatusCode)
		}
		if resp.StatusCode != status {
			t.Errorf("status %d, want %d", resp.StatusCode, status)
		}
		if reason != "" && resp.Header.Get(wire.HeaderAuthReason) != reason {
			t.Errorf("X-Clerk-Auth-Reason %q, want %q", resp.Header.Get(wire.HeaderAuthReason), reason)
		}
	}
}

// listNamesClerkHeader tells whether a list header's elements name an
// X-Clerk-* header in any spelling (kept apart from the code under test).
func listNamesClerkHeader(values []string) bool {
	for _, v := range values {
		for _, e := range strings.Split(v, ",") {
			e = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(e)), "_", "-")
			if strings.HasPrefix(e, "x-clerk-") {
				return true
			}
		}
	}
	return false
}

// TestStackAttacks: identity headers, trailers, the CSRF guard on upgrades,
// control characters in identity claims and the handshake parameters, on a
// production instance behind reverse_proxy.
func TestStackAttacks(t *testing.T) {
	up := newStackUpstream(t)
	address := runStack(t, testPK, "\tclerk_auth {\n\t\tauthorized_parties "+testOrigin+"\n\t\tupstream_headers all\n\t}\n\treverse_proxy "+up.URL)
	tok := impersonatedAdmin(t)
	bearer := "Authorization: Bearer " + tok
	host := "Host: app.example.com"
	identity := map[string]string{
		wire.HeaderUserID: "user_1", wire.HeaderSessionID: "sess_1", wire.HeaderOrgID: "org_1", wire.HeaderOrgRole: "org:admin",
		wire.HeaderOrgSlug: "acme", wire.HeaderActorID: "user_support",
		wire.HeaderOrgPermissions: "org:billing:manage", wire.HeaderPlan: "team", wire.HeaderFeatures: "billing",
	}
	var cases []stackAttack
	add := func(c ...stackAttack) { cases = append(cases, c...) }

	// A client names our headers in Connection, so that reverse_proxy
	// drops them as hop-by-hop after we set them.
	for _, v := range []struct{ name, lines string }{
		{"ConnectionNamesActorAndRole", "Connection: keep-alive, X-Clerk-Actor-Id, X-Clerk-Org-Role"},
		{"ConnectionNamesUserAndSession", "Connection: X-Clerk-User-Id,X-Clerk-Session-Id"},
		{"ConnectionLowerCase", "connection: x-clerk-actor-id, x-clerk-org-id"},
		{"ConnectionUpperCase", "CONNECTION: X-CLERK-ACTOR-ID"},
		{"ConnectionWhitespace", "Connection:  keep-alive ,\tX-Clerk-Actor-Id\t,  X-Clerk-Org-Slug  "},
		{"ConnectionEmptyElements", "Connection: ,,X-Clerk-Actor-Id,,"},
		{"ConnectionRepeated", "Connection: keep-alive\r\nConnection: X-Clerk-Actor-Id\r\nConnection: x-clerk-org-role, te"},
		{"ConnectionNamesEntitlements", "Connection: X-Clerk-Org-Permissions, X-Clerk-Plan, X-Clerk-Features"},
		{"ConnectionWithSpoofedHeader", "Connection: X-Clerk-Actor-Id\r\nX-Clerk-Actor-Id: user_support"},
	} {
		add(stackAttack{name: v.name, check: wantIdentity(identity),
			raw: "GET /api HTTP/1.1\r\n" + host + "\r\n" + bearer + "\r\n" + v.lines + "\r\n\r\n"})
	}

	// Request trailers named like ours, declared or not, any spelling.
	chunked := func(trailerDecl, trailers string) string {
		decl := ""
		if trailerDecl != "" {
			decl = "Trailer: " + trailerDecl + "\r\n"
		}
		return "POST /api HTTP/1.1\r\n" + host + "\r\n" + bearer + "\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n" + decl +
			"\r\n5\r\nhello\r\n0\r\n" + trailers + "\r\n"
	}
	trailerCheck := func(t *testing.T, resp *http.Response, body string, seen []stackSeen) {
		wantIdentity(identity)(t, resp, body, seen)
		if len(seen) == 1 && seen[0].body != "hello" {
			t.Errorf("upstream body %q, want hello", seen[0].body)
		}
	}
	for _, v := range []struct{ name, decl, trailers string }{
		{"TrailerDeclaredUserID", "X-Clerk-User-Id", "X-Clerk-User-Id: user_admin\r\n"},
		{"TrailerDeclaredActorAmongOthers", "X-Checksum, X-Clerk-Actor-Id", "X-Checksum: 1\r\nX-Clerk-Actor-Id: nobody\r\n"},
		{"TrailerDeclaredLowerCase", "x-clerk-org-role", "x-clerk-org-role: org:owner\r\n"},
		{"TrailerDeclaredUnderscore", "X_Clerk_User_Id", "X_Clerk_User_Id: user_admin\r\n"},
		{"TrailerUndeclaredBesideDeclared", "X-Checksum", "X-Checksum: 1\r\nX-Clerk-User-Id: user_admin\r\n"},
		// Undeclared alone: net/http keeps it off the request Caddy hands
		// on; asserted so that it stays so.
		{"TrailerUndeclared", "", "X-Clerk-User-Id: user_admin\r\n"},
	} {
		add(stackAttack{name: v.name, raw: chunked(v.decl, v.trailers), check: trailerCheck})
	}

	// Cross-site WebSocket hijacking: a cookie-authenticated upgrade from
	// another origin is refused as an unsafe method's would be.
	cookie := "Cookie: __session=" + sessionToken(t, liveTimes) + "; __client_uat=1"
	ws := "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
	for _, v := range []struct{ name, lines string }{
		{"WebSocketForeignOrigin", ws + "\r\nOrigin: https://evil.example"},
		{"WebSocketSiblingSubdomainOrigin", ws + "\r\nOrigin: https://evil.app.example.com"},
		{"WebSocketNullOrigin", ws + "\r\nOrigin: null"},
		{"WebSocketSecFetchSiteCrossSite", ws + "\r\nSec-Fetch-Site: cross-site"},
		{"WebSocketSecFetchSiteCrossSiteUpperCase", ws + "\r\nSec-Fetch-Site: CROSS-SITE"},
		{"WebSocketUpgradeMixedCase", "Upgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nOrigin: https://evil.example"},
		{"WebSocketConnectionUpgradeOnly", "Connection: upgrade\r\nOrigin: https://evil.example"},
		{"WebSocketUpgradeOnly", "Upgrade: websocket\r\nOrigin: https://evil.example"},
		{"WebSocketOriginHTTPOfOwnHost", ws + "\r\nOrigin: http://evil.example:80"},
		{"UpgradeH2CForeignOrigin", "Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nOrigin: https://evil.example"},
	} {
		add(stackAttack{name: v.name, check: wantRefused(401, wire.ReasonOriginMismatch),
			raw: rawGet("/socket", host, cookie, v.lines)})
	}
	for _, m := range []string{http.MethodHead, http.MethodOptions} {
		add(stackAttack{name: "WebSocket" + m + "ForeignOrigin", check: wantRefused(401, wire.ReasonOriginMismatch),
			raw: m + " /socket HTTP/1.1\r\n" + host + "\r\n" + cookie + "\r\n" + ws + "\r\nOrigin: https://evil.example\r\nConnection: close\r\n\r\n"})
	}

	// Identity claims with control characters: never a header of ours, and
	// no 502 either: the token signs nobody in.
	for _, v := range []struct {
		name string
		edit func(map[string]any)
	}{
		{"ControlCharCRLFInSub", func(c map[string]any) { c["sub"] = "user_1\r\nX-Clerk-Actor-Id: none" }},
		{"ControlCharLFInSid", func(c map[string]any) { c["sid"] = "sess_1\nX-Injected: 1" }},
		{"ControlCharNULInOrgSlug", func(c map[string]any) { c["o"] = map[string]any{"id": "org_1", "rol": "admin", "slg": "ac\x00me"} }},
		{"ControlCharCRInActor", func(c map[string]any) { c["act"] = map[string]any{"sub": "user_support\r"} }},
		{"ControlCharDELInOrgRole", func(c map[string]any) { c["o"] = map[string]any{"id": "org_1", "rol": "ad\x7fmin"} }},
		{"ControlCharV1OrgID", func(c map[string]any) { c["v"] = 1; c["org_id"] = "org_1\r\nX: y" }},
	} {
		add(stackAttack{name: v.name, check: wantRefused(401, wire.ReasonTokenInvalid),
			raw: rawGet("/api", host, "Authorization: Bearer "+sessionToken(t, liveTimes, v.edit))})
	}

	// The handshake's parameters (a live session token in __clerk_handshake)
	// never reach the upstream; the rest of the query arrives byte for byte.
	a, _ := testkit.Keys(t)
	handshake := testkit.SignJWT(t, a, map[string]any{"alg": "RS256"}, map[string]any{"handshake": []string{
		"__session=" + sessionToken(t, liveTimes) + "; Path=/", "__client_uat=1; Path=/",
	}})
	wantURI := func(uri string) func(*testing.T, *http.Response, string, []stackSeen) {
		return func(t *testing.T, resp *http.Response, _ string, seen []stackSeen) {
			if resp.StatusCode != 200 || len(seen) != 1 {
				t.Fatalf("status %d (reason %q), upstream reached %d times", resp.StatusCode, resp.Header.Get(wire.HeaderAuthReason), len(seen))
			}
			if seen[0].uri != uri {
				t.Errorf("upstream request URI %q, want %q", seen[0].uri, uri)
			}
			if seen[0].header.Get(wire.HeaderUserID) != "user_1" {
				t.Errorf("upstream user %q", seen[0].header.Get(wire.HeaderUserID))
			}
		}
	}
	for _, v := range []struct{ name, query, want string }{
		{"HandshakeTokenInQuery", "?__clerk_handshake=" + handshake, "/page"},
		{"HandshakeTokenAmongOthers", "?a=1&__clerk_handshake=" + handshake + "&b=x%20y&c=%2F", "/page?a=1&b=x%20y&c=%2F"},
		{"HandshakeTokenFirst", "?__clerk_handshake=" + handshake + "&a=1", "/page?a=1"},
		{"HandshakeTokenWithHelpAndDevBrowser", "?__clerk_help=1&__clerk_handshake=" + handshake + "&__clerk_db_jwt=dvb_1&z=9", "/page?z=9"},
		{"HandshakeTokenEncodedName", "?%5F%5Fclerk_handshake=" + handshake + "&a=1", "/page?a=1"},
		{"HandshakeTokenPlusInName", "?a=b+c&__clerk_handshake=" + handshake, "/page?a=b+c"},
	} {
		add(stackAttack{name: v.name, check: wantURI(v.want), raw: rawGet("/page"+v.query, host, "Sec-Fetch-Dest: empty")})
	}
	// A header-authenticated request carrying a stale handshake parameter.
	add(stackAttack{name: "HandshakeNonceBesideHeaderToken", check: wantURI("/page?q=1"),
		raw: rawGet("/page?__clerk_handshake_nonce=n_1&q=1", host, bearer)})

	runStackAttacks(t, address, up, cases)
}

// TestStackAttackHostlessRedirect: an HTTP/1.0 request has no Host to
// build a URL on; a path like //evil.example/x must never become a
// Location a browser reads as another host.
func TestStackAttackHostlessRedirect(t *testing.T) {
	up := newStackUpstream(t)
	address := runStack(t, testDevPK, "\tclerk_auth {\n\t\tauthorized_parties https://localhost\n\t}\n\treverse_proxy "+up.URL)
	a, _ := testkit.Keys(t)
	dev := sessionToken(t, liveTimes, func(c map[string]any) {
		c["iss"] = "https://foo-bar-13.clerk.accounts.dev"
		c["azp"] = "https://localhost"
	})
	handshake := testkit.SignJWT(t, a, map[string]any{"alg": "RS256"}, map[string]any{"handshake": []string{"__session=" + dev, "__client_uat=1"}})
	noHostLocation := func(t *testing.T, resp *http.Response, _ string, seen []stackSeen) {
		loc := resp.Header.Get("Location")
		if strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, `/\`) || strings.Contains(loc, ":///") || strings.Contains(loc, `:/\`) {
			t.Fatalf("Location %q", loc)
		}
		if u, err := url.Parse(loc); loc != "" && (err != nil || u.Host == "" || strings.Contains(u.Host, "evil")) {
			t.Fatalf("Location %q", loc)
		}
		if resp.StatusCode == 200 || len(seen) != 0 {
			t.Errorf("status %d, upstream reached %d times", resp.StatusCode, len(seen))
		}
	}
	var cases []stackAttack
	for _, v := range []struct{ name, path string }{
		{"HostlessDoubleSlash", "//evil.example/x"},
		{"HostlessTripleSlash", "///evil.example/x"},
		{"HostlessBackslash", `/\evil.example/x`},
		{"HostlessEncodedBackslash", `/%5Cevil.example/x`},
	} {
		for _, form := range []struct{ name, query string }{
			{"DevHandshakeReturn", "?__clerk_handshake=" + handshake},
			{"PageLoad", ""},
		} {
			cases = append(cases, stackAttack{name: v.name + form.name, check: noHostLocation,
				raw: "GET " + v.path + form.query + " HTTP/1.0\r\nAccept: text/html\r\nSec-Fetch-Dest: document\r\n\r\n"})
		}
	}
	runStackAttacks(t, address, up, cases)
}

// adminPaths are the spellings of the admin area that upstreams and file
// servers map to it.
var adminPaths = []string{
	"/admin", "/admin/", "/admin/users", "/ADMIN", "/Admin/users", "/admin;/users", "/admin;jsessionid=1",
	"/admin%3b/users", "/admin%5cusers", `/admin\users`, "/admin.html", "/admin%2ehtml", "//admin", "/x/../admin",
	"/%61dmin/users", "/admin%2fusers", "/admin/./users", "/;/admin/users", "/x;/../admin",
}

// TestStackAttackAdminSubtree runs examples/admin-org-role, as shipped and
// with file_server + try_files in place of reverse_proxy, and asks for the
// admin area every way an upstream or the file server would serve it.
func TestStackAttackAdminSubtree(t *testing.T) {
	a, _ := testkit.Keys(t)
	src, err := os.ReadFile("examples/admin-org-role/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	member := "Authorization: Bearer " + sessionToken(t, liveTimes, func(c map[string]any) { c["o"] = map[string]any{"id": "org_1", "rol": "member"} })
	admin := "Authorization: Bearer " + sessionToken(t, liveTimes, func(c map[string]any) { c["o"] = map[string]any{"id": "org_1", "rol": "admin"} })
	dir := t.TempDir()
	for name, content := range map[string]string{"admin.html": "ADMIN PAGE", "home.html": "home", "index.html": "index"} {
		_ = os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
	}
	_ = os.MkdirAll(filepath.Join(dir, "admin"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "admin", "users.html"), []byte("ADMIN PAGE users"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "admin", "index.html"), []byte("ADMIN PAGE index"), 0o644)

	for _, backend := range []string{"reverse_proxy", "file_server"} {
		t.Run(backend, func(t *testing.T) {
			t.Setenv("CLERK_PUBLISHABLE_KEY", testPK)
			t.Setenv("CLERK_JWT_KEY", testkit.PublicPEM(t, a))
			t.Setenv("CLERK_SECRET_KEY", "sk_test_example")
			text := string(src)
			if backend == "file_server" {
				text = strings.ReplaceAll(text, "reverse_proxy localhost:9000", "root * /srv/admin-site\n\t\ttry_files {path}.html {path} {path}/index.html\n\t\tfile_server")
			}
			path := filepath.Join(t.TempDir(), "Caddyfile")
			_ = os.WriteFile(path, []byte(text), 0o644)
			up := newStackUpstream(t)
			cfg := adaptExample(t, path)
			siteAddr := addr(testkit.FreePort(t))
			runnableExample(t, cfg, siteAddr, strings.TrimPrefix(up.URL, "http://"))
			replaceStrings(cfg, "/srv/admin-site", dir)
			loadCaddy(t, cfg)

			adminReached := func(body string, seen []stackSeen) bool {
				return len(seen) != 0 || strings.Contains(body, "ADMIN PAGE")
			}
			for _, p := range adminPaths {
				t.Run(strings.NewReplacer("/", "_", "\\", "bs", "%", "pct", ";", "semi").Replace(p), func(t *testing.T) {
					for _, who := range []struct{ name, auth string }{{"member", member}, {"anonymous", "X-Anonymous: 1"}} {
						up.take()
						resp, body := rawExchange(t, siteAddr, rawGet(p, "Host: app.example.com", who.auth))
						seen := up.take()
						if adminReached(body, seen) {
							t.Errorf("%s reached the admin area at %s: status %d, body %.30q", who.name, p, resp.StatusCode, body)
						}
						if resp.StatusCode < 400 && resp.StatusCode != 307 {
							t.Errorf("%s at %s: status %d, want a refusal", who.name, p, resp.StatusCode)
						}
					}
				})
			}
			// The admin still gets in, and a member elsewhere.
			if resp, body := rawExchange(t, siteAddr, rawGet("/admin", "Host: app.example.com", admin)); resp.StatusCode != 200 || !(backend == "reverse_proxy" || strings.Contains(body, "ADMIN PAGE")) {
				t.Errorf("admin at /admin: %d %q", resp.StatusCode, body)
			}
			if resp, _ := rawExchange(t, siteAddr, rawGet("/home", "Host: app.example.com", member)); resp.StatusCode != 200 {
				t.Errorf("member at /home: %d", resp.StatusCode)
			}
		})
	}
}

// TestStackAttackSubtreeMatcherWarning: clerk-diagnose warns about
// clerk_auth under "/x/*" when nothing guarded matches "/x", in both
// Caddyfile forms, and is quiet for the shipped example.
func TestStackAttackSubtreeMatcherWarning(t *testing.T) {
	a, _ := testkit.Keys(t)
	t.Setenv("CLERK_PUBLISHABLE_KEY", testPK)
	t.Setenv("CLERK_JWT_KEY", testkit.PublicPEM(t, a))
	shipped, err := os.ReadFile("examples/admin-org-role/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	const warning = `clerk_auth guards the path matcher "/admin/*", which leaves "/admin" itself`
	for _, tc := range []struct {
		name, caddyfile string
		warn            bool
	}{
		{"DirectiveMatcher", "app.example.com {\n\tclerk_auth /admin/* {\n\t\trequire role admin\n\t}\n\tclerk_auth\n\treverse_proxy localhost:9000\n}\n", true},
		{"HandleBlock", "app.example.com {\n\thandle /admin/* {\n\t\tclerk_auth {\n\t\t\trequire role admin\n\t\t}\n\t\treverse_proxy localhost:9000\n\t}\n\thandle {\n\t\tclerk_auth\n\t\treverse_proxy localhost:9000\n\t}\n}\n", true},
		{"UpperCaseMatcher", "app.example.com {\n\tclerk_auth /Admin/* {\n\t\trequire role admin\n\t}\n\trespond ok\n}\n", true},
		{"BarePathAlsoGuarded", "app.example.com {\n\t@admin path /admin /admin/*\n\tclerk_auth @admin {\n\t\trequire role admin\n\t}\n\trespond ok\n}\n", false},
		{"ShippedExample", string(shipped), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "Caddyfile")
			_ = os.WriteFile(path, []byte(tc.caddyfile), 0o644)
			out, err := runDiagnoseCommand(t, "--config", path, "--handler", "1", "--token", sessionToken(t, liveTimes))
			if !strings.Contains(out, "decision:") {
				t.Fatalf("no diagnosis (%v):\n%s", err, out)
			}
			if got := strings.Contains(out, warning); got != tc.warn {
				t.Errorf("warning printed: %v, want %v:\n%s", got, tc.warn, out)
			}
		})
	}
}

// TestAttackListHeadersNamingOursAreScrubbed: Proxy-Connection, which Caddy
// drops whole, and Trailer left in the header (a body that is not chunked)
// lose their X-Clerk-* elements too, and the other elements stay.
func TestAttackListHeadersNamingOursAreScrubbed(t *testing.T) {
	h := newTestHandler(t)
	r := newRequest(http.MethodGet, "https://app.example.com/api", "Authorization", "Bearer "+sessionToken(t),
		"Proxy-Connection", "keep-alive, X-Clerk-User-Id", "Trailer", "x_clerk_actor_id", "Connection", "X-Clerk-Session-Id")
	out := serve(h, r)
	if out.upstream == nil {
		t.Fatalf("denied: %s", out.rec.Header().Get(wire.HeaderAuthReason))
	}
	if got := out.upstream.Header.Values("Proxy-Connection"); len(got) != 1 || got[0] != "keep-alive" {
		t.Errorf("Proxy-Connection %q, want [keep-alive]", got)
	}
	for _, name := range []string{"Trailer", "Connection"} {
		if got, ok := out.upstream.Header[name]; ok {
			t.Errorf("%s %q left with no element, want it removed", name, got)
		}
	}
	if out.upstream.Header.Get(wire.HeaderSessionID) != "sess_1" {
		t.Errorf("session header %q", out.upstream.Header.Get(wire.HeaderSessionID))
	}
}
