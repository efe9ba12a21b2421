# Two entry points for a fresh machine (Python 3.11+, Node 20+): `make synth` and `make test`.
# Each installs only what it needs first, idempotently: synth the CDK app's requirements.txt and
# the pinned CDK CLI; `make tools` adds the tools' packages; `make test` the whole dev set.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
CONFIG ?= config/default.yaml
GROUP ?= retail
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: setup tools dev lock lint synth cost test simulate demo-report bench bench-report bench-experiments release clean structure

setup: $(VENV)/.synth-installed node_modules/.installed
tools: setup $(VENV)/.tools-installed
dev: tools $(VENV)/.dev-installed

# Each layer installs exactly the versions and hashes of its lock (transitive packages included).
$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.synth-installed: requirements-synth.lock | $(VENV)/bin/python
	$(PIP) --require-hashes -r requirements-synth.lock
	touch $@

$(VENV)/.tools-installed: requirements-tools.lock $(VENV)/.synth-installed
	$(PIP) --require-hashes -r requirements-tools.lock
	touch $@

$(VENV)/.dev-installed: requirements.lock $(VENV)/.tools-installed
	$(PIP) --require-hashes -r requirements.lock
	touch $@

# After editing a requirements*.txt (needs PyPI): `make lock`, commit the three locks with it.
LOCK := $(PY) -m uv pip compile --universal --python-version 3.11 --generate-hashes --quiet
lock: dev
	$(LOCK) requirements.txt -o requirements-synth.lock
	$(LOCK) requirements-tools.txt -o requirements-tools.lock
	$(LOCK) requirements-dev.txt -o requirements.lock

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Every stack of the config into cdk.out/, through the pinned CLI, offline, with cdk-nag.
synth: setup
	PERSONALIZE_IMPACT_MAKE_TARGET=synth npx --no-install cdk synth --quiet --no-notices -c config=$(CONFIG)

# What a deploy of the config bills, from the config and stacks/prices.csv (no AWS call; docs/cost.md).
cost: setup
	$(PY) -m tools.cost $(CONFIG)

# ruff, mypy and the structure rules (layers, cycles, sizes, ARN spellings; docs/architecture-layers.md).
lint: dev
	$(PY) -m ruff check --quiet .
	$(PY) -m mypy
	$(PY) -m tools.structure_facts --check

# Lint, then the whole test suite (offline; integration tests skip without AWS credentials).
# Bytecode caching stays on even where the environment turns it off (PYTHONDONTWRITEBYTECODE):
# the suite's processes would otherwise each compile the repository and rewrite the test modules'
# asserts again (__pycache__ is ignored by git). A second run is ~5 s faster with it.
test: lint
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -n 2 --durations=5

# The whole-stack simulator: CloudFormation over the synthesized templates of config variants,
# the CDK Provider framework's own JavaScript, the handlers, a fake Personalize (docs/testing.md).
simulate: setup
	$(PY) -m harness --verbose

# Files and functions over their size, import cycles, wrong-way imports, modules spelling a Personalize ARN
# (docs/architecture-layers.md).
structure: setup
	$(PY) -m tools.structure_facts

bench: setup
	$(PY) benchmarks/synth_benchmark.py

# report's figures: interval coverage on simulated reports, and 1,000,000 report rows.
bench-report: tools
	$(PY) benchmarks/lift_coverage.py
	$(PY) benchmarks/report_scale.py
	$(PY) benchmarks/report_scale.py --year --runs 1

# Experiments' figures (docs/experiments.md): false positives under daily looks, power, coverage, SRM, synth cost.
bench-experiments: tools
	$(PY) benchmarks/experiments.py

# report offline: a seeded demo of report CSVs (docs/dashboard-and-reports.md, "Try report offline").
demo-report: tools
	$(PY) -m tools demo-reports --config $(CONFIG) --group $(GROUP) --out demo/reports
	$(PY) -m tools report --config $(CONFIG) --group $(GROUP) --dir demo/reports --png demo/impact.png

clean:
	rm -rf cdk.out .pytest_cache .hypothesis demo

# A self-contained release for accounts without `cdk bootstrap` (docs/operations.md, "Deploying to new accounts").
# make release VERSION=1.2.0 ASSET_BUCKET=my-org-cfn-assets [CONFIG=config/default.yaml]
release: setup
	@test -n "$(VERSION)" && test -n "$(ASSET_BUCKET)" || { echo "usage: make release VERSION=1.2.0 ASSET_BUCKET=my-org-cfn-assets [CONFIG=...]" >&2; exit 2; }
	$(PY) -m tools.release --version $(VERSION) --asset-bucket $(ASSET_BUCKET) --config $(CONFIG) --out dist
