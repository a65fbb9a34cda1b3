#!/usr/bin/env bash
# The CI gate's planted change: the built-in benchmarks plus a user's suite file
# (benchmarks/planted_suite.py), through `archbench ci` three times into one results folder:
#   1. the baseline;
#   2. an identical copy of the suite file: the gate should pass;
#   3. the model changed to do 30% more work (DEPTH 10 -> 13): the gate should fail and name
#      the planted benchmarks.
# Usage: bash benchmarks/bench_ci_planted.sh [FOLDER]   (default /tmp/bench-ci-planted)
set -euo pipefail
cd "$(dirname "$0")/.."
folder=${1:-/tmp/bench-ci-planted}
mkdir -p "$folder"
cp benchmarks/planted_suite.py "$folder/ci_suite.py"
args=(--archbench-suites=cnn,rnn,transformer,planted --archbench-sizes=tiny,small
      --archbench-rounds=30 --archbench-warmup=5 "--archbench-suite-file=$folder/ci_suite.py")
gate() { .venv/bin/archbench ci --results "$folder/results" --run-id "$1" \
           --markdown "$folder/$1.md" -- "${args[@]}" > "$folder/$1.log" 2>&1
         echo "$1: exit $?"; }
set +e
gate baseline
cp benchmarks/planted_suite.py "$folder/ci_suite.py"   # an identical copy
gate identical
sed -i 's/^DEPTH = 10$/DEPTH = 13/' "$folder/ci_suite.py"
gate planted-30pct
