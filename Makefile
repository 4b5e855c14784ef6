# The two Quickstart commands, `make up` and `make test`, each create or refresh .venv themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: up test lint venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the package definition changes (the stamp is older than pyproject.toml).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

## The main job: the control plane (API, dashboard, scheduler) on SQLite in .gpufleet/ with one
## local agent (real GPUs through NVML, else 4 simulated H100s). Ctrl-C stops it; run it again
## to resume. Pass options with ARGS="...", e.g. ARGS="--port 9000 --fake-gpus 8xA100-80GB".
up: venv
	$(BIN)/gpufleet up $(ARGS)

## The test suite (unit tests; integration tests join as the server grows).
test: venv
	$(BIN)/python -m pytest -q

## Format check, lint, strict type check and the import contracts (what CI runs besides tests).
lint: venv
	PATH="$(abspath $(BIN)):$$PATH" scripts/lint

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
