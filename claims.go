package clerkauth

import "sync"

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
	rawOnce   sync.Once
	rawClaimM map[string]any
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
	s := &session{payload: payload}
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
