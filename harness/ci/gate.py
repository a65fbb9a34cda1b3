"""`archbench ci`: the pytest-benchmark suite as a CI gate that does not cry wolf.

**Why a wrapper command, not a pytest plugin.** The verdict needs every benchmark's spread
between fresh processes, and one pytest process cannot see that: a plugin hook runs inside the
very process whose speed is in question, after its numbers exist. So the gate is a command that
runs pytest P times (`harness.ci.processes`), imports the P JSON files as one run of P
processes per benchmark (`harness.results.pytest_benchmark`), and judges it with the same
process-level rule as `archbench compare` (`harness.analysis.compare`), against a baseline of
the same kind (`harness.analysis.baseline`). pytest-benchmark stays the timer and its JSON the
artefact (merged over the processes, `--json`), so tools that read it keep working; its own
``--benchmark-compare-fail`` is not used: one process against one file is the rule that failed
five A/A runs out of six.

**The verdict.** Exit 1 when a benchmark got slower beyond the threshold *and* significantly so
after the p-values of all benchmarks are adjusted together (``family_wise``: a gate over 36
benchmarks must not fail whenever one of 36 tests is unlucky), or when a benchmark that
finished in the baseline now fails, crashes or is missing. With no baseline (the first run of a
machine kind), a benchmark that does not finish still fails; otherwise the run passes and
becomes the baseline of the next. The verdict is written into the run's manifest, and a run
that failed is never a baseline, so a regression cannot pass by being compared with itself.

**Two kinds of baseline.** By default the baseline is a stored run: the newest passing one of
this machine kind. That holds while the machine stays as it was: six back-to-back runs of
unchanged code all passed. It does not hold across hours on a shared VM: an identical run 72
minutes later was 1.17x slower over all 48 benchmarks (1.10x to 1.18x by backend), and the gate
failed 9 of them; no test on stored numbers can tell such a machine from a change. With
``--base`` (a folder or a git commit: `harness.ci.checkout`) the gate measures the base in the
same job, one process of each version per round in a shuffled order, so that both are
measured over the same minutes and a machine slower now than an hour ago slows both alike.
That is the mode for a pull request's CI job (the base is the target branch); it costs two
processes per round.

The two runs are compared unpaired (Welch), not paired by round as `archbench ab` is. Pairing
pays only where the two processes of a round share their noise, and here they do not: over four
A/A gates of 36 benchmarks, the median correlation between a round's base and new process
medians was -0.11 to 0.24, and the paired standard error at most a fifth below the unpaired
one, which does not pay for halving the degrees of freedom (4 instead of about 8 at 5 rounds;
after the adjustment over 36 benchmarks, a critical t of 7.9 instead of about 4.5). What
interleaving removes is the drift between the two runs' times, which a pair of runs an hour
apart cannot escape.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.analysis.baseline import (
    FAILED,
    NO_BASELINE,
    PASSED,
    find_baseline,
    named_baseline,
)
from harness.analysis.compare import BROKEN_STATUSES, compare
from harness.analysis.compare_markdown import comparison_markdown
from harness.analysis.run_shift import run_shift_line
from harness.analysis.sensitivity import detectable_changes, sensitivity_line
from harness.ci import DEFAULT_PROCESSES, DEFAULT_TIMEOUT_S
from harness.ci.checkout import base_checkout
from harness.ci.processes import Version, run_processes, run_rounds
from harness.errors import UsageError
from harness.history.baseline import PREFIX as HISTORY_PREFIX
from harness.history.baseline import NoBaselineRun, baseline_runs, rolling_baseline
from harness.history.store import HistoryStore
from harness.machine.environment import collect_environment
from harness.machine.fingerprint import fingerprint_id, this_machine
from harness.results.pytest_benchmark import (
    BenchmarkProcess,
    import_processes,
    merge_benchmark_json,
)
from harness.results.runs import RunSet, load_runs
from harness.results.storage import write_atomic, write_json_atomic
from harness.results.store import MANIFEST, load_results


@dataclass(frozen=True)
class GateOptions:
    """What `archbench ci` was asked to do."""

    results_dir: Path
    benchmarks: Path = Path("benchmarks")
    pytest_args: tuple[str, ...] = ()
    processes: int = DEFAULT_PROCESSES
    threshold: float = 0.10
    baseline: str = ""  # a run, or history:DB, to compare against (default: `find_baseline`)
    #: with a history baseline: add this run to that history, whatever its verdict (the main
    #: line's job), recorded on `branch` (None: the branch pytest-benchmark saw)
    record: bool = False
    branch: str | None = None
    base: str = ""  # a folder or git commit of the base version, measured in this job
    require_baseline: bool = False
    run_id: str = ""
    json_path: Path | None = None
    markdown_path: Path | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S

    def __post_init__(self) -> None:
        if self.processes < 2:
            raise UsageError(f"archbench ci needs at least 2 processes to see their spread; "
                             f"got --processes {self.processes}")
        if not self.benchmarks.exists():
            raise UsageError(f"no benchmarks at '{self.benchmarks}': give the folder or file "
                             "of the pytest-benchmark tests (--benchmarks)")
        if self.base and self.baseline:
            raise UsageError("--base measures the baseline in this job and --baseline names a "
                             "stored one: give one of them")
        if self.base and self.benchmarks.is_absolute():
            raise UsageError(f"with --base, give --benchmarks relative to the repository "
                             f"(each version runs its own); got '{self.benchmarks}'")
        if self.record and not self.baseline.startswith(HISTORY_PREFIX):
            raise UsageError("--record adds the run to the history it was judged against: "
                             "give --baseline history:DB")
        if not 0 <= self.threshold < 1:
            raise UsageError(f"threshold must be a fraction in [0, 1), e.g. 0.1 for 10%; "
                             f"got {self.threshold}")


@dataclass
class GateOutcome:
    """The gate's verdict, its exit status and what it printed."""

    verdict: str
    exit_code: int
    run_dir: Path
    lines: list[str] = field(default_factory=list)
    markdown: str = ""


