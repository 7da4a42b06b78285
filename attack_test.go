package clerkauth

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/clerk-edge/clerk_auth/internal/testkit"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// The attack suite: each case is one attack from the hardening issue, named
// after it. Every one must be denied (the next handler never runs), with the
// status and the reason code a client or a handle_errors block sees, and
// nothing the handler logs may hold a token, a key or the secret key.

type attack struct {
	name string
	// handler builds the handler under attack; nil is newTestHandler.
	handler func(t *testing.T) *Handler
	request func(t *testing.T) *http.Request
	status  int
	reason  string
	// check, when set, asserts more about the response.
	check func(t *testing.T, out served)
}

func TestAttacks(t *testing.T) {
	a, b := testkit.Keys(t)
	valid := func(t *testing.T) string { return sessionToken(t) }
	bearer := func(tok string) *http.Request {
		return newRequest(http.MethodGet, "https://app.example.com/api", "Authorization", "Bearer "+tok)
	}
	cookieReq := func(method, tok string, headers ...string) *http.Request {
		return newRequest(method, "https://app.example.com/api", append([]string{"Cookie", "__session=" + tok + "; __client_uat=1"}, headers...)...)
	}
	page := func(target string, headers ...string) *http.Request {
		return newRequest(http.MethodGet, target, append([]string{"Accept", "text/html"}, headers...)...)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&a.PublicKey)

	var cases []attack
	add := func(c ...attack) { cases = append(cases, c...) }

	// Algorithm confusion.
	add(attack{name: "AlgNoneWithoutSignature", status: 401, reason: wire.ReasonTokenInvalidAlgorithm,
		request: func(t *testing.T) *http.Request {
			return bearer(unsignedToken(map[string]any{"alg": "none", "typ": "JWT"}, sessionClaims()))
		}})
	add(attack{name: "AlgNoneWithSignature", status: 401, reason: wire.ReasonTokenInvalidAlgorithm,
		request: func(t *testing.T) *http.Request {
			_, _, sig := splitToken(valid(t))
			return bearer(unsignedToken(map[string]any{"alg": "none", "kid": "ins_a"}, sessionClaims()) + sig)
		}})
	for _, alg := range []string{"HS256", "HS384", "HS512"} {
		for _, form := range []struct {
			name   string
			secret []byte
		}{{"PEM", []byte(testkit.PublicPEM(t, a))}, {"DER", pubDER}} {
			add(attack{name: alg + "SignedWithPublicKey" + form.name, status: 401, reason: wire.ReasonTokenInvalidAlgorithm,
				request: func(t *testing.T) *http.Request { return bearer(hmacToken(alg, form.secret, sessionClaims())) }})
		}
	}
	for _, alg := range []string{"ES256", "ES384", "PS256", "PS512", "EdDSA", "rs256"} {
		add(attack{name: "AlgLabel" + alg + "OnRSAKey", status: 401, reason: wire.ReasonTokenInvalidAlgorithm,
			request: func(t *testing.T) *http.Request {
				return bearer(testkit.SignJWT(t, a, map[string]any{"alg": alg, "kid": "ins_a"}, sessionClaims()))
			}})
	}

	// Key-selection headers must be ignored: the attacker's key, offered
	// every way a JWT can offer one, never verifies.
	jku := newKeyServer(t, map[string]*rsa.PublicKey{"ins_a": &b.PublicKey})
	bDER, _ := x509.MarshalPKIXPublicKey(&b.PublicKey)
	for _, hdr := range []struct {
		name  string
		key   string
		value any
	}{
		{"JKU", "jku", jku.url()},
		{"X5U", "x5u", jku.url()},
		{"X5C", "x5c", []string{base64.StdEncoding.EncodeToString(bDER)}},
		{"EmbeddedJWK", "jwk", map[string]any{"kty": "RSA", "kid": "ins_a", "n": base64.RawURLEncoding.EncodeToString(b.N.Bytes()), "e": "AQAB"}},
	} {
		add(attack{name: "Header" + hdr.name + "Ignored", status: 401, reason: wire.ReasonTokenInvalidSignature,
			request: func(t *testing.T) *http.Request {
				return bearer(testkit.SignJWT(t, b, map[string]any{"alg": "RS256", "kid": "ins_a", hdr.key: hdr.value}, sessionClaims()))
			},
			check: func(t *testing.T, out served) {
				if n := jku.fetches.Load(); n != 0 {
					t.Errorf("the URL in the token's header was fetched %d times", n)
				}
			}})
	}

	// kid: never a path, a query or a size the key lookup trusts. With a
	// JWKS the lookup is a map; the key server only ever sees its own path.
	jwks := newKeyServer(t, map[string]*rsa.PublicKey{"ins_a": &a.PublicKey})
	for _, kid := range []struct{ name, kid string }{
		{"PathTraversal", "../../../../etc/passwd"},
		{"PathTraversalEncoded", "..%2F..%2Fv1%2Fjwks%3Fkid%3D"},
		{"SQL", "' OR '1'='1'; --"},
		{"VeryLong", strings.Repeat("k", 8<<10)},
	} {
		add(attack{name: "Kid" + kid.name, status: 401, reason: wire.ReasonJWKKidMismatch,
			handler: func(t *testing.T) *Handler { return jwksHandler(t, jwks) },
			request: func(t *testing.T) *http.Request {
				return bearer(testkit.SignJWT(t, b, map[string]any{"alg": "RS256", "kid": kid.kid}, sessionClaims()))
			},
			check: func(t *testing.T, out served) {
				for _, p := range jwks.seenPaths() {
					if p != "/jwks" {
						t.Errorf("the key server was asked for %q", p)
					}
				}
			}})
		add(attack{name: "Kid" + kid.name + "WithPEMKey", status: 401, reason: wire.ReasonTokenInvalidSignature,
			request: func(t *testing.T) *http.Request {
				return bearer(testkit.SignJWT(t, b, map[string]any{"alg": "RS256", "kid": kid.kid}, sessionClaims()))
			}})
	}

	// Other instances, tampering, stripping.
	add(attack{name: "SignedByAnotherInstancesKey", status: 401, reason: wire.ReasonTokenInvalidSignature,
		request: func(t *testing.T) *http.Request {
			return bearer(testkit.SignJWT(t, b, map[string]any{"alg": "RS256", "kid": "ins_a"}, sessionClaims()))
		}})
	add(attack{name: "SignedByAnotherInstancesKeyViaJWKS", status: 401, reason: wire.ReasonJWKKidMismatch,
		handler: func(t *testing.T) *Handler { return jwksHandler(t, jwks) },
		request: func(t *testing.T) *http.Request {
			return bearer(testkit.SignJWT(t, b, map[string]any{"alg": "RS256", "kid": "ins_b"}, sessionClaims()))
		}})
	add(attack{name: "RightKeyAnotherInstancesIssuer", status: 401, reason: wire.ReasonTokenInvalidIssuer,
		request: func(t *testing.T) *http.Request {
			return bearer(sessionToken(t, func(c map[string]any) { c["iss"] = "https://clerk.other.com" }))
		}})
	add(attack{name: "PayloadTampering", status: 401, reason: wire.ReasonTokenInvalidSignature,
		request: func(t *testing.T) *http.Request {
			h, _, s := splitToken(valid(t))
			p, _ := json.Marshal(sessionClaims(func(c map[string]any) { c["sub"] = "user_admin" }))
			return bearer(h + "." + base64.RawURLEncoding.EncodeToString(p) + "." + s)
		}})
	add(attack{name: "SignatureStrippedKeepingTheDot", status: 401, reason: wire.ReasonTokenInvalidSignature,
		request: func(t *testing.T) *http.Request {
			h, p, _ := splitToken(valid(t))
			return bearer(h + "." + p + ".")
		}})
	add(attack{name: "SignatureStripped", status: 401, reason: wire.ReasonTokenInvalid,
		request: func(t *testing.T) *http.Request {
			h, p, _ := splitToken(valid(t))
			return bearer(h + "." + p)
		}})

	// Duplicated and case-variant JSON members: read as JavaScript reads
	// them (exact names, the last duplicate wins), even in a token the
	// instance's own key signed.
	add(attack{name: "DuplicateHeaderAlgLastIsNone", status: 401, reason: wire.ReasonTokenInvalidAlgorithm,
		request: func(t *testing.T) *http.Request {
			return bearer(signRaw(t, a, `{"alg":"RS256","kid":"ins_a","alg":"none"}`, mustJSON(sessionClaims())))
		}})
	add(attack{name: "CaseVariantHeaderAlg", status: 401, reason: wire.ReasonTokenInvalidAlgorithm,
		request: func(t *testing.T) *http.Request {
			return bearer(signRaw(t, a, `{"alg":"none","ALG":"RS256","Kid":"ins_a"}`, mustJSON(sessionClaims())))
		}})
	add(attack{name: "DuplicatePayloadAzpLastIsForeign", status: 401, reason: wire.ReasonTokenInvalidAuthorizedParties,
		request: func(t *testing.T) *http.Request {
			p := strings.TrimSuffix(mustJSON(sessionClaims()), "}") + `,"azp":"https://evil.example"}`
			return bearer(signRaw(t, a, `{"alg":"RS256","kid":"ins_a"}`, p))
		}})
	add(attack{name: "DuplicatePayloadIssLastIsForeign", status: 401, reason: wire.ReasonTokenInvalidIssuer,
		request: func(t *testing.T) *http.Request {
			p := strings.TrimSuffix(mustJSON(sessionClaims()), "}") + `,"iss":"https://clerk.other.com"}`
			return bearer(signRaw(t, a, `{"alg":"RS256","kid":"ins_a"}`, p))
		}})

	// Non-canonical base64.
	add(attack{name: "Base64StandardAlphabetSignature", status: 401, reason: wire.ReasonTokenInvalid,
		request: func(t *testing.T) *http.Request {
			h, p, s := splitToken(valid(t))
			sig, _ := base64.RawURLEncoding.DecodeString(s)
			std := base64.StdEncoding.EncodeToString(sig)
			if !strings.ContainsAny(std, "+/") {
				t.Skip("this signature has no + or / in standard base64")
			}
			return bearer(h + "." + p + "." + std)
		}})
	add(attack{name: "Base64PaddingInSignedPart", status: 401, reason: wire.ReasonTokenInvalidSignature,
		request: func(t *testing.T) *http.Request {
			tok := sessionToken(t, func(c map[string]any) { c["pad"] = "x" })
			h, p, s := splitToken(tok)
			if len(p)%4 == 0 {
				t.Fatal("the payload needs padding for this case")
			}
			return bearer(h + "." + p + strings.Repeat("=", 4-len(p)%4) + "." + s)
		}})
	add(attack{name: "Base64NonZeroTrailingBits", status: 401, reason: wire.ReasonTokenInvalid,
		request: func(t *testing.T) *http.Request {
			h, p, s := splitToken(valid(t))
			last := s[len(s)-1]
			alt := map[byte]byte{'A': 'B', 'Q': 'R', 'g': 'h', 'w': 'x'}[last]
			if alt == 0 {
				t.Skipf("signature ends in %q, which has no zero trailing bits to flip", last)
			}
			return bearer(h + "." + p + "." + s[:len(s)-1] + string(alt))
		}})

	// Size.
	add(attack{name: "HugeTokenInHeader", status: 401, reason: wire.ReasonTokenInvalid,
		request: func(t *testing.T) *http.Request { return bearer(hugeToken(t, 1<<20)) },
		check:   wantMessage("larger than 16 KiB")})
	add(attack{name: "HugeTokenInCookie", status: 401, reason: wire.ReasonTokenInvalid,
		request: func(t *testing.T) *http.Request { return cookieReq(http.MethodGet, hugeToken(t, 1<<20)) },
		check:   wantMessage("larger than 16 KiB")})
	add(attack{name: "HugeCookieHeader", status: 401, reason: wire.ReasonSessionTokenAndUATMissing,
		request: func(t *testing.T) *http.Request {
			return newRequest(http.MethodGet, "https://app.example.com/api", "Cookie", strings.Repeat("a=b; ;=;", 1<<17))
		}})
	add(attack{name: "ManyCookieHeaders", status: 401, reason: wire.ReasonTokenInvalidSignature,
		request: func(t *testing.T) *http.Request {
			forged := testkit.SignJWT(t, b, map[string]any{"alg": "RS256", "kid": "ins_a"}, sessionClaims())
			r := cookieReq(http.MethodGet, forged)
			for i := 0; i < 1000; i++ {
				r.Header.Add("Cookie", "__session="+valid(t)+"; __client_uat=1")
			}
			return r
		}})
	add(attack{name: "ManyAuthorizationHeadersForgedFirst", status: 401, reason: wire.ReasonTokenInvalid,
		request: func(t *testing.T) *http.Request {
			r := bearer(testkit.SignJWT(t, b, nil, sessionClaims()))
			r.Header.Add("Authorization", "Bearer "+valid(t))
			return r
		}})
	add(attack{name: "ManyAuthorizationHeadersValidFirst", status: 401, reason: wire.ReasonTokenInvalid,
		request: func(t *testing.T) *http.Request {
			r := bearer(valid(t))
			for i := 0; i < 1000; i++ {
				r.Header.Add("Authorization", "Bearer "+testkit.SignJWT(t, b, nil, sessionClaims()))
			}
			return r
		}})

	// Other token classes signed by the same instance key.
	for _, tc := range []struct {
		name   string
		header map[string]any
		edit   func(map[string]any)
	}{
		{"JWTTemplateAsSession", map[string]any{"cat": "cl_B7d4PD222AAA"}, nil},
		{"M2MTokenAsSession", map[string]any{"cat": wire.JWTCategoryM2M}, nil},
		{"MachineSubjectAsSession", nil, func(c map[string]any) { c["sub"] = "mch_2abc" }},
		{"OAuthAccessTokenAsSession", map[string]any{"typ": "at+jwt"}, nil},
	} {
		mint := func(t *testing.T) string {
			h := map[string]any{"alg": "RS256", "kid": "ins_a"}
			for k, v := range tc.header {
				h[k] = v
			}
			edits := []func(map[string]any){}
			if tc.edit != nil {
				edits = append(edits, tc.edit)
			}
			return testkit.SignJWT(t, a, h, sessionClaims(edits...))
		}
		add(attack{name: tc.name, status: 401, reason: wire.ReasonTokenTypeMismatch,
			request: func(t *testing.T) *http.Request { return bearer(mint(t)) }})
		add(attack{name: tc.name + "InCookie", status: 401, reason: wire.ReasonTokenTypeMismatch,
			request: func(t *testing.T) *http.Request { return cookieReq(http.MethodGet, mint(t)) }})
	}

	// Handshake return leg.
	bapi := newNonceOnlyBAPI(t)
	nonceHandler := func(t *testing.T) *Handler {
		return newTestHandler(t, func(h *Handler) { h.APIURL = bapi.URL })
	}
	tokenHandler := func(t *testing.T) *Handler { return newTestHandler(t, func(h *Handler) { h.SecretKey = "" }) }
	handshakeToken := func(t *testing.T, key *rsa.PrivateKey, directives ...string) string {
		return testkit.SignJWT(t, key, map[string]any{"alg": "RS256", "kid": "ins_a"}, map[string]any{"handshake": directives})
	}
	noSessionCookie := func(t *testing.T, out served) {
		for _, c := range out.rec.Header().Values("Set-Cookie") {
			if strings.HasPrefix(c, wire.CookieSession) || strings.HasPrefix(c, wire.CookieClientUAT) {
				t.Errorf("a cookie of the forged handshake reached the browser: %.60s", c)
			}
		}
	}
	add(attack{name: "HandshakeTokenForgedUnsigned", status: 401, reason: wire.ReasonSessionTokenAndUATMissing, handler: tokenHandler, check: noSessionCookie,
		request: func(t *testing.T) *http.Request {
			tok := unsignedToken(map[string]any{"alg": "none"}, map[string]any{"handshake": []string{"__session=" + valid(t), "__client_uat=1"}})
			return newRequest(http.MethodGet, "https://app.example.com/api?__clerk_handshake="+tok)
		}})
	add(attack{name: "HandshakeTokenFromAnotherInstance", status: 401, reason: wire.ReasonSessionTokenAndUATMissing, handler: tokenHandler, check: noSessionCookie,
		request: func(t *testing.T) *http.Request {
			other := testkit.SignJWT(t, b, map[string]any{"alg": "RS256"}, sessionClaims(func(c map[string]any) { c["iss"] = "https://clerk.other.com" }))
			return newRequest(http.MethodGet, "https://app.example.com/api", "Cookie",
				"__clerk_handshake="+handshakeToken(t, b, "__session="+other, "__client_uat=1"))
		}})
	add(attack{name: "HandshakeTokenCarryingAnotherInstancesSession", status: 401, reason: wire.ReasonSessionTokenAndUATMissing, handler: tokenHandler, check: noSessionCookie,
		request: func(t *testing.T) *http.Request {
			other := testkit.SignJWT(t, b, map[string]any{"alg": "RS256", "kid": "ins_a"}, sessionClaims(func(c map[string]any) { c["iss"] = "https://clerk.other.com" }))
			return newRequest(http.MethodGet, "https://app.example.com/api?__clerk_handshake="+handshakeToken(t, a, "__session="+other, "__client_uat=1"))
		}})
	add(attack{name: "HandshakeTokenAsSessionTemplate", status: 401, reason: wire.ReasonSessionTokenAndUATMissing, handler: tokenHandler, check: noSessionCookie,
		request: func(t *testing.T) *http.Request {
			tok := testkit.SignJWT(t, a, map[string]any{"alg": "RS256", "cat": "cl_B7d4PD222AAA"}, map[string]any{"handshake": []string{"__session=" + valid(t), "__client_uat=1"}})
			return newRequest(http.MethodGet, "https://app.example.com/api?__clerk_handshake="+tok)
		}})
	add(attack{name: "HandshakeDirectivesForAnotherDomain", status: 401, reason: wire.ReasonSessionTokenMissing, handler: tokenHandler,
		request: func(t *testing.T) *http.Request {
			return newRequest(http.MethodGet, "https://app.example.com/api?__clerk_handshake="+handshakeToken(t, a,
				"__session="+valid(t)+"; Path=/; Domain=evil.example", "__client_uat=1; Domain=.xample.com", "__client_uat=1; Domain=example.com.evil.example"))
		},
		check: func(t *testing.T, out served) {
			if c := out.rec.Header().Values("Set-Cookie"); len(c) != 0 {
				t.Errorf("directives for other domains were emitted: %d Set-Cookie", len(c))
			}
		}})
	add(attack{name: "HandshakeDirectiveHeaderInjection", status: 401, reason: wire.ReasonSessionTokenMissing, handler: tokenHandler,
		request: func(t *testing.T) *http.Request {
			return newRequest(http.MethodGet, "https://app.example.com/api?__clerk_handshake="+handshakeToken(t, a,
				"__client_uat=1\r\nSet-Cookie: __session="+valid(t)))
		},
		check: func(t *testing.T, out served) {
			if c := out.rec.Header().Values("Set-Cookie"); len(c) != 0 {
				t.Errorf("a directive with CR LF was emitted: %q", c)
			}
		}})
	add(attack{name: "HandshakeNonceForged", status: 401, reason: wire.ReasonSessionTokenMissing, handler: nonceHandler, check: noSessionCookie,
		request: func(t *testing.T) *http.Request {
			return newRequest(http.MethodGet, "https://app.example.com/api?__clerk_handshake_nonce=forged")
		}})
	add(attack{name: "HandshakeNonceFromAnotherInstance", status: 401, reason: wire.ReasonSessionTokenMissing, handler: nonceHandler, check: noSessionCookie,
		request: func(t *testing.T) *http.Request {
			return newRequest(http.MethodGet, "https://app.example.com/api", "Cookie", "__clerk_handshake_nonce="+fakeBAPIOtherNonce)
		}})

	// Identity headers: a client's are removed before anything else.
	add(attack{name: "IdentityHeaderSpoofing", status: 401, reason: wire.ReasonSessionTokenAndUATMissing,
		request: func(t *testing.T) *http.Request {
			return newRequest(http.MethodGet, "https://app.example.com/api",
				wire.HeaderUserID, "user_admin", "X_Clerk_User_Id", "user_admin", "x-clerk-org-role", "org:admin",
				"X-Clerk-Auth-Status", wire.StatusSignedIn)
		}})

	// _clerk_session_id.
	for _, q := range []struct{ name, query string }{
		{"Repeated", "_clerk_session_id=sess_1&_clerk_session_id=sess_1"},
		{"RepeatedOtherFirst", "_clerk_session_id=sess_2&_clerk_session_id=sess_1"},
		{"Empty", "_clerk_session_id="},
		{"OtherSession", "_clerk_session_id=sess_2"},
	} {
		add(attack{name: "SessionIDParam" + q.name, status: 401, reason: wire.ReasonSessionIDMismatch,
			request: func(t *testing.T) *http.Request {
				return newRequest(http.MethodGet, "https://app.example.com/api?"+q.query, "Authorization", "Bearer "+valid(t))
			}})
	}
	add(attack{name: "SessionIDParamInBodyIsNoCredential", status: 401, reason: wire.ReasonSessionTokenAndUATMissing,
		request: func(t *testing.T) *http.Request {
			r := httptest.NewRequest(http.MethodPost, "https://app.example.com/api", strings.NewReader("_clerk_session_id=sess_1&__session="+valid(t)))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}})

	// Open redirects: every Location is the instance's sign-in page or a
	// path on this site, whatever the request says.
	add(attack{name: "OpenRedirectViaRedirectURLParam", status: 307, reason: wire.ReasonSessionTokenAndUATMissing,
		request: func(t *testing.T) *http.Request {
			return page("https://app.example.com/page?redirect_url=https%3A%2F%2Fevil.example%2F")
		},
		check: wantRedirect("https://accounts.example.com/sign-in", "https://app.example.com/page?redirect_url=https%3A%2F%2Fevil.example%2F")})
	add(attack{name: "OpenRedirectViaHostHeader", status: 307, reason: wire.ReasonSessionTokenAndUATMissing,
		handler: func(t *testing.T) *Handler { return newTestHandler(t, func(h *Handler) { h.SignInURL = "/sign-in" }) },
		request: func(t *testing.T) *http.Request {
			r := page("https://app.example.com/page")
			r.Host = "evil.example"
			return r
		},
		check: func(t *testing.T, out served) {
			if loc := out.rec.Header().Get("Location"); !strings.HasPrefix(loc, "/sign-in?") {
				t.Errorf("Location %q is not a path on this site", loc)
			}
		}})
	add(attack{name: "OpenRedirectViaXForwardedHostFromUntrustedPeer", status: 307, reason: wire.ReasonSessionTokenAndUATMissing,
		request: func(t *testing.T) *http.Request {
			return page("https://app.example.com/page", "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "http")
		},
		check: wantRedirect("https://accounts.example.com/sign-in", "https://app.example.com/page")})
	add(attack{name: "OpenRedirectViaXForwardedHostInHandshake", status: 307, reason: wire.ReasonSessionTokenExpired + "-refresh-" + wire.RefreshNonEligibleNoCookie,
		request: func(t *testing.T) *http.Request {
			expired := sessionToken(t, func(c map[string]any) { c["exp"] = testNow.Unix() - 60 })
			return page("https://app.example.com/page", "X-Forwarded-Host", "evil.example", "Cookie", "__session="+expired+"; __client_uat=1")
		},
		check: wantRedirect("https://clerk.example.com/v1/client/handshake", "https://app.example.com/page")})
	add(attack{name: "OpenRedirectViaSignInURLBackslash", status: 307, reason: wire.ReasonSessionTokenAndUATMissing,
		handler: func(t *testing.T) *Handler {
			return newTestHandler(t, func(h *Handler) { h.SignInURL = `/\evil.example` })
		},
		request: func(t *testing.T) *http.Request { return page("https://app.example.com/page") },
		check: func(t *testing.T, out served) {
			loc := out.rec.Header().Get("Location")
			if strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, `/\`) || !strings.HasPrefix(loc, "/") {
				t.Errorf("Location %q leaves the site in a browser", loc)
			}
		}})
	add(attack{name: "OpenRedirectViaClerkRedirectURLOnProduction", status: 307, reason: wire.ReasonSessionTokenAndUATMissing,
		request: func(t *testing.T) *http.Request {
			return page("https://app.example.com/page?__clerk_redirect_url=https%3A%2F%2Fevil.example%2F")
		},
		check: wantRedirect("https://accounts.example.com/sign-in", "")})

	// CSRF: a cookie rides along on a cross-site form post.
	for _, h := range []struct{ name, header, value string }{
		{"ForeignOrigin", "Origin", "https://evil.example"},
		{"NullOrigin", "Origin", "null"},
		{"SiblingSubdomainOrigin", "Origin", "https://evil.app.example.com"},
		{"SecFetchSiteCrossSite", "Sec-Fetch-Site", "cross-site"},
	} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			add(attack{name: "CSRFCookieToken" + method + h.name, status: 401, reason: wire.ReasonOriginMismatch,
				request: func(t *testing.T) *http.Request { return cookieReq(method, valid(t), h.header, h.value) }})
		}
	}

	runAttacks(t, cases)
}

// TestAttackIdentityHeaderSpoofingWithValidToken: a signed-in request's
// upstream sees only our identity headers, in every spelling.
func TestAttackIdentityHeaderSpoofingWithValidToken(t *testing.T) {
	h := newTestHandler(t)
	r := newRequest(http.MethodGet, "https://app.example.com/api", "Authorization", "Bearer "+sessionToken(t),
		wire.HeaderUserID, "user_admin", "X_Clerk_User_Id", "user_admin", "X-CLERK-ORG-ROLE", "org:admin", "x-clerk_actor_id", "user_admin")
	out := serve(h, r)
	if out.upstream == nil {
		t.Fatalf("valid request denied: %s", out.rec.Header().Get(wire.HeaderAuthReason))
	}
	for k, v := range out.upstream.Header {
		folded := strings.ReplaceAll(strings.ToLower(k), "_", "-")
		if strings.HasPrefix(folded, "x-clerk-") && k != wire.HeaderUserID && k != wire.HeaderSessionID {
			t.Errorf("upstream got %s: %q", k, v)
		}
	}
	if got := out.upstream.Header.Values(wire.HeaderUserID); len(got) != 1 || got[0] != "user_1" {
		t.Errorf("upstream user id %q, want [user_1]", got)
	}
}

// TestAttackSessionIDParamInBodyIsIgnored: the body is never read; a valid
// token's session is the identity, and the body reaches the upstream whole.
func TestAttackSessionIDParamInBodyIsIgnored(t *testing.T) {
	h := newTestHandler(t)
	body := "_clerk_session_id=sess_2"
	r := httptest.NewRequest(http.MethodPost, "https://app.example.com/api", strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+sessionToken(t))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	out := serve(h, r)
	if out.upstream == nil {
		t.Fatalf("denied: %s", out.rec.Header().Get(wire.HeaderAuthReason))
	}
	if got := out.upstream.Header.Get(wire.HeaderSessionID); got != "sess_1" {
		t.Errorf("session id %q, want the token's sess_1", got)
	}
	if err := out.upstream.ParseForm(); err != nil || out.upstream.PostForm.Get("_clerk_session_id") != "sess_2" {
		t.Errorf("the body did not reach the upstream intact: %v %v", err, out.upstream.PostForm)
	}
}

// TestAttackHandshakeForeignDirectiveDroppedOthersKept: a genuine handshake
// keeps its own cookies while one for another domain is dropped.
func TestAttackHandshakeForeignDirectiveDroppedOthersKept(t *testing.T) {
	a, _ := testkit.Keys(t)
	h := newTestHandler(t, func(h *Handler) { h.SecretKey = "" })
	logs := observeLogs(h)
	hs := testkit.SignJWT(t, a, map[string]any{"alg": "RS256"}, map[string]any{"handshake": []string{
		"__session=" + sessionToken(t) + "; Path=/", "__client_uat=1; Path=/; Domain=example.com", "__client_uat=1; Domain=evil.example",
	}})
	out := serve(h, newRequest(http.MethodGet, "https://app.example.com/api?__clerk_handshake="+hs))
	if out.upstream == nil {
		t.Fatalf("genuine handshake denied: %s", out.rec.Header().Get(wire.HeaderAuthReason))
	}
	got := out.rec.Header().Values("Set-Cookie")
	if len(got) != 2 || strings.Contains(strings.Join(got, "|"), "evil") {
		t.Errorf("Set-Cookie %d values, want the 2 for this host; evil.example must be dropped", len(got))
	}
	if logs.FilterMessageSnippet("dropped").Len() != 1 {
		t.Errorf("the dropped directive was not logged once")
	}
}

// TestAttackHugeTokenBoundedWork: a megabyte token costs a bounded amount of
// memory, not one proportional to its size (decoding is never started).
func TestAttackHugeTokenBoundedWork(t *testing.T) {
	h := newTestHandler(t)
	h.useLogger(zap.NewNop())
	tok := hugeToken(t, 1<<20)
	for _, r := range []*http.Request{
		newRequest(http.MethodGet, "https://app.example.com/api", "Authorization", "Bearer "+tok),
		newRequest(http.MethodGet, "https://app.example.com/api", "Cookie", "__client_uat=1; __session="+tok),
	} {
		serve(h, r) // warm up
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		out := serve(h, r)
		runtime.ReadMemStats(&after)
		if out.status() != 401 {
			t.Fatalf("status %d", out.status())
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<10 {
			t.Errorf("a 1 MiB token cost %d bytes of allocation; want it rejected before decoding", alloc)
		}
	}
}

func wantMessage(part string) func(*testing.T, served) {
	return func(t *testing.T, out served) {
		if m := out.rec.Header().Get(wire.HeaderAuthMessage); !strings.Contains(m, part) {
			t.Errorf("X-Clerk-Auth-Message %q, want it to say %q", m, part)
		}
	}
}

// wantRedirect checks the Location's origin and path, and, when given, the
// redirect_url it carries.
func wantRedirect(prefix, redirectURL string) func(*testing.T, served) {
	return func(t *testing.T, out served) {
		loc := out.rec.Header().Get("Location")
		u, err := url.Parse(loc)
		if err != nil || !strings.HasPrefix(loc, prefix+"?") {
			t.Fatalf("Location %q, want %s?...", loc, prefix)
		}
		if redirectURL != "" && u.Query().Get(wire.QueryRedirectURL) != redirectURL {
			t.Errorf("redirect_url %q, want %q", u.Query().Get(wire.QueryRedirectURL), redirectURL)
		}
		if strings.Contains(loc, "evil") && !strings.Contains(u.Query().Get(wire.QueryRedirectURL), "?") {
			t.Errorf("Location %q leads to evil.example", loc)
		}
	}
}

// observeLogs replaces the handler's logger (and its key set's) with one
// recording everything from debug up.
func observeLogs(h *Handler) *observer.ObservedLogs {
	core, logs := observer.New(zapcore.DebugLevel)
	h.useLogger(zap.New(core))
	if ks, ok := h.keys.(*remoteKeySet); ok {
		ks.Logger.Store(h.logger)
	}
	return logs
}

var jwtLike = regexp.MustCompile(`[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}`)

// requireNoSecretsLogged fails when a log entry's message or any field holds
// something shaped like a JWT, the secret key, a line of the PEM key, or any
// token-sized value the request carried.
func requireNoSecretsLogged(t *testing.T, logs *observer.ObservedLogs, h *Handler, r *http.Request) {
	t.Helper()
	secrets := []string{h.SecretKey}
	for _, line := range strings.Split(h.JWTKey, "\n") {
		if len(line) >= 32 && !strings.HasPrefix(line, "-----") {
			secrets = append(secrets, line)
		}
	}
	collect := func(v string) {
		for _, part := range strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(" ;,=&.", r) }) {
			if len(part) >= 32 {
				secrets = append(secrets, part)
			}
		}
	}
	for _, vs := range r.Header {
		for _, v := range vs {
			collect(v)
		}
	}
	collect(r.URL.RawQuery)
	for _, e := range logs.All() {
		text := e.Message + " " + fmt.Sprint(e.ContextMap())
		if jwtLike.MatchString(text) {
			t.Errorf("a log entry holds something shaped like a token: %q", e.Message)
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("log entry %q holds a secret or a token part (%.12s...)", e.Message, s)
			}
		}
	}
}

// hmacToken is the classic algorithm-confusion forgery: HS* with the
// verifier's public key as the HMAC secret.
func hmacToken(alg string, secret []byte, claims map[string]any) string {
	newHash := map[string]func() hash.Hash{"HS256": sha256.New, "HS384": sha512.New384, "HS512": sha512.New}[alg]
	hb, _ := json.Marshal(map[string]any{"alg": alg, "typ": "JWT", "kid": "ins_a"})
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString([]byte(mustJSON(claims)))
	m := hmac.New(newHash, secret)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// signRaw signs header and payload JSON exactly as written (duplicate
// members included) with RS256.
func signRaw(t testing.TB, key *rsa.PrivateKey, header, payload string) string {
	t.Helper()
	input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	return input + "." + base64.RawURLEncoding.EncodeToString(rsaSign(t, key, input))
}

func rsaSign(t testing.TB, key *rsa.PrivateKey, input string) []byte {
	t.Helper()
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// hugeToken is a well-formed token of about n bytes: a real header, a
// payload padded with a large claim, a signature.
func hugeToken(t testing.TB, n int) string {
	return sessionToken(t, func(c map[string]any) { c["pad"] = strings.Repeat("x", n*3/4) })
}

// newNonceOnlyBAPI answers the handshake nonce exchange as Clerk's Backend API does:
// a nonce is known only to the instance whose secret key asks for it.
const fakeBAPIOtherNonce = "nonce_of_another_instance"

func newNonceOnlyBAPI(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/clients/handshake_payload" && r.URL.Query().Get("nonce") == fakeBAPIOtherNonce &&
			r.Header.Get("Authorization") == "Bearer sk_test_other" {
			_, _ = w.Write([]byte(`{"directives":["__session=x","__client_uat=1"]}`))
			return
		}
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"errors":[{"code":"resource_not_found"}]}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}
