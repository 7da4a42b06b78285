package clerkauth

import (
	"errors"
	"iter"
	"math/big"
	"strconv"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/clerk-edge/clerk_auth/internal/jsonscan"
	"github.com/clerk-edge/clerk_auth/internal/jsparse"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
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
	// publishable: every identity value above can be sent as a header
	// value (no control characters); init sets it.
	publishable bool

	// boxes are the placeholder values as interface values, made once on
	// the first placeholder read so that reading them allocates nothing per
	// request, and a session whose placeholders nobody reads never pays.
	boxOnce sync.Once
	boxes   *placeholderBoxes
	// placeholders is s.placeholder, made once for the same reason.
	placeholders caddy.ReplacerFunc

	// payload is the token's payload JSON, decoded on first use by
	// rawClaims.
	payload string
	typed   *jwt.Claims // the verified token's, shared read-only
	// orgPer and orgFpm are the members of a v2 "o" claim that
	// entitlements read.
	orgPer, orgFpm jsonscan.Value
	rawOnce        sync.Once
	rawClaimM      map[string]any

	// ent is what authorization reads, decoded from the raw claims on first
	// use: a session verified once and served from the cache pays for it once.
	entOnce sync.Once
	ent     entitlements
}

// placeholderBoxes are a session's placeholder values, boxed.
type placeholderBoxes struct {
	identity     [len(identityHeaders)]any
	entitlements [len(entitlementHeaders)]any
}

// boxed returns the session's boxed placeholder values.
func (s *session) boxed() *placeholderBoxes {
	s.boxOnce.Do(func() {
		b := new(placeholderBoxes)
		for i, v := range s.identity() {
			b.identity[i] = v
		}
		e := s.entitlements()
		b.entitlements = [...]any{e.permsValue, e.plansValue, e.featuresValue}
		s.boxes = b
	})
	return s.boxes
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
	headerValid                           [3]bool
}

// Members of the v2 "o" claim, and of "act".
const (
	oID = iota
	oSlg
	oRol
	oPer
	oFpm
	numOrgMembers
)

var (
	orgClaimNames   = jsonscan.NewNames([]string{oID: "id", oSlg: "slg", oRol: "rol", oPer: "per", oFpm: "fpm"})
	actorClaimNames = jsonscan.NewNames([]string{"sub"})
)

func newSession(c *jwt.Claims, payload string) *session {
	s := new(session)
	s.init(c, payload)
	return s
}

// init is newSession into s.
func (s *session) init(c *jwt.Claims, payload string) {
	s.payload, s.typed = payload, c
	s.userID = c[jwt.ClaimSub].AsString()
	s.sessionID = c[jwt.ClaimSid].AsString()
	s.status = c[jwt.ClaimSts].AsString()
	if v := c[jwt.ClaimV]; v.Kind == jsonscan.Number && v.Num == 2 {
		if o := c[jwt.ClaimO]; o.Kind == jsonscan.Object {
			var m [numOrgMembers]jsonscan.Value
			_ = jsonscan.ReadMembers(o.Str, orgClaimNames, m[:], false)
			s.orgPer, s.orgFpm = m[oPer], m[oFpm]
			s.orgID = m[oID].AsString()
			s.orgSlug = m[oSlg].AsString()
			if rol := m[oRol].AsString(); rol != "" {
				s.orgRole = "org:" + rol
			}
		}
	} else {
		s.orgID = c[jwt.ClaimOrgID].AsString()
		s.orgRole = c[jwt.ClaimOrgRole].AsString()
		s.orgSlug = c[jwt.ClaimOrgSlug].AsString()
	}
	if act := c[jwt.ClaimAct]; act.Kind == jsonscan.Object {
		var m [1]jsonscan.Value
		_ = jsonscan.ReadMembers(act.Str, actorClaimNames, m[:], false)
		s.actorID = m[0].AsString()
	}
	s.publishable = true
	for _, v := range s.identity() {
		if !httpguts.ValidHeaderFieldValue(v) {
			s.publishable = false
		}
	}
	s.placeholders = s.placeholder
}

// identity is the session's values in the order of identityHeaders.
func (s *session) identity() [len(identityHeaders)]string {
	return [...]string{s.userID, s.sessionID, s.orgID, s.orgRole, s.orgSlug, s.actorID}
}

// rawClaims is the whole payload as JSON.parse gives it, for placeholders
// and rules that read claims the typed fields do not hold. It is decoded
// once per session and shared: callers must not modify it.
func (s *session) rawClaims() map[string]any {
	s.rawOnce.Do(func() { s.rawClaimM = jwt.RawClaims(s.payload) })
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
	c := s.typed
	var e entitlements
	e.features = c[jwt.ClaimFea].AsString()
	e.plans = c[jwt.ClaimPla].AsString()
	e.impersonated = c[jwt.ClaimAct].Present() && c[jwt.ClaimAct].Kind != jsonscan.Null
	if v := c[jwt.ClaimV]; v.Kind == jsonscan.Number && v.Num == 2 {
		if c[jwt.ClaimO].Truthy() {
			e.decodeOrgV2(c, s.orgPer, s.orgFpm)
		}
	} else if c[jwt.ClaimOrgPermissions].Kind == jsonscan.Array {
		e.hasOrgPermissions = true
		perms, _ := s.rawClaims()["org_permissions"].([]any)
		for _, p := range perms {
			if p, ok := p.(string); ok {
				e.orgPermissions = append(e.orgPermissions, p)
			}
		}
	}
	// A v2 session's permissions are substrings of their joined value.
	if e.permsValue == "" {
		e.permsValue = strings.Join(e.orgPermissions, ",")
	}
	if e.malformed != "" {
		e.permsValue = ""
	}
	e.plansValue, e.featuresValue = scopedValues(e.plans), scopedValues(e.features)
	for i, v := range [3]string{e.permsValue, e.plansValue, e.featuresValue} {
		e.headerValid[i] = httpguts.ValidHeaderFieldValue(v)
	}
	return e
}

