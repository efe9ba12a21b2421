# Two entry points for a fresh machine (Python 3.11+, Node 20+): `make synth` and `make test`.
# Both install what they need first (a virtual env and the pinned CDK CLI), idempotently.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CONFIG ?= config/default.yaml
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: setup lock lint synth cost test simulate bench bench-report bench-experiments release clean structure

setup: $(VENV)/.installed node_modules/.installed

# Exactly the versions and hashes of requirements.lock (every package, transitive ones included).
$(VENV)/.installed: requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	touch $@

# After editing requirements.txt or requirements-dev.txt (needs PyPI): `make lock`, commit both.
lock: setup
	$(PY) -m uv pip compile requirements-dev.txt --universal --python-version 3.11 --generate-hashes --quiet -o requirements.lock

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Every stack of the config into cdk.out/, through the pinned CLI, offline, with cdk-nag.
synth: setup
	PERSONALIZE_IMPACT_MAKE_TARGET=synth npx --no-install cdk synth --quiet --no-notices -c config=$(CONFIG)

# What a deploy of the config bills, from the config and stacks/prices.csv (no AWS call; docs/cost.md).
cost: setup
	$(PY) -m tools.cost $(CONFIG)

# ruff, mypy and the layer rules (no cycles, no wrong-way imports), configured in pyproject.toml.
lint: setup
	$(PY) -m ruff check --quiet .
	$(PY) -m mypy
	$(PY) -m tools.structure_facts --check

# Lint, then the whole test suite (offline; integration tests skip without AWS credentials).
test: lint
	$(PY) -m pytest -n 2 --durations=5

# The whole-stack simulator: CloudFormation over the synthesized templates of config variants,
# the CDK Provider framework's own JavaScript, the handlers, a fake Personalize (README, "What the simulator proves").
simulate: setup
	$(PY) -m tests.simulator --verbose

# Files and functions over their size, import cycles, wrong-way imports, Personalize ARN spellings
# (docs/architecture-layers.md).
structure: setup
	$(PY) -m tools.structure_facts

bench: setup
	$(PY) benchmarks/synth_benchmark.py

# report's figures: interval coverage on simulated reports, and 1,000,000 report rows.
bench-report: setup
	$(PY) benchmarks/lift_coverage.py
	$(PY) benchmarks/report_scale.py
	$(PY) benchmarks/report_scale.py --year --runs 1

# Experiments' figures (docs/experiments.md): false positives under daily looks, power, coverage, SRM, synth cost.
bench-experiments: setup
	$(PY) benchmarks/experiments.py

clean:
	rm -rf cdk.out .pytest_cache .hypothesis

# A self-contained release for accounts without `cdk bootstrap` (see README, "Deploying to new accounts").
# make release VERSION=1.2.0 ASSET_BUCKET=my-org-cfn-assets [CONFIG=config/default.yaml]
release: setup
	@test -n "$(VERSION)" && test -n "$(ASSET_BUCKET)" || { echo "usage: make release VERSION=1.2.0 ASSET_BUCKET=my-org-cfn-assets [CONFIG=...]" >&2; exit 2; }
	$(PY) -m tools.release --version $(VERSION) --asset-bucket $(ASSET_BUCKET) --config $(CONFIG) --out dist