def run_gate(options: GateOptions, say: Callable[[str], None] = print) -> GateOutcome:
    """Run the benchmarks, import them, judge them against the baseline; write the outputs."""
    environment = collect_environment()
    fingerprint = this_machine(environment)
    history = options.baseline.startswith(HISTORY_PREFIX)
    named = (named_baseline(options.baseline, options.results_dir, fingerprint)
             if options.baseline and not history else None)
    run_id = options.run_id or f"bench-ci-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}"
    for taken in (run_id, *([_base_run_id(run_id)] if options.base else [])):
        if (options.results_dir / taken / MANIFEST).exists():
            raise UsageError(f"run '{taken}' already exists in {options.results_dir}; "
                             "pass another --run-id")
    if history and not options.base:
        missing = _history_baseline(options.baseline, fingerprint, run_id, baseline_runs)
        if options.require_baseline and isinstance(missing, str):
            raise UsageError(missing)
    elif options.require_baseline and named is None and not options.base:
        found, note = find_baseline(options.results_dir, fingerprint, exclude=run_id)
        if found is None:
            raise UsageError(_no_baseline_line(options.results_dir, fingerprint, note))
    ci = {"fingerprint": fingerprint, "fingerprint_id": fingerprint_id(fingerprint),
          "pytest_args": list(options.pytest_args), "benchmarks": str(options.benchmarks),
          "started": dt.datetime.now(dt.timezone.utc).isoformat()}
    if options.base:
        return _gate_against_base(options, run_id, environment, ci, say)
    say(f"archbench ci: {options.processes} fresh pytest processes of {options.benchmarks} "
        f"(machine kind {ci['fingerprint_id']}); run {run_id} in {options.results_dir}")
    processes = run_processes(options.benchmarks, options.pytest_args, options.processes,
                              options.results_dir / run_id / "pytest", options.timeout_s, say)
    run_dir = _import(processes, options, run_id, environment,
                      {"ci": {**ci, **_commit_info(processes)}})
    if history:
        rolling = _history_baseline(options.baseline, fingerprint, run_id)
        if isinstance(rolling, str):
            outcome = _first_run(run_dir, rolling)
        else:
            used = (f"baseline: the rolling baseline {rolling.run_ids[0]}: every ok process "
                    "median of those runs pooled")
            outcome = _judge(run_dir, rolling, [used], options, interleaved=False)
        outcome = _finish(outcome, None if isinstance(rolling, str) else rolling.run_ids[0],
                          options)
        if options.record:  # its line after the verdict's, which the caller prints
            outcome.lines.append(_record_in_history(outcome, options))
        return outcome
    baseline, note = ((named, "") if named is not None else
                      find_baseline(options.results_dir, fingerprint, exclude=run_id))
    if baseline is None:
        outcome = _first_run(run_dir, _no_baseline_line(options.results_dir, fingerprint, note))
    else:
        used = f"baseline: {baseline.describe(dt.datetime.now(dt.timezone.utc))}"
        outcome = _judge(run_dir, load_runs([baseline.run_dir]),
                         [used, *([note] if note else [])], options, interleaved=False)
    return _finish(outcome, baseline.run_dir.name if baseline else None, options)


