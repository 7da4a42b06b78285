// Package session is what a verified session token says: the identity
// (user, session, organization, actor), the entitlements Clerk's has() reads
// (v1 org_* claims or v2's compact "o" claim, fea and pla scopes), and the
// values published to upstream headers and Caddy placeholders, made once per
// session. It reads the claims internal/jwt decoded.
package session

import (
	"errors"
	"iter"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/clerk-edge/clerk_auth/internal/jsonscan"
	"github.com/clerk-edge/clerk_auth/internal/jsparse"
	"github.com/clerk-edge/clerk_auth/internal/jwt"
	"github.com/clerk-edge/clerk_auth/internal/wire"
	"golang.org/x/net/http/httpguts"
)

// Session is what a verified session token says, decoded as @clerk/shared's
// jwtPayloadParser does (v1 org_* claims, or v2's compact "o" object). A
// session may be shared by concurrent requests through the cache: it is
// read-only once built.
type Session struct {
	UserID    string
	SessionID string
	Status    string // sts: "active", "pending", or empty
	OrgID     string
	OrgRole   string
	OrgSlug   string
	ActorID   string
	// Publishable: every identity value above can be sent as a header
	// value (no control characters); init sets it.
	Publishable bool

	// Placeholders is s.placeholder, made once so that reading the
	// placeholders allocates nothing per request.
	Placeholders func(key string) (any, bool)

	// Payload is the token's payload JSON, decoded on first use by
	// rawClaims.
	Payload string
	Typed   *jwt.Claims // the verified token's, shared read-only

	// lazy is what is made on first read, once per session: a session
	// in the cache that nobody asks for it costs one pointer slot for it,
	// not the fifteen and the three sync.Once that its fields take
	// (docs/performance.md, "The cache entry and the garbage collector").
	lazy atomic.Pointer[lazyParts]
}

// lazyParts are a session's values made on first read.
type lazyParts struct {
	// ent is what authorization reads, decoded from the raw claims on first
	// use: a session verified once and served from the cache pays for it once.
	entOnce sync.Once
	ent     Entitlements

	rawOnce   sync.Once
	rawClaimM map[string]any

	// boxes are the placeholder values as interface values, made once on
	// the first placeholder read so that reading them allocates nothing per
	// request, and a session whose placeholders nobody reads never pays.
	boxOnce sync.Once
	boxes   placeholderBoxes
}

// parts is s.lazy, made on first call.
func (s *Session) parts() *lazyParts {
	if p := s.lazy.Load(); p != nil {
		return p
	}
	p := new(lazyParts)
	if s.lazy.CompareAndSwap(nil, p) {
		return p
	}
	return s.lazy.Load()
}

// placeholderBoxes are a session's placeholder values, boxed.
type placeholderBoxes struct {
	identity     [len(IdentityHeaders)]any
	entitlements [len(EntitlementHeaders)]any
}

// boxed returns the session's boxed placeholder values.
func (s *Session) boxed() *placeholderBoxes {
	p := s.parts()
	p.boxOnce.Do(func() {
		b := &p.boxes
		for i, v := range s.Identity() {
			b.identity[i] = v
		}
		e := s.Entitlements()
		b.entitlements = [...]any{e.PermsValue, e.PlansValue, e.FeaturesValue}
	})
	return &p.boxes
}

