# Two commands do everything on a fresh machine: `make bench` and `make test`.
PYTHON     ?= python3
VENV       ?= .venv
BIN        := $(VENV)/bin
# The pinned CPU build installs from this machine's local wheel in seconds. A user with a GPU
# installs their own torch into .venv first; it is then kept (see the `torch` step below).
TORCH_SPEC ?= torch==2.13.0
STAMP      := $(VENV)/.installed
RESULTS    ?= results
ARGS       ?=

.PHONY: bench test bench-ci lint clean install

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

bench: $(STAMP)
	$(BIN)/archbench run --results $(RESULTS) --report $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check harness suites tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
