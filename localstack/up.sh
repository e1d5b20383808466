#!/usr/bin/env bash
# Start LocalStack (pinned image, Docker socket mounted) and wait until ready.
set -euo pipefail
# shellcheck source=localstack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need docker curl
docker info >/dev/null 2>&1 || die "no Docker engine reachable (docker info failed): start Docker first"
if [[ -n "${LOCALSTACK_AUTH_TOKEN:-}" ]]; then
	log "LOCALSTACK_AUTH_TOKEN is set: passing it to the container"
fi
compose up -d
log "waiting for LocalStack at $LOCALSTACK_ENDPOINT"
for _ in $(seq 1 90); do
	if ready; then
		log "LocalStack is ready"
		exit 0
	fi
	sleep 2
done
compose logs --tail 50 >&2 || true
die "LocalStack did not become ready within 3 minutes"