// Entitlements are the parts of the payload Clerk's has() reads, decoded as
// @clerk/shared's jwtPayloadParser does (v2's fea × o.per × o.fpm bitmasks).
//
// Where Clerk's parser would take a claim of the wrong JSON type as it comes
// (a numeric org id, say), we take nothing, so every rule that needs it
// denies. Where Clerk's parser would throw (a fea element without a scope,
// a non-string o.per), malformed says why, and every rule denies.
type Entitlements struct {
	// OrgPermissions is orgPermissions of Clerk's auth object; hasOrgPermissions
	// is Array.isArray(orgPermissions), which has() requires.
	OrgPermissions    []string
	HasOrgPermissions bool
	// Features and plans are the raw fea and pla claims ("" when absent or
	// not a string), which has() reads for feature and plan questions.
	Features string
	Plans    string
	// Impersonated is an act claim that is not null (Clerk's actor).
	Impersonated bool

	Malformed string

	// The values published to placeholders and headers, made once.
	PermsValue, PlansValue, FeaturesValue string
	HeaderValid                           [3]bool
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

// New is the session of verified claims c and their payload JSON.
func New(c *jwt.Claims, payload string) *Session {
	s := new(Session)
	s.Init(c, payload)
	return s
}

// Init is newSession into s.
func (s *Session) Init(c *jwt.Claims, payload string) {
	s.Payload, s.Typed = payload, c
	s.UserID = c[jwt.ClaimSub].AsString()
	s.SessionID = c[jwt.ClaimSid].AsString()
	s.Status = c[jwt.ClaimSts].AsString()
	if v := c[jwt.ClaimV]; v.Kind == jsonscan.Number && v.Num == 2 {
		if o := c[jwt.ClaimO]; o.Kind == jsonscan.Object {
			var m [numOrgMembers]jsonscan.Value
			_ = jsonscan.ReadMembers(o.Str, orgClaimNames, m[:], false)
			s.OrgID = m[oID].AsString()
			s.OrgSlug = m[oSlg].AsString()
			if rol := m[oRol].AsString(); rol != "" {
				s.OrgRole = "org:" + rol
			}
		}
	} else {
		s.OrgID = c[jwt.ClaimOrgID].AsString()
		s.OrgRole = c[jwt.ClaimOrgRole].AsString()
		s.OrgSlug = c[jwt.ClaimOrgSlug].AsString()
	}
	if act := c[jwt.ClaimAct]; act.Kind == jsonscan.Object {
		var m [1]jsonscan.Value
		_ = jsonscan.ReadMembers(act.Str, actorClaimNames, m[:], false)
		s.ActorID = m[0].AsString()
	}
	s.Publishable = true
	for _, v := range s.Identity() {
		if !httpguts.ValidHeaderFieldValue(v) {
			s.Publishable = false
		}
	}
	s.Placeholders = s.Placeholder
}

// Identity is the session's values in the order of identityHeaders.
func (s *Session) Identity() [len(IdentityHeaders)]string {
	return [...]string{s.UserID, s.SessionID, s.OrgID, s.OrgRole, s.OrgSlug, s.ActorID}
}

// RawClaims is the whole payload as JSON.parse gives it, for placeholders
// and rules that read claims the typed fields do not hold. It is decoded
// once per session and shared: callers must not modify it.
func (s *Session) RawClaims() map[string]any {
	p := s.parts()
	p.rawOnce.Do(func() { p.rawClaimM = jwt.RawClaims(s.Payload) })
	return p.rawClaimM
}

// Entitlements decodes, once per session, what authorization reads.
func (s *Session) Entitlements() *Entitlements {
	p := s.parts()
	p.entOnce.Do(func() { p.ent = s.decodeEntitlements() })
	return &p.ent
}

// decodeEntitlements reads the typed claims; only a v1 org_permissions array
// needs the whole payload decoded.
func (s *Session) decodeEntitlements() Entitlements {
	c := s.Typed
	var e Entitlements
	e.Features = c[jwt.ClaimFea].AsString()
	e.Plans = c[jwt.ClaimPla].AsString()
	e.Impersonated = c[jwt.ClaimAct].Present() && c[jwt.ClaimAct].Kind != jsonscan.Null
	if v := c[jwt.ClaimV]; v.Kind == jsonscan.Number && v.Num == 2 {
		if o := c[jwt.ClaimO]; o.Truthy() {
			// o.per and o.fpm are read again here rather than kept from
			// Init: two fewer pointers in every cached session.
			var m [numOrgMembers]jsonscan.Value
			if o.Kind == jsonscan.Object {
				_ = jsonscan.ReadMembers(o.Str, orgClaimNames, m[:], false)
			}
			e.decodeOrgV2(c, m[oPer], m[oFpm])
		}
	} else if c[jwt.ClaimOrgPermissions].Kind == jsonscan.Array {
		e.HasOrgPermissions = true
		perms, _ := s.RawClaims()["org_permissions"].([]any)
		for _, p := range perms {
			if p, ok := p.(string); ok {
				e.OrgPermissions = append(e.OrgPermissions, p)
			}
		}
	}
	// A v2 session's permissions are substrings of their joined value.
	if e.PermsValue == "" {
		e.PermsValue = strings.Join(e.OrgPermissions, ",")
	}
	if e.Malformed != "" {
		e.PermsValue = ""
	}
	e.PlansValue, e.FeaturesValue = ScopedValues(e.Plans), ScopedValues(e.Features)
	for i, v := range [3]string{e.PermsValue, e.PlansValue, e.FeaturesValue} {
		e.HeaderValid[i] = httpguts.ValidHeaderFieldValue(v)
	}
	return e
}

// decodeOrgV2 is the "case 2" branch of jwtPayloadParser, for a truthy o.
func (s *Entitlements) decodeOrgV2(c *jwt.Claims, per, fpm jsonscan.Value) {
	s.HasOrgPermissions = true
	if fea := c[jwt.ClaimFea]; fea.Truthy() && fea.Kind != jsonscan.String {
		s.Malformed = "fea is not a string"
		return
	}
	if err := CheckScopes(s.Features); err != nil {
		s.Malformed = err.Error()
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
		s.Malformed = "o.per or o.fpm is not a string"
		return
	}
	s.OrgPermissions, s.PermsValue = buildOrgPermissions(s.Features, per.Str, fpm.Str)
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
	for feature := range ScopedParts(fea, IsOrgClaimScope) {
		mask, rest, more := strings.Cut(masks, ",")
		bits, ok := parseBitmask(jsparse.Trim(mask))
		if ok {
			j := 0
			for p := range strings.SplitSeq(per, ",") {
				if bits.Bit(j) {
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

// Bitmask is a decimal of o.fpm: a uint64 when it fits, else a big.Int.
type Bitmask struct {
	small uint64
	big   *big.Int
}

// Bit tells whether bit j is set.
func (m Bitmask) Bit(j int) bool {
	if m.big != nil {
		return m.big.Bit(j) == 1
	}
	return j < 64 && m.small>>uint(j)&1 == 1
}

// parseBitmask parses /^\d+$/ (ASCII digits only, any length).
func parseBitmask(d string) (Bitmask, bool) {
	if d == "" {
		return Bitmask{}, false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return Bitmask{}, false
		}
	}
	if n, err := strconv.ParseUint(d, 10, 64); err == nil {
		return Bitmask{small: n}, true
	}
	n, ok := new(big.Int).SetString(d, 10)
	return Bitmask{big: n}, ok
}

// ScopedParts are the values of a fea or pla claim whose scope is picked,
// in order, each element trimmed (@clerk/shared's splitByScope, one scope at
// a time). Elements without a scope are skipped: checkScopes tells about
// them.
func ScopedParts(claim string, picked func(scope string) bool) iter.Seq[string] {
	return func(yield func(string) bool) {
		if claim == "" {
			return
		}
		for part := range strings.SplitSeq(claim, ",") {
			scope, value, found := strings.Cut(jsparse.Trim(part), ":")
			if found && picked(scope) && !yield(value) {
				return
			}
		}
	}
}

// Yields tells whether seq yields v.
func Yields(seq iter.Seq[string], v string) bool {
	for x := range seq {
		if x == v {
			return true
		}
	}
	return false
}

// IsOrgClaimScope and IsUserClaimScope are the scopes of a fea or pla
// element: "ou" and "uo" are both.
func IsOrgClaimScope(scope string) bool { return scope == "o" || scope == "ou" || scope == "uo" }

// IsUserClaimScope: see IsOrgClaimScope.
func IsUserClaimScope(scope string) bool { return scope == "u" || scope == "ou" || scope == "uo" }

// CheckScopes fails where @clerk/shared's splitByScope throws: on an element
// without a colon.
func CheckScopes(claim string) error {
	if claim == "" {
		return nil
	}
	for part := range strings.SplitSeq(claim, ",") {
		if !strings.Contains(jsparse.Trim(part), ":") {
			return errClaimElement
		}
	}
	return nil
}

var errClaimElement = errors.New("claim element without a scope")

// Placeholder is placeholdersFor of a signed-in request with this session.
func (s *Session) Placeholder(key string) (any, bool) {
	const prefix = "http.auth."
	if len(key) <= len(prefix) || key[:len(prefix)] != prefix {
		return nil, false
	}
	switch key {
	case "http.auth.clerk.status":
		return AnySignedIn, true
	case "http.auth.clerk.reason":
		return AnyNoReason, true
	case "http.auth.clerk.token_type":
		return anySessionToken, true
	}
	for i, name := range IdentityPlaceholders {
		if key == name {
			return s.boxed().identity[i], true
		}
	}
	for i, name := range EntitlementPlaceholders {
		if key == name {
			return s.boxed().entitlements[i], true
		}
	}
	return OwnPlaceholder(key)
}

// OwnPlaceholder answers "" for a key in our namespaces that has no value
// on this request.
func OwnPlaceholder(key string) (any, bool) {
	if strings.HasPrefix(key, "http.auth.user.") || strings.HasPrefix(key, "http.auth.clerk.") {
		return AnyNoReason, true
	}
	return nil, false
}

// StatusValue boxes the status for the replacer without allocating.
func StatusValue(status string) any {
	switch status {
	case wire.StatusSignedIn:
		return AnySignedIn
	case wire.StatusSignedOut:
		return anySignedOut
	case wire.StatusHandshake:
		return anyHandshake
	}
	return status
}

// anySessionToken is {http.auth.clerk.token_type} of a session, boxed once.
var anySessionToken any = "session_token"

// AnySignedIn and AnyNoReason are placeholder values, boxed once.
var AnySignedIn, anySignedOut, anyHandshake, AnyNoReason any = wire.StatusSignedIn, wire.StatusSignedOut, wire.StatusHandshake, ""

// ScopedValues turns "u:pro, o:team" into "pro,team": the slugs of a fea or
// pla claim, user-scoped first, scope removed, each once. Nothing when the
// claim is malformed. A single slug is returned as a substring of the claim.
func ScopedValues(claim string) string {
	if claim == "" || CheckScopes(claim) != nil {
		return ""
	}
	var outBuf [32]string
	out := outBuf[:0]
	for _, picked := range [...]func(string) bool{IsUserClaimScope, IsOrgClaimScope} {
		for v := range ScopedParts(claim, picked) {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	if len(out) == 1 {
		return out[0]
	}
	return strings.Join(out, ",")
}

// identityHeaders and identityPlaceholders name the session's values in
// the order of identity.
var (
	IdentityHeaders      = [...]string{wire.HeaderUserID, wire.HeaderSessionID, wire.HeaderOrgID, wire.HeaderOrgRole, wire.HeaderOrgSlug, wire.HeaderActorID}
	IdentityPlaceholders = [...]string{
		"http.auth.user.id", "http.auth.user.session_id", "http.auth.user.org_id",
		"http.auth.user.org_role", "http.auth.user.org_slug", "http.auth.user.actor_id",
	}
)

var (
	EntitlementPlaceholders = [3]string{"http.auth.user.org_permissions", "http.auth.user.plan", "http.auth.user.features"}
	EntitlementHeaders      = [3]string{wire.HeaderOrgPermissions, wire.HeaderPlan, wire.HeaderFeatures}
)
