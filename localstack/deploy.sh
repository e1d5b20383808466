#!/usr/bin/env bash
# Build the functions for this machine's architecture, then `cdklocal
# bootstrap` and `cdklocal deploy` the real stack (stage "local").
set -euo pipefail
# shellcheck source=localstack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need go node curl
[[ -x "$CDKLOCAL" ]] || die "cdklocal not installed: run make cdk-install"
ready || die "LocalStack is not running at $LOCALSTACK_ENDPOINT: run make localstack-up"

arch="$(host_arch)"
goarch=amd64
[[ "$arch" == arm64 ]] && goarch=arm64
assets="$STATE_DIR/bin"
log "building functions for linux/$goarch into $assets"
mkdir -p "$assets"
cd "$REPO_ROOT"
for dir in functions/*/; do
	fn="$(basename "$dir")"
	mkdir -p "$assets/$fn"
	CGO_ENABLED=0 GOOS=linux GOARCH="$goarch" \
		go build -tags lambda.norpc -trimpath -ldflags="-s -w" -o "$assets/$fn/bootstrap" "./functions/$fn"
done

context=(-c "stage=$LOCALSTACK_STAGE" -c "architecture=$arch" -c "assetsDir=$assets")
# cdklocal strips AWS_* variables unless allowed; keep the region.
export AWS_ENVAR_ALLOWLIST=AWS_REGION,AWS_DEFAULT_REGION
export AWS_ENDPOINT_URL="$LOCALSTACK_ENDPOINT"
# cdklocal needs an S3 endpoint with ".s3." in it when AWS_ENDPOINT_URL is set.
export AWS_ENDPOINT_URL_S3="${AWS_ENDPOINT_URL_S3:-http://s3.localhost.localstack.cloud:4566}"

log "cdklocal bootstrap aws://$LOCALSTACK_ACCOUNT/$LOCALSTACK_REGION"
"$CDKLOCAL" bootstrap --no-notices "${context[@]}" "aws://$LOCALSTACK_ACCOUNT/$LOCALSTACK_REGION"

log "cdklocal deploy $STACK_NAME ($arch)"
"$CDKLOCAL" deploy --no-notices --require-approval never "${context[@]}" \
	--outputs-file "$OUTPUTS_FILE" "$STACK_NAME"

log "deployed; outputs in $OUTPUTS_FILE"
log "key API: $LOCALSTACK_ENDPOINT/_aws/execute-api/$(output KeyApiId)/$LOCALSTACK_STAGE"
