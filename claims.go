package clerkauth

import (
	"errors"
	"math/big"
	"strings"
	"unicode"
)

// session is what a verified session token says, decoded as @clerk/shared's
// jwtPayloadParser does (v1 org_* claims, or v2's compact "o" object with the
// fea × o.per × o.fpm permission bitmasks).
//
// Where Clerk's parser would take a claim of the wrong JSON type as it comes
// (a numeric org id, say), we take nothing, so every rule that needs it
// denies. Where Clerk's parser would throw (a fea element without a scope,
// a non-string o.per), malformed says why, and every rule denies.
type session struct {
	claims    map[string]any
	userID    string
	sessionID string
	status    string // sts: "active", "pending", or empty
	orgID     string
	orgRole   string // always "org:"-prefixed for v2; v1 carries it as issued
	orgSlug   string
	actorID   string

	// orgPermissions is orgPermissions of Clerk's auth object; hasOrgPermissions
	// is Array.isArray(orgPermissions), which has() requires.
	orgPermissions    []string
	hasOrgPermissions bool
	// features and plans are the raw fea and pla claims ("" when absent or
	// not a string), which has() reads for feature and plan questions.
	features string
	plans    string
	// actor is the act claim (impersonation), nil when absent.
	actor any
	// fva is the factor verification age claim, nil when absent.
	fva any

	malformed string
}

func newSession(c map[string]any) *session {
	s := &session{claims: c}
	s.userID, _ = c["sub"].(string)
	s.sessionID, _ = c["sid"].(string)
	s.status, _ = c["sts"].(string)
	s.features, _ = c["fea"].(string)
	s.plans, _ = c["pla"].(string)
	s.actor = c["act"]
	s.fva = c["fva"]
	if v, _ := c["v"].(float64); v == 2 {
		if jsTruthy(c["o"]) {
			s.decodeOrgV2(c)
		}
	} else {
		s.orgID, _ = c["org_id"].(string)
		s.orgRole, _ = c["org_role"].(string)
		s.orgSlug, _ = c["org_slug"].(string)
		if perms, ok := c["org_permissions"].([]any); ok {
			s.hasOrgPermissions = true
			for _, p := range perms {
				if p, ok := p.(string); ok {
					s.orgPermissions = append(s.orgPermissions, p)
				}
			}
		}
	}
	if act, ok := c["act"].(map[string]any); ok {
		s.actorID, _ = act["sub"].(string)
	}
	return s
}

// decodeOrgV2 is the "case 2" branch of jwtPayloadParser, for a truthy o.
func (s *session) decodeOrgV2(c map[string]any) {
	o, _ := c["o"].(map[string]any)
	s.orgID, _ = o["id"].(string)
	s.orgSlug, _ = o["slg"].(string)
	if rol, ok := o["rol"].(string); ok && rol != "" {
		s.orgRole = "org:" + rol
	}
	s.hasOrgPermissions = true
	if fea := c["fea"]; jsTruthy(fea) {
		if _, isString := fea.(string); !isString {
			s.malformed = "fea is not a string"
			return
		}
	}
	orgFeatures, _, err := splitByScope(s.features)
	if err != nil {
		s.malformed = err.Error()
		return
	}
	per, fpm := o["per"], o["fpm"]
	if !jsTruthy(per) || !jsTruthy(fpm) {
		return
	}
	perS, ok1 := per.(string)
	fpmS, ok2 := fpm.(string)
	if !ok1 || !ok2 {
		s.malformed = "o.per or o.fpm is not a string"
		return
	}
	s.orgPermissions = buildOrgPermissions(orgFeatures, perS, fpmS)
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

// jsTruthy is JavaScript's truthiness of a decoded JSON value.
func jsTruthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case float64:
		return v != 0 && v == v
	case string:
		return v != ""
	default:
		return true
	}
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
