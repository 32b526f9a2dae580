# Ochre: `make run` serves with an embedded Postgres; `make test` runs every check.
.DEFAULT_GOAL := help
SHELL := /bin/bash

.PHONY: help deps run test build lint schema-snapshot proto-lint proto-breaking proto-baseline generate-ts build-ts bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

deps: ## install what is missing (PostgreSQL server via apt-get, npm tools)
	@./scripts/install-deps.sh

run: deps ## build and serve on OCHRE_LISTEN_ADDR (default 127.0.0.1:50051), embedded Postgres in OCHRE_DATA_DIR
	cargo run --quiet --bin ochre -- serve

test: ## every test (installs missing dependencies first, as make deps): buf lint + breaking, fmt, clippy, cargo tests (real Postgres), the TS package in headless Chromium
	@./scripts/test.sh

build: ## build the workspace
	cargo build --workspace --bins

lint: ## rustfmt and clippy
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

schema-snapshot: deps ## rewrite migrations/schema.snapshot from a freshly migrated database (commit it with the migration)
	@./scripts/schema-snapshot.sh

proto-lint: deps ## buf lint
	node_modules/.bin/buf lint

proto-breaking: deps ## buf breaking against the committed baseline
	node_modules/.bin/buf breaking --against proto/baseline.binpb

proto-baseline: deps ## accept the current contract as the new baseline (a deliberate act: commit it)
	node_modules/.bin/buf build -o proto/baseline.binpb

bench: ## the load generator, release build: make bench SCENARIO=read-path [ARGS="--duration 8"]; lists the scenarios without SCENARIO (README, Benchmarks)
	@if [ -z "$(SCENARIO)" ]; then \
	  echo "usage: make bench SCENARIO=<scenario> [ARGS=\"--duration N --workers N ...\"]"; \
	  echo "scenarios: $$(grep -oE '^ +Some\("[a-z-]+"\) => Scenario' bench/src/main.rs | grep -oE '"[a-z-]+"' | tr -d '"' | tr '\n' ' ')"; \
	  echo "(README, Benchmarks: what each measures)"; \
	else \
	  ./scripts/install-deps.sh && cargo run --release -p ochre-bench -- $(SCENARIO) $(ARGS); \
	fi

generate-ts: deps ## generate the TypeScript package's code from proto/ into clients/ts/src/gen
	npm run generate -w @ochre/client

build-ts: deps ## build @ochre/client (clients/ts/dist: JS, .d.ts, browser bundle) and type-check it with its browser test page
	npm run build -w @ochre/client
	npm run typecheck -w @ochre/client
	npm run bundle-test -w @ochre/client

clean: ## remove build outputs (not the data directory)
	cargo clean
	rm -rf clients/ts/src/gen clients/ts/dist