def _gate_against_base(options: GateOptions, run_id: str, environment: dict[str, Any],
                       ci: dict[str, Any], say: Callable[[str], None]) -> GateOutcome:
    """`--base`: the base version measured in this job, interleaved with the code under test,
    so that both are measured over the same minutes (`harness.ci.processes`) and the machine's
    drift between a baseline's time and now cannot pass for a change."""
    base_id = _base_run_id(run_id)
    seed = secrets.randbelow(2**31)
    with base_checkout(options.base) as folder:
        say(f"archbench ci: {options.processes} rounds of one fresh pytest process of the base "
            f"({options.base}, in {folder}) and one of this code, in an order shuffled per "
            f"round (seed {seed}; machine kind {ci['fingerprint_id']}); runs {base_id} and "
            f"{run_id} in {options.results_dir}")
        done = run_rounds(options.benchmarks, options.pytest_args, [
            Version("base", folder, options.results_dir / base_id / "pytest"),
            Version("new", None, options.results_dir / run_id / "pytest")],
            options.processes, options.timeout_s, seed=seed, say=say)
        base_commit = _commit_info(done["base"], folder)
    interleaved = {"seed": seed, "base": options.base}
    base_dir = _import(done["base"], options, base_id, environment, {
        "ci": {**ci, **base_commit, "role": "base",
               "interleaved": {**interleaved, "with": run_id}}}, merged_json=False)
    run_dir = _import(done["new"], options, run_id, environment, {
        "ci": {**ci, **_commit_info(done["new"]),
               "interleaved": {**interleaved, "with": base_id}}})
    used = (f"baseline: the base {options.base} (commit {base_commit['commit'] or 'unknown'}), "
            f"measured in this job: {options.processes} rounds of one process of each, "
            f"in a shuffled order (seed {seed})")
    outcome = _judge(run_dir, load_runs([base_dir]), [used], options, interleaved=True)
    return _finish(outcome, base_id, options)


def _base_run_id(run_id: str) -> str:
    return f"{run_id}-base"


def _import(processes: Sequence[BenchmarkProcess], options: GateOptions, run_id: str,
            environment: dict[str, Any], manifest: dict[str, Any],
            merged_json: bool = True) -> Path:
    """The processes as one run; a gate where no benchmark ran is an error, not a pass on
    nothing. `merged_json`: write them merged to `--json` (the code under test's, not the
    base's)."""
    run_dir = import_processes(processes, options.results_dir, run_id,
                               environment=environment, manifest=manifest)
    if load_results(run_dir).empty:
        raise UsageError(f"no benchmark ran: every pytest process ended before collecting one "
                         f"(exit statuses {[p.exit_code for p in processes]}; their output is "
                         f"in {options.results_dir / run_id / 'pytest'})")
    if merged_json and options.json_path is not None:
        present = [p.json_path for p in processes if p.json_path and p.json_path.exists()]
        if present:
            write_json_atomic(options.json_path, merge_benchmark_json(present))
    return run_dir


def _finish(outcome: GateOutcome, baseline: str | None, options: GateOptions) -> GateOutcome:
    _record_verdict(outcome.run_dir, outcome.verdict, baseline)
    if options.markdown_path is not None:
        write_atomic(options.markdown_path, lambda tmp: tmp.write_text(outcome.markdown))
    return outcome


def _history_baseline(baseline: str, fingerprint: dict[str, str], run_id: str,
                      build: Callable[..., Any] = rolling_baseline) -> Any:
    """What `build` (`harness.history.baseline`: `rolling_baseline`, or the cheap
    `baseline_runs` a gate asks before it spends minutes measuring) makes of the history
    `history:DB` names for this machine kind; or, where there is nothing to compare with (no
    store there yet, as in a CI job's first run, or no run of this kind in it), the line that
    says so (a str). A store that cannot be read (a folder, another DuckDB file, a newer
    archbench's) is the user's error, never "no baseline": `UsageError`."""
    store_path = Path(baseline.removeprefix(HISTORY_PREFIX))
    if not store_path.exists():
        return (f"no baseline: no history store at {store_path} yet (its first run; "
                "--record creates it)")
    with HistoryStore(store_path, create=False) as store:
        try:
            return build(store, {"fingerprint": fingerprint}, run_id)
        except NoBaselineRun as exc:
            return f"no baseline: {exc}"


