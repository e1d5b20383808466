package devstack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/certctl-serverless/certctl-serverless/pkg/app"
)

const (
	modulePath = "github.com/certctl-serverless/certctl-serverless"
	// StateMachineFile is the ASL file relative to the module root. CDK loads
	// the same file; there is no second definition.
	StateMachineFile = "statemachines/renewal.asl.json"
)

var placeholder = regexp.MustCompile(`\$\{[A-Za-z0-9_]+\}`)

// Definition returns the ASL with its ${...} placeholders replaced, failing
// on any placeholder it does not know, so a renamed one cannot slip through.
func Definition(asl string, functionARNs map[string]string) (string, error) {
	subst := map[string]string{
		"${ApprovalWaitFunctionArn}": functionARNs[app.FnApprovalWait],
		"${IssueFunctionArn}":        functionARNs[app.FnIssue],
		"${FinalizeFunctionArn}":     functionARNs[app.FnFinalize],
	}
	var unknown []string
	out := placeholder.ReplaceAllStringFunc(asl, func(p string) string {
		if v := subst[p]; v != "" {
			return v
		}
		unknown = append(unknown, p)
		return p
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("devstack: state machine: no value for %s", strings.Join(unknown, ", "))
	}
	return out, nil
}

func (s *Stack) createStateMachine(ctx context.Context, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("devstack: read state machine: %w", err)
	}
	def, err := Definition(string(raw), s.Functions)
	if err != nil {
		return err
	}
	out, err := sfn.NewFromConfig(s.AWSConfig).CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String(s.Prefix + "-renewal"),
		Type:       sfntypes.StateMachineTypeStandard,
		Definition: aws.String(def),
		RoleArn:    aws.String("arn:aws:iam::" + AccountID + ":role/" + s.Prefix + "-renewal"),
	})
	if err != nil {
		return fmt.Errorf("devstack: create state machine from %s: %w", path, err)
	}
	s.Config.StateMachineARN = aws.ToString(out.StateMachineArn)
	return nil
}

// stopExecutions aborts this stack's running executions (best effort).
func (s *Stack) stopExecutions(ctx context.Context) {
	client := sfn.NewFromConfig(s.AWSConfig)
	out, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{
		StateMachineArn: aws.String(s.Config.StateMachineARN),
		StatusFilter:    sfntypes.ExecutionStatusRunning,
		MaxResults:      1000,
	})
	if err != nil {
		return
	}
	for _, e := range out.Executions {
		_, _ = client.StopExecution(ctx, &sfn.StopExecutionInput{
			ExecutionArn: e.ExecutionArn,
			Error:        aws.String("LocalStackClosed"),
			Cause:        aws.String("the local stack was shut down"),
		})
	}
}

// resolveStateMachineFile returns path if set, else the ASL file in the
// module root, searched upwards from the working directory and then from
// this source file (for test binaries run elsewhere).
func resolveStateMachineFile(path string) (string, error) {
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("devstack: state machine file: %w", err)
		}
		return path, nil
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		if root, ok := findModuleRoot(dir); ok {
			return filepath.Join(root, StateMachineFile), nil
		}
	}
	return "", errors.New("devstack: cannot find " + StateMachineFile + ": run from inside the " + modulePath + " checkout or set Options.StateMachineFile")
}

// findModuleRoot walks up to the go.mod that declares our module. Other
// go.mod files (infra/ is its own module) are skipped.
func findModuleRoot(dir string) (string, bool) {
	for {
		if moduleOf(filepath.Join(dir, "go.mod")) == modulePath {
			if _, err := os.Stat(filepath.Join(dir, StateMachineFile)); err == nil {
				return dir, true
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func moduleOf(gomod string) string {
	f, err := os.Open(gomod)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}
