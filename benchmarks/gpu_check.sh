#!/usr/bin/env bash
# GPU check: every CUDA path of archbench on a real GPU, in one short script.
#
# Meant for a machine with an NVIDIA GPU and a CUDA build of torch in `python3` (the lent
# H100/H200 machines: torch 2.11 + CUDA, no network, onnxruntime without a CUDA provider).
# Packages missing there travel as wheels in .whl/ (plotly, onnxconverter-common); they are
# installed into /tmp/site, and archbench runs from this checkout through PYTHONPATH.
#
# Writes under $OUT (default ./gpu-check-out): the test log, the sweep's log, and one tarball
# with the results folder and the HTML report. Finishes within CHECK_BUDGET_S seconds.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-check-out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1

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

# 1. Tests with the GPU visible: the backend tests (cuda-marked ones included) and the CUDA
#    backends' benchmarks run instead of skipping. FULL_TESTS=1 runs the whole suite (every
#    test must also hold where CUDA exists); pytest-benchmark switches itself off under xdist,
#    so benchmarks/ and the import tests (which run pytest-benchmark) run serially.
pytest_q() { $PY -m pytest -q -p no:cacheprovider --ignore=tests/report/test_report_browser.py "$@"; }
run_tests() {
  if [ "${FULL_TESTS:-0}" = 1 ]; then
    pytest_q -n 6 --ignore=tests/test_bench_import.py tests
    pytest_q benchmarks tests/test_bench_import.py
  else
    pytest_q tests/backends
    pytest_q benchmarks -k cuda
  fi
}
export -f pytest_q run_tests
export PY
timeout "${TEST_BUDGET_S:-150}" bash -c run_tests 2>&1 | tee "$OUT/pytest.log"

# 2. A short sweep of every CUDA backend, train and infer; cases finished before the budget
#    runs out are kept, and the report is written from them.
timeout "${SWEEP_BUDGET_S:-180}" $PY -m harness.cli run --results "$OUT/results" \
  --run-id gpu-check --quick --size small --no-progress \
  --backend cuda-eager cuda-amp-bf16 cuda-amp-fp16 cuda-compile ort-cuda ort-cuda-fp16 \
  2>&1 | tee "$OUT/sweep.log"
$PY -m harness.cli show gpu-check --results "$OUT/results" | tee "$OUT/table.txt"
$PY -m harness.cli report gpu-check --results "$OUT/results" --out "$OUT/report"

tar czf "$OUT/gpu-check.tar.gz" -C "$OUT" results report
rm -rf "$OUT/results" "$OUT/report"