def _record_in_history(outcome: GateOutcome, options: GateOptions) -> str:
    """The main line's run joins the history it was judged against, failed or not.

    The main line's code is what it is: a slowdown that merged (by mistake or as the price of
    a larger model) is its new level. Left out, it would fail every later main-line run
    against the level before it, forever; recorded, the next runs still fail while the runs
    before it are most of the rolling baseline (2 more at 5 runs), then pass, and
    `archbench history regressions` keeps naming the commit of the step. Pull requests are
    judged without --record: nothing they measure becomes a baseline."""
    store_path = Path(options.baseline.removeprefix(HISTORY_PREFIX))
    with HistoryStore(store_path, create=True) as store:
        added = store.add_run(outcome.run_dir, branch=options.branch)
    return ("warning: " if added.outcome == "refused" else "history: ") + added.line


def _judge(run_dir: Path, base: RunSet, used: list[str], options: GateOptions,
           interleaved: bool) -> GateOutcome:
    new = load_runs([run_dir])
    comparison = compare(base, new, options.threshold, family_wise=True)
    sensitivity = sensitivity_line(detectable_changes(base.results, new.results,
                                                      options.threshold), options.threshold)
    shift = run_shift_line(comparison.table, options.threshold, interleaved)
    context = [*used, sensitivity, *([shift] if shift else [])]
    lines = [*context, comparison.format_text(only_changes=True)]
    verdict = FAILED if comparison.exit_code else PASSED
    return GateOutcome(verdict, comparison.exit_code, run_dir, lines,
                       comparison_markdown(comparison, "archbench ci", context))


def _first_run(run_dir: Path, no_baseline: str) -> GateOutcome:
    """No baseline (`no_baseline` says why): nothing to compare, but a benchmark that does not
    finish still fails."""
    rows = load_results(run_dir)
    broken = rows[rows["status"].isin(BROKEN_STATUSES)]
    lines = [no_baseline + ": nothing to compare; "
             + ("this run is not a baseline, as benchmarks did not finish" if len(broken) else
                "this run is the baseline of the next")]
    lines += [f"  {row.case_id}: {row.status} ({row.reason})" for row in broken.itertuples()]
    lines.append(f"{len(rows) - len(broken)} benchmarks finished, {len(broken)} did not: "
                 + ("broken benchmarks (exit 1)" if len(broken) else "no baseline (exit 0)"))
    mark = "❌" if len(broken) else "✅"
    markdown = "\n".join([f"### {mark} archbench ci: {lines[-1]}", "", lines[0], "",
                          *(f"- `{line.strip()}`" for line in lines[1:-1])]) + "\n"
    return (GateOutcome(FAILED, 1, run_dir, lines, markdown) if len(broken)
            else GateOutcome(NO_BASELINE, 0, run_dir, lines, markdown))


def _no_baseline_line(results_dir: Path, fingerprint: dict[str, str], note: str) -> str:
    return (f"no baseline: no passing archbench ci run of this machine kind "
            f"({fingerprint_id(fingerprint)}) with >= 2 processes in {results_dir}"
            + (f" ({note})" if note else ""))


def _record_verdict(run_dir: Path, verdict: str, baseline: str | None) -> None:
    """The verdict in the run's manifest: what `find_baseline` reads to skip failed runs."""
    path = run_dir / MANIFEST
    manifest = json.loads(path.read_text())
    manifest["ci"].update(verdict=verdict, finished=dt.datetime.now(dt.timezone.utc).isoformat(),
                          baseline=baseline)
    write_json_atomic(path, manifest)


def _commit_info(processes: Sequence[BenchmarkProcess],
                 folder: Path | None = None) -> dict[str, str]:
    """The commit of the code benchmarked (where pytest ran: `folder`, else here), from
    pytest-benchmark's commit_info, else from git; empty where neither knows."""
    for process in processes:
        if process.json_path is not None and process.json_path.exists():
            info = json.loads(process.json_path.read_text()).get("commit_info") or {}
            if info.get("id"):
                return {"commit": str(info["id"])[:12] + ("-dirty" if info.get("dirty") else ""),
                        "branch": str(info.get("branch") or "")}
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True,
                                text=True, timeout=10, cwd=folder).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {"commit": commit, "branch": ""}

