# Developer entry points. Each target is a thin wrapper around a script in
# scripts/, so CI (.ci/run) and people run exactly the same steps.

SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo
LAYER_DIR ?= build/layers/psycopg2

.PHONY: help venv layer build test demo man schema graph fmt fmt-check lint clippy cycles clean distclean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

venv: ## create/refresh .venv (moto server, pytest, psycopg2) from requirements-*.txt
	scripts/setup-venv.sh

layer: ## build the psycopg2 Lambda layer folder in $(LAYER_DIR)
	scripts/build-layer.sh $(LAYER_DIR)

build: ## cargo build (debug): target/debug/deploy
	$(CARGO) build

test: ## venv + layer + throwaway PostgreSQL, then cargo test and pytest tests/python
	scripts/test.sh

demo: ## plan/apply/plan/output/destroy examples/local/stack.yaml against a local moto server
	scripts/demo.sh

man: ## man pages from the CLI definitions (clap_mangen) in target/man: man -l target/man/deploy.1
	$(CARGO) run -q --example man -- target/man

schema: ## regenerate schema/stack.schema.json (the stack file's JSON Schema) from the loader's schema
	$(CARGO) run -q -- schema > schema/stack.schema.json

graph: ## render the Cruddur stack's dependency graph to docs/graph.svg (installs graphviz if missing)
	scripts/ensure-graphviz.sh >/dev/null
	$(CARGO) run -q -- -f stack.yaml graph | dot -Tsvg -o docs/graph.svg

fmt: ## format the Rust code
	$(CARGO) fmt

fmt-check: ## check the Rust formatting
	$(CARGO) fmt --check

clippy: ## cargo clippy, warnings are errors
	$(CARGO) clippy --all-targets -- -D warnings

cycles: ## fail when the use graph between files of src/ has a cycle
	scripts/check-module-cycles

lint: fmt-check clippy cycles ## fmt-check + clippy + module cycle check

clean: ## remove .venv, build/ and the test PostgreSQL (keeps cargo's target/: see distclean)
	@if [[ -d target/pg && -f scripts/pg-stop.sh ]]; then bash scripts/pg-stop.sh target/pg || true; fi
	rm -rf .venv .venv.lock build target/pg .pytest_cache
	find . -path ./target -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean ## clean, and cargo clean as well (the next build recompiles the AWS SDK: minutes)
	$(CARGO) clean
