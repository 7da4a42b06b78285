package clerkauth

import (
	"errors"
	"math/big"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/net/http/httpguts"
)

// session is what a verified session token says, decoded as @clerk/shared's
// jwtPayloadParser does (v1 org_* claims, or v2's compact "o" object). A
// session may be shared by concurrent requests through the cache: it is
// read-only once built.
type session struct {
	userID    string
	sessionID string
	status    string // sts: "active", "pending", or empty
	orgID     string
	orgRole   string
	orgSlug   string
	actorID   string

	// boxed are identity() as interface values, made once so that setting
	// the placeholders allocates nothing per request.
	boxed [len(identityHeaders)]any

	// payload is the token's payload JSON, decoded on first use by
	// rawClaims.
	payload   string
	typed     tokenClaims
	rawOnce   sync.Once
	rawClaimM map[string]any

	// ent is what authorization reads, decoded from the raw claims on first
	// use: a session verified once and served from the cache pays for it once.
	entOnce sync.Once
	ent     entitlements
}

// entitlements are the parts of the payload Clerk's has() reads, decoded as
// @clerk/shared's jwtPayloadParser does (v2's fea × o.per × o.fpm bitmasks).
//
// Where Clerk's parser would take a claim of the wrong JSON type as it comes
// (a numeric org id, say), we take nothing, so every rule that needs it
// denies. Where Clerk's parser would throw (a fea element without a scope,
// a non-string o.per), malformed says why, and every rule denies.
type entitlements struct {
	// orgPermissions is orgPermissions of Clerk's auth object; hasOrgPermissions
	// is Array.isArray(orgPermissions), which has() requires.
	orgPermissions    []string
	hasOrgPermissions bool
	// features and plans are the raw fea and pla claims ("" when absent or
	// not a string), which has() reads for feature and plan questions.
	features string
	plans    string
	// impersonated is an act claim that is not null (Clerk's actor).
	impersonated bool

	malformed string

	// The values published to placeholders and headers, made once.
	permsValue, plansValue, featuresValue string
	boxed                                 [3]any
	headerValid                           [3]bool
}

// Members of the v2 "o" claim and of "act".
const (
	oID = iota
	oSlg
	oRol
)

var (
	orgClaimNames   = []string{oID: "id", oSlg: "slg", oRol: "rol"}
	actorClaimNames = []string{"sub"}
)

func newSession(c *tokenClaims, payload string) *session {
	s := &session{payload: payload, typed: *c}
	s.userID = c[clSub].asString()
	s.sessionID = c[clSid].asString()
	s.status = c[clSts].asString()
	if v := c[clV]; v.kind == jsonNumber && v.num == 2 {
		if o := c[clO]; o.kind == jsonObject {
			var m [3]jsonValue
			_ = readMembers(o.str, orgClaimNames, m[:], false)
			s.orgID = m[oID].asString()
			s.orgSlug = m[oSlg].asString()
			if rol := m[oRol].asString(); rol != "" {
				s.orgRole = "org:" + rol
			}
		}
	} else {
		s.orgID = c[clOrgID].asString()
		s.orgRole = c[clOrgRole].asString()
		s.orgSlug = c[clOrgSlug].asString()
	}
	if act := c[clAct]; act.kind == jsonObject {
		var m [1]jsonValue
		_ = readMembers(act.str, actorClaimNames, m[:], false)
		s.actorID = m[0].asString()
	}
	for i, v := range s.identity() {
		s.boxed[i] = v
	}
	return s
}

// identity is the session's values in the order of identityHeaders.
func (s *session) identity() [len(identityHeaders)]string {
	return [...]string{s.userID, s.sessionID, s.orgID, s.orgRole, s.orgSlug, s.actorID}
}

// rawClaims is the whole payload as JSON.parse gives it, for placeholders
// and rules that read claims the typed fields do not hold. It is decoded
// once per session and shared: callers must not modify it.
func (s *session) rawClaims() map[string]any {
	s.rawOnce.Do(func() { s.rawClaimM = rawClaims(s.payload) })
	return s.rawClaimM
}

// entitlements decodes, once per session, what authorization reads.
func (s *session) entitlements() *entitlements {
	s.entOnce.Do(func() { s.ent = s.decodeEntitlements() })
	return &s.ent
}

