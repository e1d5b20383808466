package domain

import (
	"slices"
	"strings"
)

// ActorType distinguishes people and machines acting through the API from the
// system's own scheduled actions.
type ActorType string

// Actor types recorded in audit rows.
const (
	ActorUser   ActorType = "User"
	ActorSystem ActorType = "System"
)

// System actors. They never authenticate; they only appear in records.
const (
	SystemReaper    = "system-reaper"
	SystemBypass    = "system-bypass"
	SystemScheduler = "system-scheduler"
	SystemWorkflow  = "system-workflow"
)

// BootstrapActor creates the first keys, with AWS credentials.
const BootstrapActor = "bootstrap"

// IsSystemActor reports ids reserved for the system's own actors: every
// "system-…" name and "bootstrap".
func IsSystemActor(id string) bool {
	return strings.HasPrefix(id, "system-") || id == BootstrapActor
}

// Role grants a set of permissions to a principal.
type Role string

// Roles. Admin implies every other role.
const (
	RoleAdmin    Role = "admin"
	RoleOperator Role = "operator"
	RoleApprover Role = "approver"
	RoleViewer   Role = "viewer"
	RoleAuditor  Role = "auditor"
)

// ParseRole validates a role name.
func ParseRole(s string) (Role, bool) {
	switch r := Role(s); r {
	case RoleAdmin, RoleOperator, RoleApprover, RoleViewer, RoleAuditor:
		return r, true
	}
	return "", false
}

// Actor is an authenticated caller: a canonical principal id plus its roles.
type Actor struct {
	ID    string
	Type  ActorType
	Roles []Role
	// Aliases are other canonical ids the same caller answers to: for an
	// IAM caller whose session is a person, the role it came through, and
	// for one linked to a key principal, the person. Approver pools match
	// them, and two-person integrity treats a request made under any of
	// them as the caller's own (merging, never splitting).
	Aliases []string
}

// Is reports whether id names this actor: its canonical id, one of its
// aliases, or the person an id of an older spelling names (a role session
// or user id recorded before sessions became persons).
func (a Actor) Is(id string) bool {
	if id == "" {
		return false
	}
	if id == a.ID || slices.Contains(a.Aliases, id) {
		return true
	}
	if p := IAMPersonOf(id); p != "" {
		return p == a.ID || slices.Contains(a.Aliases, p)
	}
	return false
}

// Has reports whether the actor holds any of the given roles. Admin holds all.
func (a Actor) Has(roles ...Role) bool {
	for _, have := range a.Roles {
		if have == RoleAdmin {
			return true
		}
		for _, want := range roles {
			if have == want {
				return true
			}
		}
	}
	return false
}

// ParseRoles splits a comma-separated role list, dropping unknown names.
func ParseRoles(csv string) []Role {
	var roles []Role
	for _, part := range strings.Split(csv, ",") {
		if r, ok := ParseRole(strings.TrimSpace(part)); ok {
			roles = append(roles, r)
		}
	}
	return roles
}

// JoinRoles is the inverse of ParseRoles.
func JoinRoles(roles []Role) string {
	parts := make([]string, len(roles))
	for i, r := range roles {
		parts[i] = string(r)
	}
	return strings.Join(parts, ",")
}
