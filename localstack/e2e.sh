#!/usr/bin/env bash
# Run the end-to-end suite against the stack deployed in LocalStack, through
# the API-key REST API. Creates the demo keys (alice, bob, carol, admin)
# first. Extra `go test` flags: E2E_FLAGS="-run TestAuthErrors -v".
set -euo pipefail
# shellcheck source=localstack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need go node curl
cd "$REPO_ROOT"
mkdir -p "$STATE_DIR"
ready || die "LocalStack is not running at $LOCALSTACK_ENDPOINT: run make localstack-up"

key_api="$(output KeyApiId)"
iam_api="$(output IamApiId)"
state_table="$(output StateTableName)"
audit_table="$(output AuditTableName)"
stage="$(output Stage)"
# LocalStack serves REST APIs at /_aws/execute-api/<id>/<stage>/… (no DNS needed).
endpoint="$LOCALSTACK_ENDPOINT/_aws/execute-api/$key_api/$stage"
iam_endpoint="$LOCALSTACK_ENDPOINT/_aws/execute-api/$iam_api/$stage"

log "smoke: GET /health, /api/v1/health and /api/v1/openapi.json on both APIs (public on both)"
for base in "$endpoint" "$iam_endpoint"; do
	for path in /health /api/v1/health /api/v1/openapi.json; do
		curl -fsS "$base$path" >/dev/null || die "GET $base$path failed"
	done
done

# Scheduler never fires in LocalStack: run sweep and reaper once by hand
# (Lambda Invoke, SigV4-signed by curl with LocalStack's dummy credentials).
# A failure is reported, and fails the run, after the suite has run.
failed=()
for fn in sweep reaper; do
	log "invoking certctl-$stage-$fn directly"
	if ! curl -fsS --aws-sigv4 "aws:amz:$LOCALSTACK_REGION:lambda" --user "test:test" \
		-H 'Content-Type: application/json' -d '{"source":"certctl-localstack-e2e"}' \
		-D "$STATE_DIR/$fn.headers" -o "$STATE_DIR/$fn.out" \
		"$LOCALSTACK_ENDPOINT/2015-03-31/functions/certctl-$stage-$fn/invocations"; then
		log "WARNING: invoking $fn failed"
		failed+=("$fn invoke")
	elif grep -qi '^x-amz-function-error' "$STATE_DIR/$fn.headers"; then
		log "WARNING: $fn returned a function error: $(cat "$STATE_DIR/$fn.out")"
		failed+=("$fn")
	fi
done

creds="$STATE_DIR/credentials.json"
log "creating API keys (alice, bob, carol, admin) in $state_table"
declare -A roles=(
	[alice]="operator,approver"
	[bob]="operator,approver"
	[carol]="viewer"
	[admin]="admin"
)
umask 077
printf '{}' >"$creds"
for principal in alice bob carol admin; do
	secret="$(
		AWS_ENDPOINT_URL="$LOCALSTACK_ENDPOINT" \
			CERTCTL_STATE_TABLE="$state_table" CERTCTL_AUDIT_TABLE="$audit_table" \
			go run ./cmd/certctl bootstrap-key --state-table "$state_table" --audit-table "$audit_table" \
			--principal "$principal" --roles "${roles[$principal]}"
	)"
	[[ -n "$secret" ]] || die "bootstrap-key printed no key for $principal"
	node -e '
		const fs = require("fs");
		const [file, who, key] = process.argv.slice(1);
		const o = JSON.parse(fs.readFileSync(file, "utf8"));
		o[who] = key.trim();
		fs.writeFileSync(file, JSON.stringify(o, null, 2) + "\n", { mode: 0o600 });
	' "$creds" "$principal" "$secret"
done

log "go test ./e2e/... against $endpoint"
# LocalStack's free edition runs neither the REQUEST authorizer nor AWS_IAM
# checks; CERTCTL_E2E_TARGET lets the suite skip what cannot pass there.
target=localstack
[[ -n "${LOCALSTACK_AUTH_TOKEN:-}" ]] && target=localstack-pro
status=0
# shellcheck disable=SC2086 # E2E_FLAGS is a list of flags
CERTCTL_E2E_ENDPOINT="$endpoint" CERTCTL_E2E_CREDENTIALS="$creds" CERTCTL_E2E_TARGET="$target" \
	AWS_ENDPOINT_URL="$LOCALSTACK_ENDPOINT" \
	go test -count=1 ${E2E_FLAGS:-} ./e2e/... || status=$?
if ((${#failed[@]} > 0)); then
	log "direct invocations failed: ${failed[*]}"
	status=1
fi
exit "$status"
