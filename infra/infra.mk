# CDK app and LocalStack targets. The root Makefile includes this file
# (`include infra/infra.mk`); run every target from the repository root.
#
#   make cdk-install                 npm ci: the pinned cdk and cdklocal CLIs (infra/node_modules)
#   make synth                       build, then synthesize to cdk.out/ (cdk-nag runs; offline)
#   make cdk-bootstrap               once per account and region
#   make deploy                      build, then deploy; context via CDK_CONTEXT, e.g.
#                                    make deploy CDK_CONTEXT="-c stage=prod -c production=true"
#   make cdk-diff                    what a deploy would change
#   make destroy                     delete the stack (tables and the CA key are retained)
#   make infra-test                  assertions + cdk-nag tests (no build, no CLI needed)
#   make localstack-up|localstack-deploy|localstack-e2e|localstack-down
#
# See infra/README.md.

INFRA_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

# The target that builds bin/<function>/bootstrap (owned by the root Makefile).
INFRA_BUILD_DEP ?= build
# Extra CDK context and flags, e.g. CDK_CONTEXT="-c stage=prod -c alarmEmail=ops@example.com".
CDK_CONTEXT ?=
CDK_FLAGS ?=

# No network chatter: no notices, no version check, no telemetry; jsii
# stays quiet on Node 20.
CDK_ENV := JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=1
CDK := $(CDK_ENV) $(INFRA_DIR)/node_modules/.bin/cdk
CDK_COMMON := --no-notices $(CDK_CONTEXT) $(CDK_FLAGS)

.PHONY: cdk-install synth cdk-bootstrap deploy cdk-diff destroy infra-test \
	localstack-up localstack-deploy localstack-e2e localstack-down

# npm ci only when the lock file changed since the last install.
$(INFRA_DIR)/node_modules/.package-lock.json: $(INFRA_DIR)/package.json $(INFRA_DIR)/package-lock.json
	cd $(INFRA_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

cdk-install: $(INFRA_DIR)/node_modules/.package-lock.json

synth: $(INFRA_BUILD_DEP) cdk-install
	$(CDK) synth --quiet $(CDK_COMMON)

cdk-bootstrap: cdk-install
	$(CDK) bootstrap $(CDK_COMMON)

deploy: $(INFRA_BUILD_DEP) cdk-install
	$(CDK) deploy --require-approval broadening --outputs-file cdk.out/outputs.json $(CDK_COMMON)

cdk-diff: $(INFRA_BUILD_DEP) cdk-install
	$(CDK) diff $(CDK_COMMON)

destroy: $(INFRA_BUILD_DEP) cdk-install
	$(CDK) destroy $(CDK_COMMON)

infra-test:
	cd $(INFRA_DIR) && JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 go test -count=1 ./...

localstack-up:
	bash localstack/up.sh

localstack-deploy: cdk-install
	bash localstack/deploy.sh

localstack-e2e:
	bash localstack/e2e.sh

localstack-down:
	bash localstack/down.sh
