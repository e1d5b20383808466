# shellcheck shell=bash
# Shared settings and helpers for the localstack/*.sh scripts (sourced).
# shellcheck disable=SC2034 # the variables are used by the scripts that source this

LOCALSTACK_ENDPOINT="${LOCALSTACK_ENDPOINT:-http://localhost:4566}"
LOCALSTACK_REGION="${LOCALSTACK_REGION:-us-east-1}"
LOCALSTACK_STAGE="${LOCALSTACK_STAGE:-local}"
LOCALSTACK_ACCOUNT="000000000000"

LS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$LS_DIR/.." && pwd)"
STATE_DIR="$REPO_ROOT/.local/localstack"
OUTPUTS_FILE="$STATE_DIR/outputs.json"
STACK_NAME="certctl-$LOCALSTACK_STAGE"
CDKLOCAL="${CDKLOCAL:-$REPO_ROOT/infra/node_modules/.bin/cdklocal}"

# LocalStack accepts any credentials; these never leave the machine.
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_REGION="$LOCALSTACK_REGION" AWS_DEFAULT_REGION="$LOCALSTACK_REGION"
# Quiet, offline CDK CLI (no notices, version checks or telemetry).
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=1

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || die "$c is required but not installed"
	done
}

# compose runs Docker Compose (v2 plugin, or v1 docker-compose) on our file.
compose() {
	if docker compose version >/dev/null 2>&1; then
		docker compose -p certctl-localstack -f "$LS_DIR/docker-compose.yml" "$@"
	elif command -v docker-compose >/dev/null 2>&1; then
		docker-compose -p certctl-localstack -f "$LS_DIR/docker-compose.yml" "$@"
	else
		die "Docker Compose is required (docker compose or docker-compose)"
	fi
}

# host_arch prints the Lambda architecture matching this machine.
host_arch() {
	case "$(uname -m)" in
	x86_64 | amd64) echo x86_64 ;;
	aarch64 | arm64) echo arm64 ;;
	*) die "unsupported host architecture $(uname -m)" ;;
	esac
}

# output KEY prints one output of the deployed stack.
output() {
	[[ -f "$OUTPUTS_FILE" ]] || die "no $OUTPUTS_FILE: run make localstack-deploy first"
	# shellcheck disable=SC2016 # JavaScript, not shell
	node -e '
		const [file, stack, key] = process.argv.slice(1);
		const out = JSON.parse(require("fs").readFileSync(file, "utf8"))[stack] || {};
		if (!(key in out)) { console.error(`output ${key} missing from ${file}`); process.exit(1); }
		console.log(out[key]);
	' "$OUTPUTS_FILE" "$STACK_NAME" "$1"
}

# ready returns 0 once LocalStack answers its health endpoint.
ready() {
	curl -fsS --max-time 3 "$LOCALSTACK_ENDPOINT/_localstack/health" >/dev/null 2>&1
}
