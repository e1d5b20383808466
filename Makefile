# certctl-serverless. `make dev` runs everything locally (embedded emulator,
# no Docker, no AWS account); `make test` runs every test.
SHELL := /bin/bash
GO    ?= go
FUNCTIONS := api authorizer approval-wait issue finalize sweep reaper digest
GOARCH_LAMBDA ?= arm64
# The version every binary reports (certctl version, GET /health): the
# nearest v* tag, else the commit, else "dev"; `make release VERSION=v1.2.0`.
VERSION ?= $(shell git describe --tags --match 'v*' --always --dirty 2>/dev/null || echo dev)
VERSION_LDFLAGS := -X github.com/certctl-serverless/certctl-serverless/pkg/version.version=$(VERSION)
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags="-s -w $(VERSION_LDFLAGS)"
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build cli dev test test-go test-strict iam-check lint bench chaos model iam-conformance release clean
all: build

## build: one bootstrap per function under bin/<fn>/ (provided.al2023, arm64 by default).
build:
	@for fn in $(FUNCTIONS); do \
	  mkdir -p bin/$$fn && \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH_LAMBDA) $(GO) build $(LAMBDA_FLAGS) -o bin/$$fn/bootstrap ./functions/$$fn || exit 1; \
	done
	@ls -l bin/*/bootstrap | awk '{printf "%-32s %6.1f MB\n", $$9, $$5/1048576}'

## cli: the certctl command for this machine, stamped with VERSION, as bin/certctl.
cli:
	$(GO) build -trimpath -ldflags="-s -w $(VERSION_LDFLAGS)" -o bin/certctl ./cmd/certctl

## release: the CLI for every platform and one zip per function (bootstrap,
## linux/arm64), with SHA256SUMS, in dist/. Offline once the module cache is filled.
CLI_PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
DIST := dist
release: build
	@rm -rf $(DIST) && mkdir -p $(DIST)
	@for p in $(CLI_PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags="-s -w $(VERSION_LDFLAGS)" \
	    -o $(DIST)/certctl_$(VERSION)_$${os}_$${arch}$$ext ./cmd/certctl || exit 1; \
	done
	@for fn in $(FUNCTIONS); do \
	  $(GO) run ./cmd/distpack zip $(DIST)/certctl-$${fn}_$(VERSION)_linux_$(GOARCH_LAMBDA).zip bin/$$fn/bootstrap || exit 1; \
	done
	@$(GO) run ./cmd/distpack sums $(DIST)
	@ls -l $(DIST) | awk 'NR>1 {printf "%-60s %6.1f MB\n", $$9, $$5/1048576}'

## dev: the whole system on the embedded emulator at CERTCTL_LOCAL_ADDR (default 127.0.0.1:8080).
dev:
	$(GO) run ./cmd/certctl-local

## test: lint; every Go test on the embedded emulator; the e2e, fault and
## store suites again with DynamoDB and KMS on moto (the strict tier); the
## CDK app's tests; and the IAM conformance check of every AWS call the two
## e2e runs recorded against the synthesized roles.
test: lint test-go test-strict infra-test iam-check

IAM_RECORD_DIR := $(CURDIR)/.local/iam

test-go:
	@mkdir -p $(IAM_RECORD_DIR) && rm -f $(IAM_RECORD_DIR)/kumo.json
	CERTCTL_IAM_RECORD=$(IAM_RECORD_DIR)/kumo.json $(GO) test -count=1 ./...

## test-strict: the strict tier (needs moto_server: pip install "moto[server]").
test-strict:
	@mkdir -p $(IAM_RECORD_DIR) && rm -f $(IAM_RECORD_DIR)/moto.json
	CERTCTL_IAM_RECORD=$(IAM_RECORD_DIR)/moto.json $(GO) run ./cmd/with-moto -- $(GO) test -count=1 ./e2e/... ./pkg/store/...

## iam-check: evaluate the calls test-go and test-strict recorded.
iam-check:
	cd infra && JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 \
	  CERTCTL_IAM_CALLS=$(IAM_RECORD_DIR)/kumo.json,$(IAM_RECORD_DIR)/moto.json \
	  $(GO) test -count=1 -run '^TestIAMConformance$$' .

## chaos: random fault schedules on the strict tier for CHAOS_SECONDS (120);
## the last line is "chaos: N scenarios, F faults injected, V invariant violations, E events delivered".
CHAOS_SECONDS ?= 120
chaos:
	@mkdir -p .local && rm -f .local/chaos-summary.txt
	@status=0; CHAOS_SECONDS=$(CHAOS_SECONDS) CHAOS_SUMMARY=$(CURDIR)/.local/chaos-summary.txt \
	  $(GO) run ./cmd/with-moto -- $(GO) test -count=1 -timeout 0 -run '^TestChaos$$' -v ./e2e/chaos \
	  > .local/chaos.log 2>&1 || status=$$?; \
	grep 'violation:' .local/chaos.log | head -50 || true; \
	cat .local/chaos-summary.txt 2>/dev/null || { tail -20 .local/chaos.log; echo "chaos: the run did not finish"; exit 1; }; \
	exit $$status

## model: random operation sequences by random actors for MODEL_SECONDS (600), strict tier.
MODEL_SECONDS ?= 600
model:
	MODEL_SECONDS=$(MODEL_SECONDS) $(GO) run ./cmd/with-moto -- $(GO) test -count=1 -timeout 0 -run '^TestModel$$' -v ./e2e/chaos

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@if command -v shellcheck >/dev/null; then shellcheck localstack/*.sh .ci/run; else echo "shellcheck not installed: scripts not checked"; fi

## bench: AWS calls per API operation, what the audit chain costs each
## transition (calls, transaction items, latency, conflicts under concurrent
## decisions), state-machine path length, and each function's binary size
## and cold-start init against a bare function. The certctl_bench tag adds
## the unchained store the chain's cost is measured against.
bench:
	$(GO) test -count=1 -tags certctl_bench -run '^$$' -bench . -benchtime 20x ./bench/...

## iam-conformance: record every AWS call the functions make in both e2e tiers
## (embedded emulator, then DynamoDB and KMS on moto), then check each against
## the synthesized roles. The check runs even if an e2e test failed.
iam-conformance:
	@mkdir -p $(IAM_RECORD_DIR) && rm -f $(IAM_RECORD_DIR)/kumo.json $(IAM_RECORD_DIR)/moto.json
	@status=0; \
	CERTCTL_IAM_RECORD=$(IAM_RECORD_DIR)/kumo.json $(GO) test -count=1 ./e2e/ || status=1; \
	CERTCTL_IAM_RECORD=$(IAM_RECORD_DIR)/moto.json $(GO) run ./cmd/with-moto -- $(GO) test -count=1 ./e2e/ || status=1; \
	cd infra && JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 \
	  CERTCTL_IAM_CALLS=$(IAM_RECORD_DIR)/kumo.json,$(IAM_RECORD_DIR)/moto.json \
	  $(GO) test -count=1 -v -run '^TestIAMConformance$$' . || status=1; \
	exit $$status

clean:
	rm -rf bin cdk.out .local dist

include infra/infra.mk
