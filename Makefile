# One Makefile for people and CI. `make test` is the whole test suite (docs/testing.md, .ci/run).
SHELL := /bin/bash
CARGO ?= cargo
SAMPLES ?= tests/fixtures/grycap
BENCH_DIR ?= bench-out

.PHONY: sample fmt lint unit integration template lambda-build report-check test bench bench-ingest bench-burst bench-org bench-backfill eval build deploy test-env clean-bench

## Replay the bundled sample logs and print what was found.
sample:
	$(CARGO) run --release -q -p trailsight-cli -- replay $(SAMPLES) --top 10 --format table

fmt:
	$(CARGO) fmt --all

## Formatting and clippy, warnings denied.
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p trailsight-cli --all-targets --features aws -- -D warnings

## Installs what the tests need (Python venv and tools), idempotently.
test-env:
	bash scripts/test-env.sh

## Unit tests (in-memory ports, the CLI end to end); the moto-backed crate runs in `integration`.
unit:
	$(CARGO) test --workspace --exclude trailsight-it

## Integration tests: real SDK adapters and handlers against a moto server started on a free
## port, then the real ingest binary under `cargo lambda watch`, invoked with `cargo lambda invoke`.
integration: test-env
	bash scripts/with-moto.sh bash -c '$(CARGO) test -p trailsight-it && bash scripts/lambda-e2e.sh'

## The SAM template and the member role: sam validate --lint, cfn-lint, the template tests
## (alarm topics, bus policy, rules, member role...) and its IAM checked against the code.
template: test-env
	AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 .venv/bin/sam validate --lint
	.venv/bin/cfn-lint template.yaml member-role.yaml
	.venv/bin/python tests/scripts/check_template.py
	.venv/bin/python scripts/event_schemas.py --check
	.venv/bin/python tests/scripts/check_iam.py --self-test

## The three functions built by `sam build`, the path users take (rust-cargolambda: cargo-lambda
## with zig, arm64, provided.al2023), then checked to be arm64 Lambda bootstraps.
lambda-build: test-env
	PATH="$(CURDIR)/.venv/bin:$$PATH" AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 sam build
	.venv/bin/python tests/scripts/check_bootstrap.py .aws-sam/build/IngestFunction/bootstrap .aws-sam/build/RemediateFunction/bootstrap .aws-sam/build/BackfillFunction/bootstrap

## The HTML report in headless Chromium: the sample's report and a 500-insight one open without
## console errors, every insight charted, tables sorting and filtering; load times printed.
report-check: test-env
	bash scripts/report-check.sh $(BENCH_DIR)/report

## Every test: lint, unit, template, integration, the report in a browser, and the arm64 Lambda
## build (installs its own tools).
test: test-env lint unit template integration report-check lambda-build

## Replay throughput against zcat, the cost of each stage (best of three, then detection as the
## median of back-to-back pairs, and instructions under callgrind), and peak RSS on one 50 MB file.
bench:
	bash scripts/bench.sh $(BENCH_DIR)

## Ingest cost and speed: a simulated day through the handler against moto (cost per 100k events).
bench-ingest: test-env
	bash scripts/bench-ingest.sh $(BENCH_DIR)

## Files of one stream delivered at once (2, 5, 10, 20; uncapped and reserved 1, 2, 5) against
## moto: commits, conflicts, files that gave up, times.
bench-burst: test-env
	bash scripts/bench-burst.sh $(BENCH_DIR)

## An organization trail's hour (1,000 accounts x 4 regions) through the handler with in-memory
## ports, concurrently: files/s per instance, units per partition key per second, cost.
bench-org:
	bash scripts/bench-org.sh $(BENCH_DIR)

## The backfill worker's files per second on a simulated day (in memory and against moto).
bench-backfill: test-env
	bash scripts/bench-backfill.sh $(BENCH_DIR)

## Detection quality on labelled synthetic traffic (several seeds).
eval:
	bash scripts/eval.sh $(BENCH_DIR)/eval

## Release builds: the CLI and tools for this machine, and the Lambda functions for arm64.
build: lambda-build
	$(CARGO) build --release --workspace --exclude trailsight-ingest --exclude trailsight-remediate --exclude trailsight-backfill

## Build with SAM (cargo-lambda, arm64) and deploy; the first time, `sam deploy --guided`.
deploy: test-env
	PATH="$(CURDIR)/.venv/bin:$$PATH" sam build && PATH="$(CURDIR)/.venv/bin:$$PATH" sam deploy

clean-bench:
	rm -rf $(BENCH_DIR)
