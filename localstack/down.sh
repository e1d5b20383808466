#!/usr/bin/env bash
# Stop LocalStack and remove its container, network and the local outputs.
# Nothing persists: the next localstack-up starts empty.
set -euo pipefail
# shellcheck source=localstack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need docker
docker info >/dev/null 2>&1 || die "no Docker engine reachable (docker info failed)"
compose down --remove-orphans
rm -f "$OUTPUTS_FILE" "$STATE_DIR/credentials.json" "$STATE_DIR"/*.headers "$STATE_DIR"/*.out
log "LocalStack stopped"
