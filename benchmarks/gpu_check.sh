#!/usr/bin/env bash
# GPU check: every CUDA path of archbench on a real GPU, in one script of at most 8 minutes.
#
# For a machine with an NVIDIA GPU and a CUDA build of torch in `python3` (the lent H100/H200
# machines: torch 2.11 + CUDA, no network, onnxruntime without a CUDA provider). Packages
# missing there travel as wheels in .whl/ (plotly, onnxconverter-common); they are installed
# into /tmp/site, and archbench runs from this checkout through PYTHONPATH.
#
# In order, each step within what is left of CHECK_BUDGET_S (default 470 s):
#   1. the backend and scenario tests, and every cuda-marked test, with the GPU visible;
#   2. a sweep of every CUDA backend and scenario at small and xl, train and infer;
#   3. a batch sweep of transformer/xl on cuda-eager and cuda-amp-bf16 (knee, largest batch);
#   4. the fidelity of CUDA timing against CUDA events and torch.utils.benchmark.Timer.
# A step cut short keeps what it finished (the sweeps persist every process). Knobs for a
# shorter lease: SUITES, SIZES, BACKENDS, PROCESSES, and *_BUDGET_S per step.
# Writes under $OUT (default ./gpu-check-out): logs, tables, and one tarball with both runs
# and their HTML reports.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-check-out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
deadline=$((SECONDS + ${CHECK_BUDGET_S:-470}))
# the budget of a step: its own, or what is left before the deadline (less a margin to pack)
budget() { local left=$((deadline - SECONDS - 20)); echo $(( $1 < left ? $1 : (left > 1 ? left : 1) )); }

if compgen -G ".whl/*.whl" >/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm \
  --format=csv | tee "$OUT/gpu.txt"
$PY -c "import torch, onnxruntime as o; print('torch', torch.__version__, 'cuda',
torch.version.cuda, torch.cuda.get_device_name(), '| ort', o.__version__,
o.get_available_providers())" | tee -a "$OUT/gpu.txt"

SUITES=${SUITES:-cnn rnn transformer}
SIZES=${SIZES:-small xl}
BACKENDS=${BACKENDS:-cuda-eager cuda-compile cuda-compile-cudagraphs cuda-compile-max-autotune \
cuda-amp-bf16 cuda-amp-fp16 ort-cuda ort-cuda-fp16}
PROCESSES=${PROCESSES:-2}
RESULTS="--results $OUT/results"
ARCHBENCH="$PY -m harness.cli"

# 1. Tests with the GPU visible. pytest-timeout, where installed, ends a hung test, so the step
#    ends with a report. The export and int8 tests go first, on their own, with full
#    tracebacks: on the first lent H100 (torch 2.11, onnxruntime 1.30) every int8 test failed,
#    and twice the step's time ran out before pytest printed why.
per_test=$($PY -c "import pytest_timeout" 2>/dev/null && echo --timeout=60)
timeout "$(budget 40)" $PY -m pytest -q -p no:cacheprovider -x --tb=long $per_test \
  tests/backends/test_onnx_export.py 2>&1 | tee "$OUT/pytest-export.log" | tail -40
timeout "$(budget "${TEST_BUDGET_S:-90}")" $PY -m pytest -q -p no:cacheprovider -rfE \
  --tb=short $per_test --ignore=tests/report/test_report_browser.py \
  tests/backends tests/scenarios tests/test_cases.py 2>&1 | tee "$OUT/pytest.log" | tail -30

# 2. Every CUDA backend and scenario: latency and throughput for inference, throughput for
#    training (the default plan), quick budgets, $PROCESSES processes a case.
timeout "$(budget "${SWEEP_BUDGET_S:-220}")" $ARCHBENCH run $RESULTS --run-id gpu-check \
  --quick --processes "$PROCESSES" --no-progress --suite $SUITES --size $SIZES \
  --backend $BACKENDS > "$OUT/sweep.log" 2>&1
$ARCHBENCH show gpu-check $RESULTS 2>&1 | tee "$OUT/table.txt" | tail -40

# 3. The batch sweep of the largest transformer: to the knee, then the largest batch that fits.
timeout "$(budget "${BATCH_BUDGET_S:-90}")" $ARCHBENCH run $RESULTS --run-id gpu-batch-sweep \
  --quick --no-progress --suite transformer --size xl --backend cuda-eager cuda-amp-bf16 \
  --phase infer --scenario batch-sweep > "$OUT/batch-sweep.log" 2>&1
$ARCHBENCH show gpu-batch-sweep $RESULTS 2>&1 | tee "$OUT/batch-sweep.txt" | tail -8

# 4. Fidelity of the CUDA timing against CUDA events and Timer (same process, same model).
timeout "$(budget "${FIDELITY_BUDGET_S:-60}")" $PY benchmarks/fidelity.py \
  --backend cuda-eager --rounds 3 2>&1 | tee "$OUT/fidelity.txt"

for run in gpu-check gpu-batch-sweep; do
  $ARCHBENCH report "$run" $RESULTS --out "$OUT/report-$run" >/dev/null 2>&1
done
# the caches (trained xl weights, exports, compiled kernels) would not fit the way back
tar czf "$OUT/gpu-check.tar.gz" --exclude=.cache -C "$OUT" results \
  $(cd "$OUT" && ls -d report-* 2>/dev/null)
rm -rf "$OUT/results" "$OUT"/report-*
echo "gpu check done in $SECONDS s"
