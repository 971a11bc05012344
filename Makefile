# One Makefile for people and CI. `make test` is the whole test suite (README, .ci/run).
SHELL := /bin/bash
CARGO ?= cargo
SAMPLES ?= tests/fixtures/grycap
BENCH_DIR ?= bench-out

.PHONY: sample fmt lint unit integration test bench eval build deploy test-env clean-bench

## Replay the bundled sample logs and print what was found.
sample:
	$(CARGO) run --release -q -p trailsight-cli -- replay $(SAMPLES) --top 10

fmt:
	$(CARGO) fmt --all

## Formatting and clippy, warnings denied.
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Installs what the tests need (Python venv and tools), idempotently.
test-env:
	bash scripts/test-env.sh

## Unit tests (in-memory ports, the CLI end to end); the moto-backed crate runs in `integration`.
unit:
	$(CARGO) test --workspace --exclude trailsight-it

## Integration tests: real SDK adapters and handlers against a moto server started on a free port.
integration: test-env
	bash scripts/with-moto.sh $(CARGO) test -p trailsight-it

## Every test: lint, unit, integration (installs its own tools).
test: test-env lint unit integration

## Reader throughput against zcat, and peak RSS on one 50 MB file.
bench:
	bash scripts/bench.sh $(BENCH_DIR)

## Detection quality on labelled synthetic traffic (several seeds).
eval:
	bash scripts/eval.sh $(BENCH_DIR)/eval

build:
	$(CARGO) build --release --workspace

## The SAM stack (template.yaml) lands with the deploy issue; until then this says so.
deploy:
	@if [ -f template.yaml ]; then sam build && sam deploy; else echo "deploy: no template.yaml yet (the SAM stack is not written yet)"; exit 1; fi

clean-bench:
	rm -rf $(BENCH_DIR)
