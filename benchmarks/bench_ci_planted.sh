#!/usr/bin/env bash
# The CI gate's planted change: the built-in benchmarks plus a user's suite file
# (benchmarks/planted_suite.py) through `archbench ci`, into one results folder.
#
# Usage: bash benchmarks/bench_ci_planted.sh [stored|base|history] [FOLDER]
#   stored (default): against the stored baseline, three gates in a row:
#     1. the baseline; 2. an identical copy of the suite file: the gate should pass;
#     3. the model changed to do 30% more work (DEPTH 10 -> 13): the gate should fail and name
#        the planted benchmarks.
#   base: with --base, the base measured in the same job: two checkouts of HEAD (git worktrees
#     under FOLDER), the gate run from the "new" one against the "base" one, twice each way:
#     identical, planted, identical, planted (the change is made and undone in "new" only);
#     TAKES=3 for three of each.
#   history: against a history store's rolling baseline (--baseline history:DB), as the README's
#     CI recipe runs it: a first run and TAKES (default 2) identical ones, each judged against
#     the runs before it and recorded (the main line's job, --record); then the planted change,
#     judged and not recorded (a pull request's job).
# FOLDER defaults to /tmp/bench-ci-planted-MODE.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
mode=${1:-stored}
folder=${2:-/tmp/bench-ci-planted-$mode}
mkdir -p "$folder"
args=(--archbench-suites=cnn,rnn,transformer,planted --archbench-sizes=tiny,small
      --archbench-rounds=30 --archbench-warmup=5 --archbench-threads=1)
takes=${TAKES:-2}
plant() { sed -i 's/^DEPTH = 10$/DEPTH = 13/' "$1"; }
set +e
if [ "$mode" = stored ]; then
  gate() { "$repo/.venv/bin/archbench" ci --results "$folder/results" --run-id "$1" \
             --markdown "$folder/$1.md" -- "${args[@]}" \
             "--archbench-suite-file=$folder/ci_suite.py" > "$folder/$1.log" 2>&1
           echo "$1: exit $?"; }
  cp benchmarks/planted_suite.py "$folder/ci_suite.py"
  gate baseline
  cp benchmarks/planted_suite.py "$folder/ci_suite.py"   # an identical copy
  gate identical
  plant "$folder/ci_suite.py"
  gate planted-30pct
elif [ "$mode" = history ]; then
  gate() { local run=$1; shift
           "$repo/.venv/bin/archbench" ci --results "$folder/results" --run-id "$run" \
             --baseline "history:$folder/history.duckdb" "$@" --markdown "$folder/$run.md" \
             -- "${args[@]}" "--archbench-suite-file=$folder/ci_suite.py" \
             > "$folder/$run.log" 2>&1
           echo "$run: exit $?"; }
  cp benchmarks/planted_suite.py "$folder/ci_suite.py"
  gate first --record
  for take in $(seq "$takes"); do gate "identical-$take" --record; done
  plant "$folder/ci_suite.py"
  gate planted-30pct
else
  for tree in base new; do
    [ -d "$folder/$tree" ] || git worktree add --detach "$folder/$tree" HEAD > /dev/null
  done
  trap 'git worktree remove --force "$folder/base"; git worktree remove --force "$folder/new"' EXIT
  gate() { (cd "$folder/new" && "$repo/.venv/bin/archbench" ci --results "$folder/results" \
              --run-id "$1" --base "$folder/base" --markdown "$folder/$1.md" -- "${args[@]}" \
              --archbench-suite-file=benchmarks/planted_suite.py) > "$folder/$1.log" 2>&1
           echo "$1: exit $? ($(grep -c '' "$folder/$1.log") lines)"; }
  for take in $(seq "$takes"); do
    git -C "$folder/new" checkout -q benchmarks/planted_suite.py
    gate "identical-$take"
    plant "$folder/new/benchmarks/planted_suite.py"
    gate "planted-30pct-$take"
  done
fi
