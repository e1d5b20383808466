package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
	"github.com/certctl-serverless/certctl-serverless/pkg/workflow"
)

// deliveryProfile creates an ungated profile (bob approves its creation)
// publishing to a parameter and a secret named after each certificate.
func deliveryProfile(t *testing.T) (id, parameter, secret string) {
	t.Helper()
	id = uniq("deliv")
	stage := stack.Config.Stage
	parameter, secret = "/certctl/"+stage+"/"+id+"/{certificate_id}", "certctl/"+stage+"/"+id+"/{certificate_id}"
	r := must(t, http.StatusAccepted, "alice", "POST", "/api/v1/profiles", map[string]any{
		"id": id, "name": "Delivered " + id, "allowed_names": []string{"**." + zone(id)},
		"delivery": map[string]any{"ssm_parameter": parameter, "secret": secret},
	})
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+r.str("approval_id")+"/approve", nil)
	return id, parameter, secret
}

func parameterValue(t *testing.T, name string) string {
	t.Helper()
	out, err := ssm.NewFromConfig(stack.AWSConfig).GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String(name)})
	if err != nil {
		t.Fatalf("parameter %s: %v", name, err)
	}
	return aws.ToString(out.Parameter.Value)
}

func secretValue(t *testing.T, name string) string {
	t.Helper()
	out, err := secretsmanager.NewFromConfig(stack.AWSConfig).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		t.Fatalf("secret %s: %v", name, err)
	}
	return aws.ToString(out.SecretString)
}

// waitDelivery polls a job until its delivery has status want.
func waitDelivery(t *testing.T, jobID, want string) map[string]any {
	t.Helper()
	var d map[string]any
	eventually(t, "job "+jobID+"'s delivery to be "+want, func() bool {
		d, _ = must(t, http.StatusOK, "carol", "GET", "/api/v1/jobs/"+jobID, nil).Body["delivery"].(map[string]any)
		return d != nil && d["status"] == want
	})
	return d
}

func chainOf(t *testing.T, certID, jobID string) string {
	t.Helper()
	for _, v := range must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+certID+"/versions", nil).Body["data"].([]any) {
		if m := v.(map[string]any); m["job_id"] == jobID {
			return m["pem_chain"].(string)
		}
	}
	t.Fatalf("no version of %s by job %s", certID, jobID)
	return ""
}

// Each issued version is published to the SSM parameter and the Secrets
// Manager secret its profile names (the chain only), right after issuance;
// a renewal publishes over it. Targets outside the stage's prefixes are
// refused.
func TestDeliveryPublishesToSSMAndSecretsManager(t *testing.T) {
	embeddedOnly(t)
	profile, parameter, secret := deliveryProfile(t)
	created := newCert(t, "alice", profile)
	id, jobID := certID(created), created.str("job_id")
	waitJob(t, jobID, "Completed")
	d := waitDelivery(t, jobID, "delivered")
	param, sec := strings.ReplaceAll(parameter, "{certificate_id}", id), strings.ReplaceAll(secret, "{certificate_id}", id)
	if d["ssm_parameter"] != param || d["secret"] != sec || d["attempts"] != float64(1) || d["delivered_at"] == nil {
		t.Fatalf("delivery %v", d)
	}
	chain := chainOf(t, id, jobID)
	if got := parameterValue(t, param); got != chain {
		t.Fatalf("parameter %s holds %q, want the chain", param, got)
	}
	if got := secretValue(t, sec); got != chain || strings.Contains(got, "PRIVATE") {
		t.Fatalf("secret %s holds %q, want the chain", sec, got)
	}

	r := must(t, http.StatusAccepted, "alice", "POST", "/api/v1/certificates/"+id+"/renew", nil)
	renewal := r.str("job_id")
	waitJob(t, renewal, "Completed")
	waitDelivery(t, renewal, "delivered")
	if chain2 := chainOf(t, id, renewal); parameterValue(t, param) != chain2 || secretValue(t, sec) != chain2 {
		t.Fatal("the targets do not hold the renewed version")
	}

	stage := stack.Config.Stage
	for _, bad := range []map[string]any{
		{"ssm_parameter": "/elsewhere/x"},
		{"ssm_parameter": "/certctl/not-" + stage + "/x"},
		{"secret": "certctl/not-" + stage + "/x"},
		{"secret": "certctl/" + stage + "/bad name"},
		{"ssm_parameter": "/certctl/" + stage + "/x", "private_key": "no"},
	} {
		must(t, http.StatusBadRequest, "alice", "POST", "/api/v1/profiles", map[string]any{
			"name": "bad", "requires_approval": true, "allowed_names": []string{"**.bad.example.com"}, "delivery": bad,
		})
	}
	// Changing the targets of a gated profile is a gated edit.
	gated := newProfile(t, true)
	r = must(t, http.StatusAccepted, "alice", "PUT", "/api/v1/profiles/"+gated, map[string]any{"delivery": map[string]any{"secret": "certctl/" + stage + "/" + gated}})
	must(t, http.StatusForbidden, "alice", "POST", "/api/v1/approvals/"+r.str("approval_id")+"/approve", nil)
	must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+r.str("approval_id")+"/approve", nil)
	if p := profileOf(t, gated); p.Body["delivery"].(map[string]any)["secret"] != "certctl/"+stage+"/"+gated {
		t.Fatalf("profile after the approved edit: %s", p.Raw)
	}
}

