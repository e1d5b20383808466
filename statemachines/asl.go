// Package statemachines holds the renewal state machine's one definition,
// statemachines/renewal.asl.json, embedded so the local harness and the
// tests run exactly the file CDK deploys, and a reading of its retry
// policies.
package statemachines

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
)

// RenewalASL is the renewal state machine in Amazon States Language, with
// ${...} placeholders for the function ARNs.
//
//go:embed renewal.asl.json
var RenewalASL string

// Retrier is one entry of a Task state's Retry list.
type Retrier struct {
	ErrorEquals     []string `json:"ErrorEquals"`
	IntervalSeconds *int     `json:"IntervalSeconds"`
	MaxAttempts     *int     `json:"MaxAttempts"`
	BackoffRate     *float64 `json:"BackoffRate"`
	MaxDelaySeconds *int     `json:"MaxDelaySeconds"`
}

// Task is a Task state that invokes a Lambda function.
type Task struct {
	State    string
	Resource string
	// Function is the placeholder naming the function, e.g.
	// "ApprovalWaitFunctionArn".
	Function string
	Retry    []Retrier
}

var placeholder = regexp.MustCompile(`^\$\{([A-Za-z0-9_]+)\}$`)

// Tasks lists the Lambda Task states of the definition.
func Tasks(asl string) ([]Task, error) {
	var m struct {
		States map[string]struct {
			Type       string `json:"Type"`
			Resource   string `json:"Resource"`
			Parameters struct {
				FunctionName string `json:"FunctionName"`
			} `json:"Parameters"`
			Retry []Retrier `json:"Retry"`
		} `json:"States"`
	}
	if err := json.Unmarshal([]byte(asl), &m); err != nil {
		return nil, fmt.Errorf("statemachines: %w", err)
	}
	var out []Task
	for name, st := range m.States {
		if st.Type != "Task" {
			continue
		}
		fn := placeholder.FindStringSubmatch(st.Parameters.FunctionName)
		if fn == nil {
			return nil, fmt.Errorf("statemachines: task %s: FunctionName %q is not a ${...} placeholder", name, st.Parameters.FunctionName)
		}
		out = append(out, Task{State: name, Resource: st.Resource, Function: fn[1], Retry: st.Retry})
	}
	return out, nil
}

// Retries reports whether r's ErrorEquals matches errorType as Step
// Functions matches it: by name, States.ALL for anything, States.TaskFailed
// for anything but States.Timeout.
func (r Retrier) Retries(errorType string) bool {
	for _, e := range r.ErrorEquals {
		switch {
		case e == errorType, e == "States.ALL":
			return true
		case e == "States.TaskFailed" && errorType != "States.Timeout":
			return true
		}
	}
	return false
}
