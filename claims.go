package clerkauth

// session is what a verified session token says, decoded as @clerk/shared's
// jwtPayloadParser does (v1 org_* claims, or v2's compact "o" object).
type session struct {
	claims    map[string]any
	userID    string
	sessionID string
	status    string // sts: "active", "pending", or empty
	orgID     string
	orgRole   string
	orgSlug   string
	actorID   string
}

func newSession(c map[string]any) *session {
	s := &session{claims: c}
	s.userID, _ = c["sub"].(string)
	s.sessionID, _ = c["sid"].(string)
	s.status, _ = c["sts"].(string)
	if v, _ := c["v"].(float64); v == 2 {
		if o, ok := c["o"].(map[string]any); ok {
			s.orgID, _ = o["id"].(string)
			s.orgSlug, _ = o["slg"].(string)
			if rol, ok := o["rol"].(string); ok && rol != "" {
				s.orgRole = "org:" + rol
			}
		}
	} else {
		s.orgID, _ = c["org_id"].(string)
		s.orgRole, _ = c["org_role"].(string)
		s.orgSlug, _ = c["org_slug"].(string)
	}
	if act, ok := c["act"].(map[string]any); ok {
		s.actorID, _ = act["sub"].(string)
	}
	return s
}
