# Debian's interpreter starts in ~8 ms; a pyenv shim costs ~95 ms on every plugin call.
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: venv test unit netns lint clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,lint]'
	touch $@

test: venv
	$(BIN)/pytest -m unit
	$(BIN)/pytest -m netns

unit: venv
	$(BIN)/pytest -m unit

netns: venv
	$(BIN)/pytest -m netns

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache krafty.egg-info
