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
# make bench's sweep: minutes of wall time it may take, its first rounds included; what they
# leave goes to more processes where the intervals are widest (README "A precision target").
# 6.5 of the 8 minutes a newcomer waits: install, start-up and the report take the rest. A
# resumed run (ARGS="--resume RUN") keeps the budget it was started with.
BENCH_BUDGET_MIN ?= 6.5
# bench-ci: the CI gate (`archbench ci`, README "pytest-benchmark and CI"): the benchmarks in
# BENCH_CI_PROCESSES fresh pytest processes (default 10) at one thread, judged against the
# newest passing run of this machine kind in $(RESULTS); exit 1 on a significant regression
# beyond the threshold or a broken benchmark. About 2 minutes on a 2-core VM
# (docs/measurements.md). In a pull request's job, BENCH_CI_BASE=origin/main (a commit or a
# checkout's folder) measures the base in the same job, interleaved (default 8 rounds of one
# process each, about 3.5 minutes), immune to the drift of the machine between runs.
BENCH_CI_ARGS      ?= --archbench-sizes=tiny,small --archbench-rounds=30 --archbench-warmup=5 \
                      --archbench-threads=1
BENCH_CI_PROCESSES ?=
BENCH_CI_THRESHOLD ?= 0.10
BENCH_CI_BASE      ?=
# BENCH_CI_HISTORY=FILE judges against the last 5 main-line runs of this machine kind in that
# history store (a rolling baseline, README "History"); BENCH_CI_RECORD=1 adds the run to
# it, failed or not (the main line's job).
BENCH_CI_HISTORY   ?=
BENCH_CI_RECORD    ?=
BENCH_CI_FLAGS     ?=

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
	$(BIN)/archbench run --results $(RESULTS) --report \
	  $(if $(findstring --resume,$(ARGS)),,--budget-min $(BENCH_BUDGET_MIN)) $(ARGS)

bench-ci: $(STAMP)
	mkdir -p reports
	$(BIN)/archbench ci --results $(RESULTS) --threshold $(BENCH_CI_THRESHOLD) \
	  $(if $(BENCH_CI_PROCESSES),--processes $(BENCH_CI_PROCESSES)) \
	  $(if $(BENCH_CI_BASE),--base $(BENCH_CI_BASE)) \
	  $(if $(BENCH_CI_HISTORY),--baseline history:$(BENCH_CI_HISTORY)) \
	  $(if $(BENCH_CI_RECORD),--record) --json reports/bench-ci.json \
	  --markdown reports/bench-ci.md $(BENCH_CI_FLAGS) -- $(BENCH_CI_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check harness suites tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
