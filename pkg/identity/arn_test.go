package identity

import "testing"

func TestCanonicalARNVariantsAreOneActor(t *testing.T) {
	same := []string{
		"arn:aws:sts::123456789012:assumed-role/CertOps/alice@example.com",
		"arn:aws:sts::123456789012:assumed-role/certops/ALICE@example.com",
		" arn:aws:sts::123456789012:assumed-role/CERTOPS/alice@EXAMPLE.com ",
		"arn:AWS:STS::123456789012:assumed-role/CertOps/alice@example.com",
		"arn:aws:sts::123456789012:Assumed-Role/CertOps/alice@example.com",
	}
	want, err := CanonicalARN(same[0])
	if err != nil {
		t.Fatal(err)
	}
	if want != "iam:aws:123456789012:role/certops/alice@example.com" {
		t.Fatalf("canonical form: %s", want)
	}
	for _, v := range same[1:] {
		got, err := CanonicalARN(v)
		if err != nil || got != want {
			t.Errorf("%q -> %q, %v; want %q", v, got, err, want)
		}
	}
	users := []string{"arn:aws:iam::123456789012:user/Bob", "arn:aws:iam::123456789012:user/team/a/bob"}
	u0, _ := CanonicalARN(users[0])
	u1, _ := CanonicalARN(users[1])
	if u0 != u1 || u0 != "iam:aws:123456789012:user/bob" {
		t.Errorf("user paths and case: %q %q", u0, u1)
	}
}

func TestCanonicalARNKeepsDistinctActorsApart(t *testing.T) {
	distinct := []string{
		"arn:aws:sts::123456789012:assumed-role/CertOps/alice",
		"arn:aws:sts::123456789012:assumed-role/CertOps/bob",
		"arn:aws:sts::123456789012:assumed-role/Other/alice",
		"arn:aws:sts::210987654321:assumed-role/CertOps/alice",
		"arn:aws-us-gov:sts::123456789012:assumed-role/CertOps/alice",
		"arn:aws:iam::123456789012:user/alice",
		"arn:aws:iam::123456789012:role/CertOps",
	}
	seen := map[string]string{}
	for _, arn := range distinct {
		c, err := CanonicalARN(arn)
		if err != nil {
			t.Fatalf("%s: %v", arn, err)
		}
		if prev, dup := seen[c]; dup {
			t.Fatalf("%s and %s collapse to %s", prev, arn, c)
		}
		seen[c] = arn
	}
}

func TestCanonicalARNRejectsJunk(t *testing.T) {
	for _, bad := range []string{
		"", "alice", "arn:aws:sts::123:assumed-role/R/s", "arn:aws:s3:::bucket",
		"arn:aws:sts::123456789012:assumed-role/R", "arn:aws:sts::123456789012:assumed-role/R/s/extra",
		"arn:aws:iam::123456789012:group/admins", "arn:aws:sts::12345678901x:assumed-role/R/s",
	} {
		if c, err := CanonicalARN(bad); err == nil {
			t.Errorf("%q accepted as %q", bad, c)
		}
	}
	if RoleName("iam:aws:123456789012:role/certops/alice") != "certops" || RoleName("iam:aws:123456789012:user/bob") != "" {
		t.Error("RoleName")
	}
}