// decodeEntitlements reads the typed claims; only a v1 org_permissions array
// needs the whole payload decoded.
func (s *session) decodeEntitlements() entitlements {
	c := &s.typed
	var e entitlements
	e.features = c[clFea].asString()
	e.plans = c[clPla].asString()
	e.impersonated = c[clAct].present() && c[clAct].kind != jsonNull
	if v := c[clV]; v.kind == jsonNumber && v.num == 2 {
		if c[clO].truthy() {
			e.decodeOrgV2(c)
		}
	} else if c[clOrgPermissions].kind == jsonArray {
		e.hasOrgPermissions = true
		perms, _ := s.rawClaims()["org_permissions"].([]any)
		for _, p := range perms {
			if p, ok := p.(string); ok {
				e.orgPermissions = append(e.orgPermissions, p)
			}
		}
	}
	e.permsValue = strings.Join(e.orgPermissions, ",")
	if e.malformed != "" {
		e.permsValue = ""
	}
	e.plansValue, e.featuresValue = scopedValues(e.plans), scopedValues(e.features)
	e.boxed = [3]any{e.permsValue, e.plansValue, e.featuresValue}
	for i, v := range [3]string{e.permsValue, e.plansValue, e.featuresValue} {
		e.headerValid[i] = httpguts.ValidHeaderFieldValue(v)
	}
	return e
}

// Members of the v2 "o" claim that entitlements read.
const (
	oPer = iota
	oFpm
)

var orgPermissionNames = []string{oPer: "per", oFpm: "fpm"}

// decodeOrgV2 is the "case 2" branch of jwtPayloadParser, for a truthy o.
func (s *entitlements) decodeOrgV2(c *tokenClaims) {
	s.hasOrgPermissions = true
	if fea := c[clFea]; fea.truthy() && fea.kind != jsonString {
		s.malformed = "fea is not a string"
		return
	}
	orgFeatures, _, err := splitByScope(s.features)
	if err != nil {
		s.malformed = err.Error()
		return
	}
	o := c[clO]
	if o.kind != jsonObject {
		// o.per of a truthy non-object is undefined in JavaScript.
		return
	}
	var m [2]jsonValue
	_ = readMembers(o.str, orgPermissionNames, m[:], false)
	per, fpm := m[oPer], m[oFpm]
	if !per.truthy() || !fpm.truthy() {
		return
	}
	if per.kind != jsonString || fpm.kind != jsonString {
		s.malformed = "o.per or o.fpm is not a string"
		return
	}
	s.orgPermissions = buildOrgPermissions(orgFeatures, per.str, fpm.str)
}

// buildOrgPermissions is parsePermissions + buildOrgPermissions: o.per names
// the permissions, and the i-th decimal of o.fpm is the bitmask (least
// significant bit = first permission) of the i-th org-scoped feature of fea.
// The decimals may exceed 64 bits; an element that is not all ASCII digits
// grants nothing.
func buildOrgPermissions(orgFeatures []string, per, fpm string) []string {
	perms := strings.Split(per, ",")
	for i := range perms {
		perms[i] = jsTrim(perms[i])
	}
	masks := strings.Split(fpm, ",")
	out := []string{}
	for i, feature := range orgFeatures {
		if i >= len(masks) {
			continue
		}
		bits, ok := decimalBits(jsTrim(masks[i]))
		if !ok {
			continue
		}
		for j, p := range perms {
			if bits.Bit(j) == 1 {
				out = append(out, "org:"+feature+":"+p)
			}
		}
	}
	return out
}

// decimalBits parses /^\d+$/ (ASCII digits only, any length).
func decimalBits(d string) (*big.Int, bool) {
	if d == "" {
		return nil, false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return nil, false
		}
	}
	n, ok := new(big.Int).SetString(d, 10)
	return n, ok
}

var errClaimElement = errors.New("claim element without a scope")

// splitByScope is @clerk/shared's: "o:a, u:b, ou:c" → org [a c], user [b c].
// An element without a colon is an error (Clerk throws); unknown scopes are
// skipped.
func splitByScope(claim string) (org, user []string, err error) {
	if claim == "" {
		return nil, nil, nil
	}
	for _, part := range strings.Split(claim, ",") {
		part = jsTrim(part)
		scope, value, found := strings.Cut(part, ":")
		if !found {
			return nil, nil, errClaimElement
		}
		switch scope {
		case "o":
			org = append(org, value)
		case "u":
			user = append(user, value)
		case "ou", "uo":
			org = append(org, value)
			user = append(user, value)
		}
	}
	return org, user, nil
}

// jsTrim is String.prototype.trim: JavaScript's white space and line
// terminators, which differ from Go's unicode.IsSpace (U+FEFF is one, U+0085
// is not).
func jsTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		switch r {
		case '\t', '\n', '\v', '\f', '\r', '\uFEFF', '\u2028', '\u2029':
			return true
		}
		return unicode.Is(unicode.Zs, r)
	})
}
