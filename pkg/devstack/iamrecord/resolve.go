package iamrecord

import (
	"fmt"
	"strings"
)

// resolve finds the stack a call was made for and the ARN of its resource.
// A function's call belongs to the stack of the invoked function; a
// cold-start call (the caller is only an app function name) to the stack
// owning its resource; an invocation to the stack owning the function.
// reason is non-empty when the call cannot be accounted for.
func resolve(stacks []Stack, c rawCall) (stack int, call Call, reason string) {
	call = Call{Principal: c.principal, Action: c.action}
	switch c.principal {
	case PrincipalFunction:
		if strings.HasPrefix(c.caller, "arn:") {
			for i, s := range stacks {
				if fn, ok := functionByARN(s, c.caller); ok {
					call.Function = fn
					res, why := resourceIn(s, c.target)
					if why != "" {
						return 0, Call{}, why
					}
					call.Resource = res
					return i, call, ""
				}
			}
			return 0, Call{}, "the invoked function belongs to no registered stack"
		}
		if c.caller == "" {
			return 0, Call{}, "made outside any function invocation and without a ColdStart label"
		}
		call.Function = c.caller
		if c.target.kind == targetAny {
			return 0, Call{}, "a cold-start call with no resource cannot be placed in a stack"
		}
		for i, s := range stacks {
			if res, why := resourceIn(s, c.target); why == "" {
				call.Resource = res
				return i, call, ""
			}
		}
		return 0, Call{}, "its resource belongs to no registered stack"
	case PrincipalStateMachine, PrincipalScheduler:
		for i, s := range stacks {
			if fn, ok := functionByNameOrARN(s, c.target.name); ok {
				call.Resource = s.Functions[fn]
				if c.principal == PrincipalScheduler {
					call.Function = fn // each schedule has its own role
				}
				return i, call, ""
			}
		}
		return 0, Call{}, "the invoked function belongs to no registered stack"
	}
	return 0, Call{}, fmt.Sprintf("unknown principal %q", c.principal)
}

// resourceIn is the ARN of t within stack s, or why t is not s's.
func resourceIn(s Stack, t target) (arn, reason string) {
	switch t.kind {
	case targetAny:
		return "*", ""
	case targetARN:
		return t.name, ""
	case targetTable:
		for _, table := range []string{s.StateTable, s.AuditTable} {
			if t.name == table || t.name == tableName(table) {
				if t.index != "" {
					return table + "/index/" + t.index, ""
				}
				return table, ""
			}
		}
		return "", "table " + t.name + " is not one of the stack's tables"
	case targetKey:
		for _, key := range []string{s.CAKey, s.DigestKey} {
			if t.name != "" && key != "" && (t.name == key || strings.HasSuffix(key, ":key/"+t.name)) {
				return key, ""
			}
		}
		return "", "key " + t.name + " is neither the stack's CA key nor its digest key"
	case targetTaskToken:
		if s.StateMachine == "" {
			return "", "the stack has no state machine"
		}
		return s.StateMachine, "" // the stack has one state machine
	case targetBus:
		if s.EventBus != "" && (t.name == s.EventBus || strings.HasSuffix(s.EventBus, ":event-bus/"+t.name)) {
			return s.EventBus, ""
		}
		return "", "event bus " + t.name + " is not the stack's"
	case targetFunction:
		if fn, ok := functionByNameOrARN(s, t.name); ok {
			return s.Functions[fn], ""
		}
		return "", "function " + t.name + " is not the stack's"
	case targetParameter, targetSecret:
		// In the region and account of the stack's tables (the emulator
		// serving DynamoDB serves these too, in each tier).
		parts := strings.Split(s.StateTable, ":")
		if len(parts) < 6 || s.Stage == "" {
			return "", "the stack's region, account or stage is unknown"
		}
		region, account := parts[3], parts[4]
		if t.kind == targetParameter {
			return "arn:" + parts[1] + ":ssm:" + region + ":" + account + ":parameter/" + strings.TrimPrefix(t.name, "/"), ""
		}
		// A secret's ARN ends with six random characters.
		return "arn:" + parts[1] + ":secretsmanager:" + region + ":" + account + ":secret:" + t.name + "-AbCdEf", ""
	}
	return "", "unknown target"
}

// tableName is the name part of a table ARN (…:table/<name>).
func tableName(arn string) string {
	_, name, _ := strings.Cut(arn, ":table/")
	return name
}

func functionByARN(s Stack, arn string) (string, bool) {
	for fn, a := range s.Functions {
		if a == arn {
			return fn, true
		}
	}
	return "", false
}

// functionByNameOrARN matches an ARN, or a deployed name (the ARN's last
// part: arn:aws:lambda:region:account:function:<name>).
func functionByNameOrARN(s Stack, nameOrARN string) (string, bool) {
	if fn, ok := functionByARN(s, nameOrARN); ok {
		return fn, true
	}
	for fn, a := range s.Functions {
		if strings.HasSuffix(a, ":function:"+nameOrARN) {
			return fn, true
		}
	}
	return "", false
}
