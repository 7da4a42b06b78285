package clerkauth

import (
	"fmt"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"sort"
	"strings"
)

// tokenQueryParams are the query parameters that carry a token in the
// handshake's URLs (docs/browser-flow.md, "The round trip"): the way there
// holds the expired __session; the way back __clerk_handshake or
// __clerk_handshake_nonce, and on development instances __clerk_db_jwt
// (__dev_session is its old name).
var tokenQueryParams = []string{wire.QueryHandshake, wire.QueryHandshakeNonce, wire.QueryDevBrowser, wire.QueryLegacyDevBrowser, wire.QuerySession}

// accessLogWarnings reads an adapted config and warns about every server
// that runs clerk_auth and writes an access log whose request>uri is not
// filtered of tokenQueryParams (Caddy's filter encoder, with a query
// filter), or that logs credentials (log_credentials) without deleting the
// Cookie and Authorization headers. The README's security section has the
// filter to use.
func accessLogWarnings(doc any) []string {
	root, _ := doc.(map[string]any)
	servers, _ := dig(root, "apps", "http", "servers").(map[string]any)
	logs, _ := dig(root, "logging", "logs").(map[string]any)
	var out []string
	for name, s := range servers {
		srv, _ := s.(map[string]any)
		slogs, logged := srv["logs"].(map[string]any)
		if !logged || !holdsClerkAuth(srv["routes"]) {
			continue
		}
		// The loggers that receive this server's access log: those that
		// include http.log.access (or one of its names), else the default.
		var writers []map[string]any
		for _, l := range logs {
			lg, _ := l.(map[string]any)
			inc, _ := lg["include"].([]any)
			for _, i := range inc {
				if s, _ := i.(string); strings.HasPrefix(s, "http.log.access") {
					writers = append(writers, lg)
					break
				}
			}
		}
		if len(writers) == 0 {
			def, _ := logs["default"].(map[string]any)
			writers = append(writers, def)
		}
		credentials, _ := slogs["should_log_credentials"].(bool)
		for _, w := range writers {
			fields, _ := dig(w, "encoder", "fields").(map[string]any)
			if dig(w, "encoder", "format") != "filter" {
				fields = nil
			}
			if missing := unfilteredParams(fields["request>uri"]); len(missing) > 0 {
				out = append(out, fmt.Sprintf("server %s writes an access log that keeps the handshake's tokens in request URIs (%s); filter request>uri with a query filter that deletes them (README, \"Tokens out of the access log\")",
					name, strings.Join(missing, ", ")))
			}
			if credentials {
				for _, h := range []string{"request>headers>Cookie", "request>headers>Authorization"} {
					if f, _ := fields[h].(map[string]any); f == nil {
						out = append(out, fmt.Sprintf("server %s logs credentials (log_credentials) and does not filter %s, which carries the session token", name, h))
					}
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// unfilteredParams are the tokenQueryParams that a request>uri field filter
// does not delete, replace or hash.
func unfilteredParams(filter any) []string {
	f, _ := filter.(map[string]any)
	handled := map[string]bool{}
	if f["filter"] == "query" {
		actions, _ := f["actions"].([]any)
		for _, a := range actions {
			if act, ok := a.(map[string]any); ok {
				p, _ := act["parameter"].(string)
				handled[p] = true
			}
		}
	}
	var missing []string
	for _, p := range tokenQueryParams {
		if !handled[p] {
			missing = append(missing, p)
		}
	}
	return missing
}

// dig walks nested JSON objects by key.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
