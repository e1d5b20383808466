package domain

import (
	"errors"
	"strings"
	"testing"
)

func validProfile() *Profile {
	p := &Profile{ID: "prod-web", Name: "Production web", AllowedNames: []NamePattern{"**.example.com"}}
	p.ApplyDefaults()
	return p
}

func TestProfileDefaults(t *testing.T) {
	p := validProfile()
	if p.MaxValiditySeconds != 90*24*3600 || p.RenewBeforeSeconds != 30*24*3600 || p.IssuerID != "default" {
		t.Fatalf("defaults: %+v", p)
	}
	for _, alg := range []string{KeyECDSAP256, KeyECDSAP384, KeyRSA2048, KeyRSA4096} {
		if !p.AllowsKey(alg) {
			t.Errorf("default profile refuses %s", alg)
		}
	}
	if p.AllowsKey(KeyEd25519) || p.AllowsKey("RSA_1024") {
		t.Error("default profile allows a key it should not")
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestProfileValidationNamesTheField(t *testing.T) {
	cases := map[string]func(*Profile){
		"id":                     func(p *Profile) { p.ID = "Bad ID/../x" },
		"name":                   func(p *Profile) { p.Name = "" },
		"allowed_key_algorithms": func(p *Profile) { p.AllowedKeyAlgorithms = []string{"DSA_1024"} },
		"max_validity_seconds":   func(p *Profile) { p.MaxValiditySeconds = 10 },
		"renew_before_seconds":   func(p *Profile) { p.RenewBeforeSeconds = p.MaxValiditySeconds },
		"issuer_id":              func(p *Profile) { p.IssuerID = "UPPER" },
	}
	for field, mutate := range cases {
		p := validProfile()
		mutate(p)
		err := p.Validate()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: want an invalid-request error naming the field, got %v", field, err)
		}
	}
}

func TestRoles(t *testing.T) {
	a := Actor{ID: "x", Roles: ParseRoles("operator, viewer,bogus")}
	if len(a.Roles) != 2 || !a.Has(RoleViewer) || a.Has(RoleApprover) {
		t.Fatalf("roles: %v", a.Roles)
	}
	admin := Actor{Roles: []Role{RoleAdmin}}
	if !admin.Has(RoleApprover) || !admin.Has(RoleAuditor) {
		t.Fatal("admin must hold every role")
	}
	if (Actor{}).Has(RoleViewer) {
		t.Fatal("no roles must hold nothing")
	}
	if JoinRoles(ParseRoles("approver,operator")) != "approver,operator" {
		t.Fatal("JoinRoles is not the inverse of ParseRoles")
	}
}

func TestStates(t *testing.T) {
	for _, s := range []ApprovalState{ApprovalApproved, ApprovalBypassed} {
		if !s.AllowsIssuance() {
			t.Errorf("%s must allow issuance", s)
		}
	}
	for _, s := range []ApprovalState{ApprovalPending, ApprovalRejected, ApprovalExpired} {
		if s.AllowsIssuance() {
			t.Errorf("%s must not allow issuance", s)
		}
	}
	if _, ok := ParseApprovalState("Pending"); ok {
		t.Error("states are case-sensitive")
	}
	if !JobCancelled.Terminal() || JobAwaitingApproval.Terminal() {
		t.Error("terminal job statuses")
	}
	if !errors.Is(ErrSameActor, ErrForbidden) || !strings.Contains(ErrSameActor.Error(), "two-person integrity") {
		t.Error("ErrSameActor must be a 403 that says two-person integrity")
	}
}
