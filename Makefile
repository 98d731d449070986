# Debian's interpreter starts in ~8 ms; a pyenv shim costs ~95 ms on every plugin call.
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: system-packages venv demo bench test unit netns lint mutate clean

# The Debian/Ubuntu packages the targets below need, installed when missing (root);
# `SYSTEM_PACKAGES=:` skips the check on another distribution.
SYSTEM_PACKAGES ?= scripts/system-packages
system-packages:
	@$(SYSTEM_PACKAGES)

venv: $(VENV)/.installed

$(BIN)/python: | system-packages
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# A regular (not editable) install: an editable one costs every plugin call ~12 ms in site.
# The e2e extra too: the unit layer runs the lab's orchestration against stand-in tools.
$(VENV)/.installed: pyproject.toml $(wildcard krafty/*.py krafty/testing/*.py krafty/testing/conformance/*.py krafty/testing/kind/*.py) | system-packages $(BIN)/python
	$(BIN)/pip install --quiet '.[test,lint,e2e]'
	touch $@

# The demo needs VRF: where this kernel lacks it, run it in the VM the netns layer uses.
demo: venv
	@if unshare --net ip link add probe type vrf table 4242 2>/dev/null; then \
		$(BIN)/krafty demo; \
	else \
		echo "this kernel lacks VRF: running the demo in a VM (krafty.testing.vm)"; \
		$(BIN)/python -m krafty.testing.vm --quiet --cwd $(CURDIR) -- $(abspath $(BIN))/krafty demo; \
	fi

# Benchmarks against the Go bridge plugin (bench/run.py): table, bench/results/*.json and *.png.
$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet '.[bench]'
	touch $@

BENCH_ARGS ?=
bench: $(VENV)/.bench-installed
	@mkdir -p bench/results
	@if unshare --net ip link add probe type vrf table 4242 2>/dev/null; then \
		$(BIN)/python bench/run.py $(BENCH_ARGS); \
	else \
		echo "this kernel lacks VRF: benchmarking in a VM (krafty.testing.vm); compare ratios, not absolute times"; \
		$(BIN)/python -m krafty.testing.vm --rw $(CURDIR)/bench/results --cwd $(CURDIR) -- \
			$(abspath $(BIN))/python bench/run.py --label vm $(BENCH_ARGS); \
	fi

test: venv
	$(BIN)/pytest -m unit
	$(BIN)/pytest -m netns

unit: venv
	$(BIN)/pytest -m unit

netns: venv
	$(BIN)/pytest -m netns

# Mutation testing ([tool.mutmut] in pyproject.toml): the plugin's core modules and the harness,
# against the unit layer and the harness's native netns self-tests, so as root. Slow, so not part
# of `make test` or CI; MUTATE_JOBS workers (the netns self-tests are -n 2 safe).
MUTATE_JOBS ?= 2
$(VENV)/.mutate-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet '.[mutate]'
	touch $@

mutate: $(VENV)/.mutate-installed
	$(BIN)/mutmut run --max-children $(MUTATE_JOBS)
	$(BIN)/python tests/unit/mutation_score.py

# Shell as make runs it: the recipes of these targets, printed by `make -n`, checked as one sh script.
SHELL_TARGETS := venv demo bench bundle bundle-bench up deployment validate e2e down test clean mutate
# tox's lint environment brings its own tools: `make lint BIN=<its bin> LINT_DEPS=`.
LINT_DEPS ?= venv

lint: $(LINT_DEPS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/shellcheck .ci/* scripts/*
	$(MAKE) --no-print-directory -s -n -B $(SHELL_TARGETS) | $(BIN)/shellcheck --shell=sh -
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/actionlint -shellcheck $(abspath $(BIN))/shellcheck

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache krafty.egg-info mutants

include lab.mk
