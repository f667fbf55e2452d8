# The two commands: `make demo` (the exporter on the built-in simulated node) and `make test`.
# Each creates .venv and installs what it needs; nothing else has to be on the machine
# but python3 (3.11+) and, for the integration and node tiers, Go (it builds kube-apiserver, etcd,
# kustomize and the kubelet). The node tier also needs root, and installs containerd and runc from
# Debian.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HYPOTHESIS_PROFILE ?= $(if $(filter true,$(CI)),ci,dev)
export HYPOTHESIS_PROFILE
# More arguments for pytest or bench/run.py, e.g. from `nox -s unit -- -k store`.
PYTEST_ARGS ?=
BENCH_ARGS ?=
PYTEST := $(BIN)/pytest -p no:cacheprovider

# This file is the one description of the pipeline; noxfile.py runs these targets in its own venvs
# (VENV=<the session's venv>) and for other Python versions.
.PHONY: test demo golden helm-values lint typecheck unit process integration controlplane node node-runtime build image bench bench-fleet e2e clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,lint,bench]'
	touch $@

test: lint typecheck unit process integration node e2e

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests bench noxfile.py scripts
	$(BIN)/ruff format --check src tests bench noxfile.py scripts
	$(BIN)/lint-imports
	bash scripts/actionlint.sh
	$(BIN)/zizmor --offline --quiet .
	$(BIN)/python scripts/test-alerts.py

typecheck: $(BIN)/.installed
	$(BIN)/mypy

# The unit tier on every core (pytest-xdist), with the domain held to 100% line and branch coverage.
unit: $(BIN)/.installed
	$(PYTEST) tests/unit -n auto --cov --cov-report= $(PYTEST_ARGS)
	$(BIN)/coverage report --include='src/pod_meta_exporter/domain/*' --fail-under=100
	$(BIN)/python bench/pipeline.py --smoke

# Subprocesses: the real program (SIGTERM, exit codes, the demo), and mypy on a mistyped port call.
process: $(BIN)/.installed
	$(PYTEST) tests/process $(PYTEST_ARGS)

# The integration tier: a real kube-apiserver and etcd, and deploy/ rendered by the real kustomize,
# built once into ~/.cache (minutes, cold).
integration: $(BIN)/.installed controlplane
	$(PYTEST) tests/integration $(PYTEST_ARGS)

controlplane:
	@if [ -n "$$KUBE_APISERVER_BIN" ] && [ -n "$$ETCD_BIN" ] && [ -n "$$KUSTOMIZE_BIN" ]; then \
	  echo "using KUBE_APISERVER_BIN=$$KUBE_APISERVER_BIN ETCD_BIN=$$ETCD_BIN KUSTOMIZE_BIN=$$KUSTOMIZE_BIN"; \
	elif command -v go >/dev/null; then bash scripts/build-controlplane.sh; \
	else echo "no Go and no KUBE_APISERVER_BIN/ETCD_BIN/KUSTOMIZE_BIN: the integration tier will skip (fails when CI=true)"; fi

# The node tier: a real kubelet, containerd and runc run short-lived pods (root; see README).
node: $(BIN)/.installed controlplane node-runtime
	@if command -v go >/dev/null; then \
	  bash scripts/build-controlplane.sh kubelet kube-controller-manager kube-scheduler >/dev/null; fi
	$(PYTEST) tests/node $(PYTEST_ARGS)

node-runtime:
	bash scripts/install-node-runtime.sh

demo: $(BIN)/.installed
	$(BIN)/python scripts/demo.py

# deploy/helm/monitoring-values.yaml, written again from deploy/monitoring/.
helm-values: $(BIN)/.installed
	$(BIN)/python scripts/helm-monitoring-values.py

# tests/fixtures/fluent-bit/records/, written again by real Fluent Bit from the fixture pods.
golden: $(BIN)/.installed
	$(BIN)/python scripts/golden-fluent-bit.py

# The artifact, as `make build` was for the Go original: the wheel, in dist/.
build: $(BIN)/.installed
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir dist .
	@ls dist/*.whl

IMAGE ?= pod-meta-exporter:dev

# The container image; deploy/fluent-bit and tests/e2e expect pod-meta-exporter:dev.
image:
	docker build --tag $(IMAGE) .

# The e2e tier: kind, Fluent Bit and the sidecar, deployed as users deploy them. Where no registry is
# reachable, scripts/offline-kind.py builds every image here (root, Debian packages, Go; cached),
# starts Debian's dockerd and stops it, and checks that the machine is as it was (see README).
e2e: $(BIN)/.installed-e2e
	$(BIN)/python scripts/offline-kind.py run -- $(PYTEST) tests/e2e -rs $(PYTEST_ARGS)

$(BIN)/.installed-e2e: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test,lint,bench,e2e]'
	touch $@

bench: $(BIN)/.installed controlplane node-runtime
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# The fleet alone (about 6 minutes): 100 exporters against one API server; prints its table.
bench-fleet: $(BIN)/.installed controlplane
	$(BIN)/python bench/run.py --only fleet $(BENCH_ARGS)

clean:
	rm -rf $(VENV) dist build .coverage .mypy_cache .ruff_cache .pytest_cache demo-meta
