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
# bench-ci: pytest-benchmark over the backends; fails when a median regresses beyond this
# against the latest saved run in .benchmarks/ (none saved yet: nothing to compare, it passes)
BENCH_CI_ARGS ?= --archbench-sizes=tiny,small --archbench-rounds=30 --archbench-warmup=5
COMPARE_FAIL  ?= median:10%
BENCH_STORAGE ?= .benchmarks

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

bench-ci: $(STAMP)
	mkdir -p reports
	$(BIN)/python -m pytest benchmarks -q --benchmark-only --benchmark-group-by=group \
	  --benchmark-storage=$(BENCH_STORAGE) --benchmark-autosave --benchmark-save-data \
	  --benchmark-json=reports/bench-ci.json $(BENCH_CI_ARGS) \
	  $$(ls $(BENCH_STORAGE)/*/*.json >/dev/null 2>&1 && \
	     echo --benchmark-compare --benchmark-compare-fail=$(COMPARE_FAIL))
	$(BIN)/archbench import reports/bench-ci.json --run-id bench-ci-$$(date -u +%Y%m%d-%H%M%S) \
	  --results $(RESULTS)

test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check harness suites tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