// A target that refuses the write (here a secret scheduled for deletion)
// never blocks issuance: the job shows the delivery retrying with the
// error, and the reaper delivers once the target accepts writes again.
func TestDeliveryFailureIsVisibleAndRetriedByTheReaper(t *testing.T) {
	embeddedOnly(t)
	ctx := context.Background()
	profile, parameter, secret := deliveryProfile(t)
	id := uniq("mc")
	sec := strings.ReplaceAll(secret, "{certificate_id}", id)
	sm := secretsmanager.NewFromConfig(stack.AWSConfig)
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(sec), SecretString: aws.String("placeholder")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(sec), RecoveryWindowInDays: aws.Int64(7)}); err != nil {
		t.Fatal(err)
	}

	cn := id + "." + zone(profile)
	created := must(t, http.StatusCreated, "alice", "POST", "/api/v1/certificates", map[string]any{
		"id": id, "common_name": cn, "profile_id": profile, "csr": newCSR(t, cn, cn),
	})
	jobID := created.str("job_id")
	waitJob(t, jobID, "Completed")
	if c := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+id, nil); c.str("status") != "Active" {
		t.Fatalf("certificate after a failed delivery: %s", c.Raw)
	}
	d := waitDelivery(t, jobID, "retrying")
	if msg, _ := d["last_error"].(string); !strings.Contains(msg, "secret "+sec) || d["attempts"] != float64(1) {
		t.Fatalf("delivery %v", d)
	}
	chain := chainOf(t, id, jobID)
	if parameterValue(t, strings.ReplaceAll(parameter, "{certificate_id}", id)) != chain {
		t.Fatal("the parameter, which accepted the write, does not hold the chain")
	}
	rows := must(t, http.StatusOK, "admin", "GET", "/api/v1/audit?resource_id="+id+"&action=certificate.delivery_failed", nil).Body["data"].([]any)
	if len(rows) != 1 {
		t.Fatalf("delivery_failed rows: %v", rows)
	}

	// The target is fixed (the secret deleted for good: the next delivery
	// creates it); the reaper (the real function) retries what was queued
	// before its grace period, so the item is dated back.
	if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(sec), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	backdateDelivery(t, id, jobID)
	out, err := stack.Invoke(ctx, app.FnReaper, map[string]string{"source": "certctl-scheduler", "schedule": "reaper"})
	if err != nil {
		t.Fatalf("reaper: %v", err)
	}
	var res workflow.ReapResult
	if err := json.Unmarshal(out, &res); err != nil || res.Delivered < 1 {
		t.Fatalf("reaper: %s %v", out, err)
	}
	d = waitDelivery(t, jobID, "delivered")
	if d["attempts"] != float64(2) || d["last_error"] != nil {
		t.Fatalf("delivery %v", d)
	}
	if secretValue(t, sec) != chain {
		t.Fatal("the secret does not hold the chain")
	}
}

// backdateDelivery moves a queued delivery to the start of the queue, as
// if it had waited past the reaper's grace period.
func backdateDelivery(t *testing.T, certID, jobID string) {
	t.Helper()
	_, err := dynamodb.NewFromConfig(stack.AWSConfig).UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: aws.String(stack.Config.StateTable),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "CERT#" + certID}, "sk": &types.AttributeValueMemberS{Value: "DELIVERY#" + jobID},
		},
		UpdateExpression:          aws.String("SET #s = :s"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeNames:  map[string]string{"#s": "pending_sk"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: "2000-01-01T00:00:00Z#" + jobID}},
	})
	if err != nil {
		t.Fatalf("backdate the delivery of %s: %v", jobID, err)
	}
}
