package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// callerRoles creates the IAM roles of callerRoles: roles people assume to
// call the IAM API, each session one person. The trust policy lets anyone
// in the account whose own IAM policy allows it assume the role, but only
// with a source identity that is theirs and that they cannot change:
//   - an IAM user sets it to their user name (sts:SourceIdentity =
//     ${aws:username});
//   - a session that already carries one (set by a SAML or OIDC identity
//     provider, or by an earlier hop) keeps it (= ${aws:SourceIdentity});
//     a source identity, once set, persists through role chaining.
//
// The IAM API's resource policy then refuses any session of the role
// whose name is not its source identity, so the session name the api
// function sees names the person (see sessionIdentityPolicy). The role
// may invoke the IAM API's stage and nothing else; what it may do there
// is the certctl roles the stage's IAM mapping gives it.
func (s *Stack) callerRoles() {
	account := "arn:" + *s.Partition() + ":iam::" + *s.Account() + ":root"
	invoke := s.IamAPI.ArnForExecuteApi(jsii.String("*"), jsii.String("/*"), jsii.String(s.Props.Stage))
	for _, name := range sortedKeys(s.Props.CallerRoles) {
		trust := func(sid, value string) map[string]any {
			return map[string]any{
				"Sid":       sid,
				"Effect":    "Allow",
				"Principal": map[string]any{"AWS": account},
				"Action":    []any{"sts:AssumeRole", "sts:SetSourceIdentity"},
				"Condition": map[string]any{"StringEquals": map[string]any{"sts:SourceIdentity": value}},
			}
		}
		awsiam.NewCfnRole(s.Stack, jsii.String("CallerRole"+construct(name)), &awsiam.CfnRoleProps{
			RoleName: jsii.String(s.Props.CallerRoleName(name)),
			Description: jsii.String(fmt.Sprintf("certctl-serverless %s: callers with the certctl roles %v; "+
				"every session carries its caller's source identity and is named after it", s.Props.Stage, s.Props.CallerRoles[name])),
			AssumeRolePolicyDocument: map[string]any{
				"Version": "2012-10-17",
				"Statement": []any{
					trust("IamUsersAsThemselves", "${aws:username}"),
					trust("SessionsKeepTheirSourceIdentity", "${aws:SourceIdentity}"),
				},
			},
			MaxSessionDuration: jsii.Number(3600),
			Policies: []any{&awsiam.CfnRole_PolicyProperty{
				PolicyName: jsii.String("InvokeIamApi"),
				PolicyDocument: map[string]any{
					"Version": "2012-10-17",
					"Statement": []any{map[string]any{
						"Sid": "InvokeIamApi", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": invoke,
					}},
				},
			}},
		})
		awscdk.NewCfnOutput(s.Stack, jsii.String("CallerRole"+construct(name)+"Arn"), &awscdk.CfnOutputProps{
			Value: awscdk.Fn_Join(jsii.String(""), &[]*string{
				jsii.String("arn:"), s.Partition(), jsii.String(":iam::"), s.Account(), jsii.String(":role/" + s.Props.CallerRoleName(name)),
			}),
			Description: jsii.String(fmt.Sprintf("Role for callers with %v: assume it with --source-identity <you> --role-session-name <you>", s.Props.CallerRoles[name])),
		})
	}
}
