package domain

import "testing"

func TestIAMPersonOf(t *testing.T) {
	for id, want := range map[string]string{
		"iam:aws:123456789012:role/awsreservedsso_certops_1/alice@example.com": "iam:aws:person/alice@example.com",
		"iam:aws:210987654321:role/certapprovers/alice@example.com":            "iam:aws:person/alice@example.com",
		"iam:aws:123456789012:user/alice":                                      "iam:aws:person/alice",
		"iam:aws-us-gov:123456789012:user/alice":                               "iam:aws-us-gov:person/alice",
		"iam:aws:123456789012:role/certops":                                    "",
		"iam:aws:123456789012:federated-user/alice":                            "",
		"iam:aws:123456789012:root":                                            "",
		"iam:aws:person/alice":                                                 "",
		"alice":                                                                "",
	} {
		if got := IAMPersonOf(id); got != want {
			t.Errorf("IAMPersonOf(%q) = %q, want %q", id, got, want)
		}
	}
	if !IsIAMPerson("iam:aws:person/alice@example.com") || IsIAMPerson("iam:aws:123456789012:user/alice") || IsIAMPerson("iam:aws:person/") {
		t.Error("IsIAMPerson")
	}
}

// An actor is its id, its aliases, and the person an older spelling of a
// session or user id names (a request made before sessions were persons).
func TestActorIs(t *testing.T) {
	erin := Actor{ID: "iam:aws:person/erin@example.com", Aliases: []string{"iam:aws:123456789012:role/awsreservedsso_certapprovers_2"}}
	for _, id := range []string{
		"iam:aws:person/erin@example.com",
		"iam:aws:123456789012:role/awsreservedsso_certapprovers_2",
		"iam:aws:123456789012:role/awsreservedsso_certops_1/erin@example.com",
	} {
		if !erin.Is(id) {
			t.Errorf("erin is not %s", id)
		}
	}
	for _, id := range []string{"", "iam:aws:person/frank@example.com", "iam:aws:123456789012:role/awsreservedsso_certops_1", "erin"} {
		if erin.Is(id) {
			t.Errorf("erin is %s", id)
		}
	}
	linked := Actor{ID: "alice", Aliases: []string{"iam:aws:person/alice"}}
	if !linked.Is("iam:aws:123456789012:user/alice") || !linked.Is("alice") {
		t.Error("a linked person is the principal and the person")
	}
}

// A pool naming a role admits the people who come through it.
func TestPoolAdmitsARoleAlias(t *testing.T) {
	pool := &ApproverPool{Principals: []string{"iam:aws:123456789012:role/awsreservedsso_certapprovers_2"}}
	in := Actor{ID: "iam:aws:person/erin@example.com", Aliases: []string{"iam:aws:123456789012:role/awsreservedsso_certapprovers_2"}}
	out := Actor{ID: "iam:aws:person/erin@example.com", Aliases: []string{"iam:aws:123456789012:role/awsreservedsso_certops_1"}}
	if !pool.Allows(in) || pool.Allows(out) {
		t.Fatalf("pool: in %v, out %v", pool.Allows(in), pool.Allows(out))
	}
	if pool.Allows(Actor{ID: "iam:aws:123456789012:role/awsreservedsso_certapprovers_2/erin"}) {
		t.Fatal("an id that merely starts with the role is not in the pool")
	}
}