// decodeOrgV2 is the "case 2" branch of jwtPayloadParser, for a truthy o.
func (s *entitlements) decodeOrgV2(c *jwt.Claims, per, fpm jsonscan.Value) {
	s.hasOrgPermissions = true
	if fea := c[jwt.ClaimFea]; fea.Truthy() && fea.Kind != jsonscan.String {
		s.malformed = "fea is not a string"
		return
	}
	if err := checkScopes(s.features); err != nil {
		s.malformed = err.Error()
		return
	}
	o := c[jwt.ClaimO]
	if o.Kind != jsonscan.Object {
		// o.per of a truthy non-object is undefined in JavaScript.
		return
	}
	if !per.Truthy() || !fpm.Truthy() {
		return
	}
	if per.Kind != jsonscan.String || fpm.Kind != jsonscan.String {
		s.malformed = "o.per or o.fpm is not a string"
		return
	}
	s.orgPermissions, s.permsValue = buildOrgPermissions(s.features, per.Str, fpm.Str)
}

// buildOrgPermissions is parsePermissions + buildOrgPermissions: o.per names
// the permissions, and the i-th decimal of o.fpm is the bitmask (least
// significant bit = first permission) of the i-th org-scoped feature of fea,
// which must have passed checkScopes. joined is the permissions joined with
// commas, the header value. The decimals may exceed 64 bits; an
// element that is not all ASCII digits grants nothing. The permissions are
// substrings of one string: a session costs two allocations here, whatever
// its number of permissions.
func buildOrgPermissions(fea, per, fpm string) (perms []string, joined string) {
	var b strings.Builder
	// Room for every feature to grant every permission once.
	b.Grow(len(fea) + 4*len(per) + 16)
	var endsBuf [16]int
	ends := endsBuf[:0]
	masks := fpm
	for feature := range scopedParts(fea, isOrgClaimScope) {
		mask, rest, more := strings.Cut(masks, ",")
		bits, ok := parseBitmask(jsparse.Trim(mask))
		if ok {
			j := 0
			for p := range commaParts(per) {
				if bits.bit(j) {
					if len(ends) > 0 {
						b.WriteByte(',')
					}
					b.WriteString("org:")
					b.WriteString(feature)
					b.WriteByte(':')
					b.WriteString(jsparse.Trim(p))
					ends = append(ends, b.Len())
				}
				j++
			}
		}
		if !more {
			break
		}
		masks = rest
	}
	joined = b.String()
	perms = make([]string, len(ends))
	start := 0
	for i, end := range ends {
		perms[i] = joined[start:end]
		start = end + 1
	}
	return perms, joined
}

// bitmask is a decimal of o.fpm: a uint64 when it fits, else a big.Int.
type bitmask struct {
	small uint64
	big   *big.Int
}

func (m bitmask) bit(j int) bool {
	if m.big != nil {
		return m.big.Bit(j) == 1
	}
	return j < 64 && m.small>>uint(j)&1 == 1
}

// parseBitmask parses /^\d+$/ (ASCII digits only, any length).
func parseBitmask(d string) (bitmask, bool) {
	if d == "" {
		return bitmask{}, false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return bitmask{}, false
		}
	}
	if n, err := strconv.ParseUint(d, 10, 64); err == nil {
		return bitmask{small: n}, true
	}
	n, ok := new(big.Int).SetString(d, 10)
	return bitmask{big: n}, ok
}

// commaParts are the elements of s.split(","): "" is one empty element.
func commaParts(s string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for {
			i := strings.IndexByte(s, ',')
			if i < 0 {
				yield(s)
				return
			}
			if !yield(s[:i]) {
				return
			}
			s = s[i+1:]
		}
	}
}

// scopedParts are the values of a fea or pla claim whose scope is picked,
// in order, each element trimmed (@clerk/shared's splitByScope, one scope at
// a time). Elements without a scope are skipped: checkScopes tells about
// them.
func scopedParts(claim string, picked func(scope string) bool) iter.Seq[string] {
	return func(yield func(string) bool) {
		if claim == "" {
			return
		}
		for part := range commaParts(claim) {
			scope, value, found := strings.Cut(jsparse.Trim(part), ":")
			if found && picked(scope) && !yield(value) {
				return
			}
		}
	}
}

// yields tells whether seq yields v.
func yields(seq iter.Seq[string], v string) bool {
	for x := range seq {
		if x == v {
			return true
		}
	}
	return false
}

// The scopes of a fea or pla element: "ou" and "uo" are both.
func isOrgClaimScope(scope string) bool  { return scope == "o" || scope == "ou" || scope == "uo" }
func isUserClaimScope(scope string) bool { return scope == "u" || scope == "ou" || scope == "uo" }

// checkScopes fails where @clerk/shared's splitByScope throws: on an element
// without a colon.
func checkScopes(claim string) error {
	if claim == "" {
		return nil
	}
	for part := range commaParts(claim) {
		if !strings.Contains(jsparse.Trim(part), ":") {
			return errClaimElement
		}
	}
	return nil
}

var errClaimElement = errors.New("claim element without a scope")
