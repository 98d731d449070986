# The kind lab (docs/lab.md): needs Docker, kind, kubectl and helm.
#
# Overridable on the command line or in the environment; krafty's defaults live in
# lab/settings.py (the versions in krafty/testing/kind/settings.py), which `python -m lab`
# and the e2e fixtures share:
#   CLUSTER_NAME (krafty), BUNDLE_DIR (bundle-output), NETTOOLS_IMAGE (krafty-nettools:dev),
#   KIND_NODE_IMAGE, CILIUM_VERSION, KUBECONFIG. With CI=true a missing tool fails the e2e
#   tests instead of skipping them.
NODE_DEBIAN ?= bookworm
BUNDLE_DIR ?= bundle-output
export BUNDLE_DIR
VENV ?= .venv
BIN ?= $(VENV)/bin
PYTHON ?= python3
LAB = $(BIN)/python -m lab
BUNDLE_BUILDER = krafty-bundle-builder:$(NODE_DEBIAN)

.PHONY: bundle bundle-bench up deployment validate e2e down

# The plugin for the nodes, built on their Debian release: in a container when a Docker
# engine is there, else natively, which bundle/build.py refuses on any other release.
bundle: $(BUNDLE_DIR)/build-info.json

$(BUNDLE_DIR)/build-info.json: pyproject.toml $(wildcard krafty/*.py krafty/testing/*.py) bundle/build.py bundle/Dockerfile
	@if docker info >/dev/null 2>&1; then \
		echo "bundle: building in debian:$(NODE_DEBIAN)"; \
		docker build --quiet --tag $(BUNDLE_BUILDER) --build-arg DEBIAN=$(NODE_DEBIAN) bundle >/dev/null && \
		docker run --rm --user "$$(id -u):$$(id -g)" --env HOME=/tmp --volume "$(CURDIR):/src" --workdir /src \
			$(BUNDLE_BUILDER) python3 bundle/build.py --release $(NODE_DEBIAN) --out $(BUNDLE_DIR) --venv /tmp/venv; \
	else \
		echo "bundle: no Docker engine, building natively"; \
		$(PYTHON) bundle/build.py --release $(NODE_DEBIAN) --out $(BUNDLE_DIR); \
	fi

bundle-bench: bundle venv
	$(BIN)/python bundle/startup_bench.py --bundle $(BUNDLE_DIR)/krafty --venv-krafty $(BIN)/krafty

up: bundle venv
	$(LAB) up

deployment: venv
	$(LAB) deploy

# The validation tests against the running lab: no cluster is created or deleted.
validate: venv
	$(LAB) require
	$(BIN)/pytest -m e2e --keep-cluster -v tests/e2e/test_validate.py

# The whole e2e layer on a lab of its own: brought up as `make up` does, deleted afterwards.
e2e: export CLUSTER_NAME ?= krafty-e2e
e2e: bundle venv
	$(BIN)/pytest -m e2e

down: venv
	$(LAB) down
