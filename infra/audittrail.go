package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"
)

// The tamper-evident audit trail's AWS side (docs/audit-chain.md): the
// digest key, who may use it, and the alarms that say when someone
// touches either signing key or the digests stop.

// KeyChangeEvents are the KMS calls, recorded by CloudTrail, that alarm
// when made on the CA key or the digest key: deleting or disabling a key
// (every later digest or certificate fails; a deleted digest key leaves
// the old digests unverifiable) and replacing its policy (the only way to
// lift the key policy's Deny on kms:Sign).
var KeyChangeEvents = []string{"ScheduleKeyDeletion", "DisableKey", "PutKeyPolicy"}

// digestKey signs audit digests. Like the CA key it signs with
// ECC_NIST_P256 and only one function's role may Sign (permissions); it
// is its own key, so a compromise of the issue function cannot forge
// digests, nor the reverse. A production stage retains it (old digests
// stay verifiable after the stack is gone); deletion waits 30 days there,
// 7 elsewhere.
func (s *Stack) digestKey() {
	window := 7.0
	if s.Props.Production {
		window = 30
	}
	s.DigestKey = awskms.NewKey(s.Stack, jsii.String("DigestKey"), &awskms.KeyProps{
		Description:       jsii.String(fmt.Sprintf("certctl-serverless %s: signs audit digests (the audit chain's heads)", s.Props.Stage)),
		KeySpec:           awskms.KeySpec_ECC_NIST_P256,
		KeyUsage:          awskms.KeyUsage_SIGN_VERIFY,
		EnableKeyRotation: jsii.Bool(false), // KMS does not rotate asymmetric keys
		PendingWindow:     awscdk.Duration_Days(jsii.Number(window)),
		RemovalPolicy:     s.removal(),
		Alias:             jsii.String("alias/" + s.name("audit-digest")),
	})
}

// digestKeyPolicy: nobody but the digest function's role signs, whatever
// IAM says (an explicit Deny in the key policy wins over any Allow and
// any grant); everyone in the account whom IAM lets may read the public
// key and verify.
func (s *Stack) digestKeyPolicy() {
	s.DigestKey.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("OnlyDigestFunctionSigns"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
		Actions:    jsii.Strings("kms:Sign"),
		Resources:  jsii.Strings("*"),
		Conditions: &map[string]any{
			"ArnNotEquals": map[string]any{"aws:PrincipalArn": s.Roles[FnDigest].RoleArn()},
		},
	}), jsii.Bool(false))
	s.DigestKey.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AccountMayVerifyDigests"),
		Effect:     awsiam.Effect_ALLOW,
		Principals: &[]awsiam.IPrincipal{awsiam.NewAccountRootPrincipal()},
		Actions:    jsii.Strings("kms:GetPublicKey", "kms:Verify", "kms:DescribeKey"),
		Resources:  jsii.Strings("*"),
	}), jsii.Bool(false))
}

// keyChanges: an EventBridge rule on CloudTrail's record of the
// KeyChangeEvents for either signing key publishes the event (who, when,
// from where) to a topic of its own; an alarm watches that topic. Subscribe
// to the topic for the events themselves; the alarm goes where every alarm
// goes.
func (s *Stack) keyChanges() {
	topic := awssns.NewTopic(s.Stack, jsii.String("KeyChangesTopic"), &awssns.TopicProps{
		DisplayName: jsii.String(s.name("key-changes")),
		EnforceSSL:  jsii.Bool(true),
	})
	events := make([]any, 0, len(KeyChangeEvents))
	for _, e := range KeyChangeEvents {
		events = append(events, e)
	}
	s.KeyChanges = awsevents.NewRule(s.Stack, jsii.String("KeyChangesRule"), &awsevents.RuleProps{
		RuleName: jsii.String(s.name("key-changes")),
		Description: jsii.String(fmt.Sprintf("certctl-serverless %s: someone scheduled the deletion of, disabled or replaced the policy of "+
			"the CA key or the audit digest key (CloudTrail)", s.Props.Stage)),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.kms"),
			DetailType: jsii.Strings("AWS API Call via CloudTrail"),
			Detail: &map[string]any{
				"eventSource": []any{"kms.amazonaws.com"},
				"eventName":   events,
				"resources":   map[string]any{"ARN": []any{s.CAKey.KeyArn(), s.DigestKey.KeyArn()}},
			},
		},
	})
	s.KeyChanges.AddTarget(awseventstargets.NewSnsTopic(topic, nil))
	s.alarm(alarmSpec{id: "KeyChangesAlarm", name: "signing-key-changed", runbook: "signing-key-changed",
		desc: "Someone scheduled the deletion of, disabled, or replaced the key policy of the CA key or the audit digest key " +
			"(CloudTrail: ScheduleKeyDeletion, DisableKey, PutKeyPolicy). The event, with who made the call, is on the " +
			s.name("key-changes") + " topic and in CloudTrail.",
		metric: topic.MetricNumberOfMessagesPublished(&awscloudwatch.MetricOptions{
			Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum"),
		})})
}

// digestsStopped alarms when two digest periods pass without a digest
// written: the schedule was disabled or deleted, the function keeps
// failing, or its key cannot sign. Truncation after the last digest is
// what a digest cannot catch, so a gap in digests widens that window.
func (s *Stack) digestsStopped() {
	s.alarm(alarmSpec{id: "DigestsStoppedAlarm", name: "audit-digests-stopped", runbook: "audit-digests-stopped",
		desc: fmt.Sprintf("No audit digest was written in two periods of %s: the digest schedule is disabled or gone, the digest "+
			"function fails, or the digest key cannot sign.", FormatDuration(s.Props.DigestRate)),
		below: true, periods: 2, missing: awscloudwatch.TreatMissingData_BREACHING,
		metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:     jsii.String(MetricNamespace),
			MetricName:    jsii.String(MetricDigestsWritten),
			DimensionsMap: &map[string]*string{"stage": jsii.String(s.Props.Stage)},
			Statistic:     jsii.String("Sum"),
			Period:        awscdk.Duration_Seconds(jsii.Number(clampSeconds(s.Props.DigestRate, 300, 43200))),
		})})
}
