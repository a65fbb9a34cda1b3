"""`archbench` commands: list, run, ab, selftest, show, ops, trace, report, compare, import, ci,
history.

Errors for people: any bad input (unknown suite, size, backend, malformed file) ends in one line
on stderr naming the valid choices, exit status 2, and no traceback unless --debug. So does a
write the disk refuses (full, read-only), with what to do once it is fixed. Warnings about the
stored runs (an unreadable case file) are one line each, and each is shown once.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness.ci import DEFAULT_PROCESSES as DEFAULT_CI_PROCESSES
from harness.ci import DEFAULT_ROUNDS_WITH_BASE
from harness.ci import DEFAULT_TIMEOUT_S as DEFAULT_CI_TIMEOUT_S
from harness.errors import UsageError
from harness.history import (
    DEFAULT_BASELINE_RUNS,
    FORMATS,
    MAIN_BRANCH,
    MIN_PERSISTENCE,
    STEP_THRESHOLD,
)
from harness.measure.precision import DEFAULT_MAX_PROCESSES, DEFAULT_PRECISION
from harness.measure.timing import DEFAULT_PROCESSES
from harness.results.storage import StorageError
from harness.results.store import UnreadableCaseWarning

if TYPE_CHECKING:
    import pandas as pd

    from harness.cases import SweepConfig
    from harness.history.trends import Quantity, Selection
    from harness.results.runs import RunSet

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but its errors are one line like ours."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _add_selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", dest="suites", nargs="+", action="extend", default=[],
                        metavar="NAME", help="suites to run (default: all)")
    parser.add_argument("--size", dest="sizes", nargs="+", action="extend", default=[],
                        metavar="SIZE", help="sizes (default: each suite's default sizes)")
    parser.add_argument("--backend", dest="backends", nargs="+", action="extend", default=[],
                        metavar="NAME", help="backends (default: all; unavailable = skipped)")
    parser.add_argument("--phase", dest="phases", nargs="+", action="extend", default=[],
                        metavar="PHASE", help="train and/or infer (default: both)")
    parser.add_argument("--scenario", dest="scenarios", nargs="+", action="extend",
                        default=[], metavar="NAME",
                        help="latency, throughput, batch-sweep, or under load: server, "
                             "single-stream, multi-stream, offline (default: inference at "
                             "throughput and latency, training at throughput)")
    parser.add_argument("--batch-size", dest="batch_sizes", nargs="+", action="extend",
                        type=int, default=[], metavar="N",
                        help="batch sizes (default: 32 for throughput, 1 for latency; server "
                             "and offline: the largest dynamic batch, 32; multi-stream: "
                             "samples a query, 8)")


def _add_sweep_options(parser: argparse.ArgumentParser) -> None:
    """What to run and how to measure it: shared by `run` and `ab`."""
    _add_selection(parser)
    parser.add_argument("--suite-file", dest="suite_files", action="append", default=[],
                        metavar="FILE", help="a Python file defining your own Suite(s)")
    parser.add_argument("--model", metavar="MODULE:FACTORY",
                        help="your model as built, from a callable that returns it "
                             "(package.module:make or path/file.py:make); needs --input")
    parser.add_argument("--input", dest="inputs", action="append", default=[],
                        metavar="SPEC", help="one input of --model, e.g. "
                        "'input_ids:int64[B,128]<30522' or 'attention_mask:int64[B,128]=1'")
    parser.add_argument("--output", metavar="NAME",
                        help="the tensor of --model's output that parity compares, e.g. logits")
    parser.add_argument("--quick", action="store_true",
                        help="few iterations, short budget, one process per case: a smoke test")
    parser.add_argument("--processes", type=int, metavar="P",
                        help="fresh processes that time each case, in interleaved rounds "
                             f"(default {DEFAULT_PROCESSES}; 1 with --quick)")
    parser.add_argument("--timeout", type=float, help="seconds per process before it is killed")
    parser.add_argument("--no-energy", action="store_true", help="do not measure energy (by "
                        "default each process measures it after its timed region, for seconds, "
                        "where the hardware counts it: NVML on a GPU, RAPL on a CPU)")
    parser.add_argument("--max-memory", type=float, metavar="GB", help="host memory one case "
                        "process may use; past it the case is an `oom` row and the sweep goes on "
                        "(default: 80%% of the machine's memory, divided among the cases that "
                        "run on it at once)")
    parser.add_argument("--threads", type=int, help="torch/ORT intra-op threads (default: all)")
    parser.add_argument("--seed", type=int, help="seed of weights, split and inputs (default 0)")
    parser.add_argument("--profile", action="store_true",
                        help="profile each case after its timed region: op table, trace, "
                             "machine ceilings and %% of peak (docs/profiling.md)")
    parser.add_argument("--slo-ms", type=float, metavar="MS",
                        help="server: the p99 latency target of the peak search (default: 10 "
                             "batch-1 steps, at least 5 ms)")
    parser.add_argument("--max-wait-ms", type=float, metavar="MS",
                        help="server: how long a batch may wait to fill (default: a fifth of "
                             "the target; 0: never wait)")
    parser.add_argument("--server-qps", type=float, metavar="QPS",
                        help="server: one fixed arrival rate (its p99 is the number) instead "
                             "of searching for the peak")
    parser.add_argument("--in-flight", type=int, metavar="N",
                        help="serving: batches launched before the oldest has finished "
                             "(default 2 on CUDA; elsewhere 1, a CPU step having finished when "
                             "it returns; N > 1 runs OpenVINO's requests side by side)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks")
    common.add_argument("--results", type=Path, default=Path("results"),
                        help="folder holding runs (default: ./results)")
    parser = _Parser(prog="archbench", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    add = lambda name, **kw: commands.add_parser(name, parents=[common], **kw)  # noqa: E731

    listing = add("list", help="suites, sizes and backends")
    listing.add_argument("--suite-file", dest="suite_files", action="append", default=[])

    run = add("run", help="run a sweep (or resume one)")
    _add_sweep_options(run)
    run.add_argument("--resume", metavar="RUN", help="finish the unfinished cases of RUN")
    run.add_argument("--run-id", help="name the run (default: UTC timestamp)")
    run.add_argument("--report", action="store_true", help="write the HTML report afterwards")
    run.add_argument("--executor", choices=("local", "ray"), default="local",
                     help="local: one case at a time on this machine (default); ray: the "
                          "cases spread over a Ray cluster")
    run.add_argument("--ray-address", metavar="ADDR", help="the Ray cluster (default: "
                     "$RAY_ADDRESS, else a Ray started on this machine for the run)")
    run.add_argument("--cases-per-node", type=int, metavar="N", help="CPU cases that share "
                     "a node at once, each on 1/N of its CPUs (default 1: a node's CPUs are "
                     "one case's alone)")
    run.add_argument("--max-retries", type=int, metavar="N", help="runs again, up to N "
                     "times, a case process that the Ray cluster lost (its node died, Ray's "
                     "memory monitor killed it), on another node of the same kind (default 1); "
                     "never a case that failed by itself. The local executor has no such "
                     "failures")
    run.add_argument("--precision", type=float, metavar="SHARE",
                     help="the precision each case's number aims at: its 95%% interval's "
                          f"half-width as a share of its centre (default {DEFAULT_PRECISION:g}, "
                          "+-5%%); every row says what it reached")
    run.add_argument("--budget-min", type=float, metavar="MIN",
                     help="minutes of wall time the whole sweep may take: after the first "
                          "rounds, more processes go to the cases furthest from the precision, "
                          "most gain per second first, until all meet it or the budget is spent "
                          "(default: none, the first rounds only; local executor)")
    run.add_argument("--max-processes", type=int, metavar="P",
                     help=f"the most processes a case gets from the budget (default "
                          f"{DEFAULT_MAX_PROCESSES})")
    run.add_argument("--price", action="append", default=[], metavar="[KIND=]USD",
                     help="dollars an hour of the machine (of the KIND of node, with "
                          "--per-hardware): rows get the cost of a million samples; repeatable")
    run.add_argument("--prices", type=Path, metavar="FILE", help="the prices as TOML: a table "
                     "[usd_per_hour] of KIND = dollars an hour (\"*\": any machine)")
    run.add_argument("--history", type=Path, metavar="DB", help="add the run to this history "
                     "store when it ends (archbench history add)")
    run.add_argument("--accelerator-type", metavar="NAME",
                     help="run only on nodes of this Ray accelerator type, e.g. A10G")
    run.add_argument("--per-hardware", action="store_true",
                     help="the whole matrix once on every kind of node in the cluster")

    ab = add("ab", help="time the same cases under two variants, alternating on this "
                        "machine, and compare them; exit 1 on a regression")
    _add_sweep_options(ab)
    ab.add_argument("--base-python", metavar="PY", help="interpreter of the base variant "
                    "(default: this one)")
    ab.add_argument("--new-python", metavar="PY", help="interpreter of the new variant")
    ab.add_argument("--base-suite-file", dest="base_suite_files", action="append", default=[],
                    metavar="FILE", help="suite file(s) of the base variant only")
    ab.add_argument("--new-suite-file", dest="new_suite_files", action="append", default=[],
                    metavar="FILE", help="suite file(s) of the new variant (same suite names)")
    ab.add_argument("--threshold", type=float, default=0.10,
                    help="smallest relative change called a change (default 0.10)")
    ab.add_argument("--resume", metavar="ID", help="finish the A/B experiment ID")
    ab.add_argument("--run-id", help="name of the experiment (runs ID-base and ID-new)")

    selftest = add("selftest", help="how good is this machine for benchmarking: false alarms, "
                                    "spread between processes, the smallest detectable change")
    selftest.add_argument("--processes", type=int, default=5, metavar="P",
                          help="processes a side in each experiment (default 5)")
    selftest.add_argument("--threshold", type=float, default=0.10,
                          help="the threshold to judge (default 0.10)")
    selftest.add_argument("--slowdown", type=float, default=0.25,
                          help="the planted slowdown to catch (default 0.25)")
    selftest.add_argument("--threads", type=int, default=0,
                          help="torch/ORT intra-op threads (default: all)")
    selftest.add_argument("--run-id", help="prefix of its runs' names (default: UTC timestamp)")
    selftest.add_argument("--no-progress", action="store_true", help="no progress bar")

    show = add("show", help="print a run's summary table")
    show.add_argument("run", metavar="RUN")
    show.add_argument("--all", action="store_true",
                      help="a line for every case, skipped ones included (default: the cases "
                      "that ran, then the skipped ones grouped by reason)")

    ops = add("ops", help="print the op table of a profiled run (archbench run --profile)")
    ops.add_argument("run", metavar="RUN")
    ops.add_argument("--case", metavar="ID", help="one case (default: every profiled case)")
    ops.add_argument("--top", type=int, default=10, metavar="N",
                     help="rows per case (default 10)")
    ops.add_argument("--by", default="op", metavar="GROUPING",
                     help="op (default) or category")

    trace = add("trace", help="print where a profiled case's trace is and how to open it")
    trace.add_argument("run", metavar="RUN")
    trace.add_argument("case", metavar="CASE")

    report = add("report", help="write the HTML report of one or more runs, or of a history")
    report.add_argument("runs", nargs="*", metavar="RUN")
    report.add_argument("--history", type=Path, metavar="DB", help="the history page of this "
                        "store instead: a timeline per case with its steps")
    _add_history_selection(report)
    report.add_argument("--out", type=Path, help="folder of the report (default: reports/...)")
    report.add_argument("--baseline", default="cpu-eager", help="backend speedups refer to")
    report.add_argument("--threshold", type=float, default=0.10,
                        help="smallest relative change a comparison calls (default 0.10)")

    compare = add("compare", help="compare two runs; exit 1 on a regression or a newly "
                                  "broken case")
    compare.add_argument("runs", nargs="+", metavar="[BASE] NEW",
                         help="the base run and the new run; only NEW with --baseline")
    compare.add_argument("--baseline", metavar="history:DB", default="",
                         help="compare NEW with the last --baseline-runs runs of its machine "
                              "kind on the main line in this history store (a rolling baseline)")
    compare.add_argument("--baseline-runs", type=int, default=DEFAULT_BASELINE_RUNS, metavar="N",
                         help=f"runs of the rolling baseline (default {DEFAULT_BASELINE_RUNS})")
    compare.add_argument("--main-branch", default=MAIN_BRANCH, metavar="NAME",
                         help=f"the main line's branch (default {MAIN_BRANCH}; runs recorded "
                              "on no branch count too)")
    compare.add_argument("--report-url", default="", metavar="URL",
                         help="a link to the report, in markdown and JSON output")
    compare.add_argument("--threshold", type=float, default=0.10,
                         help="smallest relative change called a change (default 0.10)")
    compare.add_argument("--strict", action="store_true",
                         help="refuse runs that differ in machine, core count, library "
                              "versions, threads, --quick or timing policy")
    compare.add_argument("--allow-broken", action="store_true",
                         help="a case that broke in NEW (ok in BASE, error/crashed/timeout or "
                              "missing in NEW) does not fail the comparison")
    compare.add_argument("--family-wise", action="store_true",
                         help="adjust the cases' p-values together (Benjamini-Hochberg), as "
                              "archbench ci does: a gate over many cases")
    compare.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                         help="text (default), markdown (a pull request's comment or a job "
                              "summary) or json")
    importer = add("import", help="turn pytest-benchmark JSON into an archbench run (several "
                                  "files: the fresh processes of one run)")
    importer.add_argument("files", nargs="+", type=Path, metavar="FILE.json")
    importer.add_argument("--run-id", help="name of the run (default: from the file name)")
    importer.add_argument("--report", action="store_true", help="write its HTML report too")

    ci = add("ci", help="the CI gate: the pytest-benchmark suite in P fresh processes, "
                        "compared with the last passing run of this machine kind; exit 1 on a "
                        "regression or a broken benchmark")
    ci.add_argument("pytest_args", nargs="*", metavar="-- PYTEST-ARGS",
                    help="options for the benchmarks, after '--', e.g. -- "
                         "--archbench-sizes=tiny,small --archbench-suite-file=my_suite.py")
    ci.add_argument("--processes", type=int, metavar="P",
                    help=f"fresh pytest processes (default {DEFAULT_CI_PROCESSES}); with "
                         f"--base, rounds of one process per version (default "
                         f"{DEFAULT_ROUNDS_WITH_BASE})")
    ci.add_argument("--threshold", type=float, default=0.10,
                    help="smallest relative change called a change (default 0.10)")
    ci.add_argument("--baseline", metavar="RUN|history:DB", default="",
                    help="the run to compare against (default: the newest passing archbench "
                         "ci run of this machine kind in --results), or history:DB, the last "
                         f"{DEFAULT_BASELINE_RUNS} runs of this machine kind on the main line "
                         "of that history store")
    ci.add_argument("--record", action="store_true",
                    help="with --baseline history:DB, add the run to that history, failed or "
                         "not (the main line's job: its code is the new level; `history "
                         "regressions` names the commit of a step). Not on pull requests")
    ci.add_argument("--branch", metavar="NAME", help="the branch --record records the run on "
                    "(default: the branch git had checked out)")
    ci.add_argument("--base", metavar="FOLDER|COMMIT", default="",
                    help="measure the base version in this job, interleaved with this code, "
                         "and compare paired by round: a checkout's folder, or a git commit "
                         "(e.g. origin/main), checked out for the gate's length")
    ci.add_argument("--require-baseline", action="store_true",
                    help="no baseline is an error (exit 2) instead of a first run")
    ci.add_argument("--benchmarks", type=Path, default=Path("benchmarks"),
                    help="the pytest-benchmark tests (default: ./benchmarks)")
    ci.add_argument("--json", dest="json_path", type=Path, metavar="FILE",
                    help="write the pytest-benchmark JSON of all processes merged")
    ci.add_argument("--markdown", dest="markdown_path", type=Path, metavar="FILE",
                    help="write the verdict as markdown, for a pull request")
    ci.add_argument("--run-id", default="", help="name of the run (default: bench-ci-<UTC>)")
    ci.add_argument("--timeout", type=float, default=DEFAULT_CI_TIMEOUT_S,
                    help="seconds per pytest process before it is killed "
                         f"(default {DEFAULT_CI_TIMEOUT_S:g})")
    _add_history_commands(add)
    return parser


def _add_history_selection(parser: argparse.ArgumentParser) -> None:
    """Which series of a history to read, and what counts as a step."""
    _add_selection(parser)
    parser.add_argument("--machine", dest="machines", action="append", default=[],
                        metavar="ID", help="machine kinds (fingerprint ids or prefixes; "
                                           "default: all)")
    parser.add_argument("--branch", default=None, metavar="NAME",
                        help="only runs of this branch (and of none); default: every run")
    parser.add_argument("--step-threshold", type=float, default=STEP_THRESHOLD,
                        metavar="FRACTION", help=f"smallest step reported (default "
                                                 f"{STEP_THRESHOLD:g})")
    parser.add_argument("--min-persistence", type=int, default=MIN_PERSISTENCE, metavar="K",
                        help=f"commits a new level must last to be a step (default "
                             f"{MIN_PERSISTENCE})")
    parser.add_argument("--metric", choices=("time", "energy"), default="time",
                        help="what the series follow: step time (ms), or energy per sample "
                             "(J/sample) where the hardware counted it (default time)")


def _add_history_commands(add: Callable[..., argparse.ArgumentParser]) -> None:
    history = add("history", help="the history of many runs across commits: add runs, show "
                                  "trends, find regressions")
    actions = history.add_subparsers(dest="action", required=True, parser_class=_Parser)
    store = _Parser(add_help=False)
    store.add_argument("--history", type=Path, metavar="DB",
                       help="the history store (default: <results>/history.duckdb)")
    store.add_argument("--results", type=Path, default=Path("results"),
                       help="folder holding runs (default: ./results)")
    store.add_argument("--debug", action="store_true", help="show tracebacks")
    adding = actions.add_parser("add", parents=[store], help="add runs (adding one twice "
                                                             "changes nothing)")
    adding.add_argument("runs", nargs="+", metavar="RUN")
    adding.add_argument("--commit", metavar="REV", help="the commit the run measured, when it "
                        "recorded none or the wrong one")
    adding.add_argument("--branch", metavar="NAME", help="the branch to record it on")
    importing = actions.add_parser("import", parents=[store], help="add a .benchmarks/ folder "
                                   "of pytest-benchmark autosaves, one run per file")
    importing.add_argument("folder", type=Path, metavar="FOLDER")
    importing.add_argument("--branch", metavar="NAME", help="the branch to record them on "
                           "(default: each file's commit_info)")
    for name, text in (("show", "a table: each case's latest point, trend and last step"),
                       ("regressions", "the slower steps; exit 1 if there is one")):
        action = actions.add_parser(name, parents=[store], help=text)
        _add_history_selection(action)
        action.add_argument("--format", choices=FORMATS, default="text",
                            help="text (default), markdown or json")
    regressions = actions.choices["regressions"]
    regressions.add_argument("--since", default="", metavar="REV",
                             help="only steps after this commit")
    regressions.add_argument("--report-url", default="", metavar="URL",
                             help="a link to the history report, in markdown and JSON output")


def cmd_list(args: argparse.Namespace) -> int:
    from harness.backends import BACKENDS
    from harness.backends.base import no_cuda_reason
    from harness.backends.onnx_export import Int8Settings
    from harness.machine import cpu_features
    from harness.machine.environment import cpu_count, cpu_model
    from harness.measure.model_facts import count_params, flops_per_sample
    from harness.model_io import input_text
    from harness.terminal.summary import human_count
    from suites.registry import available_suites

    cuda = no_cuda_reason() is None
    print(f"Suites (size: params, forward FLOPs/sample; * = default size on this machine, "
          f"{'with' if cuda else 'without'} CUDA)")
    for suite in available_suites(args.suite_files).values():
        task = suite.task
        print(f"  {suite.name:12s} {suite.description}  " + (
            f"[task: {task.name}, {task.metric}, budget {task.train_steps} steps]" if task
            else f"[no task, weights {suite.weights}]"))
        for size in suite.sizes:
            data = suite.data(size)
            model = suite.model(size, data, seed=0)
            one = suite.synthetic_batch(data, 1, seed=0)[0]
            mark = "*" if size in suite.defaults(cuda) else " "
            print(f"    {mark}{size:8s} {human_count(count_params(model)):>7s} params  "
                  f"{human_count(flops_per_sample(model, one)):>7s} FLOPs  "
                  f"input {input_text(one)}")
    print(f"\nThis CPU: {cpu_model()}, {cpu_count()} CPUs available; ATen kernels "
          f"{cpu_features.cpu_isa()}; flags: {cpu_features.flags_text() or 'none of note'}")
    bf16 = cpu_features.cpu_bf16_support()
    print(f"  bf16: {'native' if bf16.native else bf16.reason}")
    print(f"  int8: {'VNNI' if cpu_features.has_vnni() else 'no VNNI'}, quantised as "
          f"{Int8Settings.for_this_cpu().description}")
    print("\nBackends")
    for name, backend in BACKENDS.items():
        reason = backend.unavailable_reason()
        state = "available" if reason is None else f"unavailable: {reason}"
        if reason is None:
            state += "".join(f"; {phase}: {skip}" for phase in backend.phases
                             if (skip := backend.default_skip_reason(phase)))
        phases = "+".join(backend.phases)
        print(f"  {name:25s} {backend.device:4s} {backend.precision:5s} {phases:11s} {state}")
    return 0


def _sweep_config(args: argparse.Namespace) -> SweepConfig:
    """The sweep the selection and measurement options describe (`run` and `ab`)."""
    from harness.cases import SweepConfig

    overrides = {key: value for key, value in {
        "suites": tuple(args.suites), "sizes": tuple(args.sizes),
        "backends": tuple(args.backends), "phases": tuple(args.phases),
        "scenarios": tuple(args.scenarios), "batch_sizes": tuple(args.batch_sizes),
        "timeout_s": args.timeout, "max_memory_gb": args.max_memory,
        "threads": args.threads, "seed": args.seed, "processes": args.processes,
        "cases_per_node": getattr(args, "cases_per_node", None),  # `run` only, not `ab`
        "max_retries": getattr(args, "max_retries", None),
        "precision": getattr(args, "precision", None),  # `run` only, as the two below
        "budget_min": getattr(args, "budget_min", None),
        "max_processes": getattr(args, "max_processes", None),
        "prices": _prices(args),
        "accelerator_type": getattr(args, "accelerator_type", None),
        "suite_files": _resolved(args.suite_files), "model": resolved_target(args.model),
        "inputs": tuple(args.inputs), "output": args.output,
        "slo_ms": args.slo_ms, "max_wait_ms": args.max_wait_ms, "server_qps": args.server_qps,
        "in_flight": args.in_flight,
    }.items() if value not in (None, ())}
    return SweepConfig(quick=args.quick, profile=args.profile, energy=not args.no_energy,
                       **overrides)


def _prices(args: argparse.Namespace) -> tuple[tuple[str, float], ...]:
    """`--prices FILE` and `--price [KIND=]USD` (`run` only), the latter winning per kind."""
    from harness.results.cost import load_prices, parse_price

    prices = load_prices(args.prices) if getattr(args, "prices", None) else {}
    prices.update(parse_price(text) for text in getattr(args, "price", []))
    return tuple(prices.items())


def resolved_target(target: str | None) -> str | None:
    """`--model path/file.py:name` with the path made absolute (cases run it from the
    manifest, and `--resume` may run elsewhere); a module path is left as it is."""
    where, sep, name = (target or "").rpartition(":")
    return f"{Path(where).resolve()}{sep}{name}" if where.endswith(".py") else target


def _resolved(files: Sequence[str]) -> tuple[str, ...]:
    return tuple(str(Path(f).resolve()) for f in files)


def _resume_refuses(args: argparse.Namespace, extra: dict[str, object] | None = None) -> None:
    """--resume takes the stored configuration: any option that would change it is refused."""
    ignored = {"--suite": args.suites, "--size": args.sizes, "--backend": args.backends,
               "--phase": args.phases, "--scenario": args.scenarios,
               "--batch-size": args.batch_sizes,
               "--suite-file": args.suite_files, "--model": args.model,
               "--input": args.inputs, "--output": args.output, "--quick": args.quick,
               "--threads": args.threads, "--seed": args.seed, "--timeout": args.timeout,
               "--max-memory": args.max_memory,
               "--processes": args.processes, "--run-id": args.run_id,
               "--profile": args.profile, "--no-energy": args.no_energy,
               "--slo-ms": args.slo_ms,
               "--max-wait-ms": args.max_wait_ms, "--server-qps": args.server_qps,
               "--in-flight": args.in_flight, **(extra or {})}
    given = [flag for flag, value in ignored.items() if value not in (None, False, [])]
    if given:
        raise UsageError(f"--resume takes the run's own configuration; drop {', '.join(given)}")


def cmd_run(args: argparse.Namespace) -> int:
    from harness.cases import expand
    from harness.executors import open_executor
    from harness.executors.termination import termination_as_interrupt
    from harness.results.store import load_results, load_samples
    from harness.sweep.run import resume_config, run_sweep, start_run
    from harness.terminal.summary import summary_text, sweep_totals

    run_dir = None
    if args.resume:
        _resume_refuses(args, {"--cases-per-node": args.cases_per_node,
                               "--max-retries": args.max_retries,
                               "--precision": args.precision, "--budget-min": args.budget_min,
                               "--max-processes": args.max_processes,
                               "--price": args.price, "--prices": args.prices,
                               "--accelerator-type": args.accelerator_type,
                               "--per-hardware": args.per_hardware})
        run_dir, config = resume_config(args.resume, args.results)
    else:
        config = _sweep_config(args)
    plan = expand(config)  # bad names fail before a cluster is joined
    executor, placed = open_executor(args.executor, config, args.ray_address,
                                     args.per_hardware)
    if placed != config:  # --per-hardware: the matrix once per kind of node
        config, plan = placed, expand(placed)
    with contextlib.closing(executor):  # a Ray started for the run stops with it
        run_dir = run_dir or start_run(config, args.results, args.run_id, plan)
        print(f"run {run_dir.name}: results in {run_dir}", file=sys.stderr)
        start = time.perf_counter()
        resume = f"archbench run --resume {run_dir.name} --results {args.results}"
        try:
            with termination_as_interrupt():
                ran = run_sweep(run_dir, config,
                                progress=False if args.no_progress else None,
                                executor=executor, plan=plan)
        except KeyboardInterrupt:
            print(f"\ninterrupted; finished cases are kept. Resume with: {resume}",
                  file=sys.stderr)
            return 130
        except StorageError as exc:
            raise StorageError(f"{exc}; the sweep stopped and finished cases are kept. Once "
                               f"the folder can be written again, resume with: "
                               f"{resume}") from exc
    elapsed = time.perf_counter() - start
    frame = load_results(run_dir)
    print(summary_text(frame, samples=load_samples(run_dir)))
    print(f"\n{sweep_totals(frame, ran, elapsed)}")
    _print_footer(frame)
    print(f"results: {run_dir}")
    if args.history is not None:
        from harness.history.commands import add_runs

        add_runs(args.history, [run_dir])
    if args.report:
        report_path = _write_report([run_dir], None, "cpu-eager", 0.10)
        print(f"report: {report_path}")
    return 0


def cmd_ab(args: argparse.Namespace) -> int:
    from harness.analysis.compare import compare_runs
    from harness.executors.termination import termination_as_interrupt
    from harness.sweep.ab import resume_ab, run_ab, start_ab

    if args.resume:
        _resume_refuses(args, {"--base-python": args.base_python,
                               "--new-python": args.new_python,
                               "--base-suite-file": args.base_suite_files,
                               "--new-suite-file": args.new_suite_files})
        base, new = resume_ab(args.resume, args.results)
    else:
        config = _sweep_config(args)
        pythons = (args.base_python or sys.executable, args.new_python or sys.executable)
        files = (config.suite_files + _resolved(args.base_suite_files),
                 config.suite_files + _resolved(args.new_suite_files))
        base, new = start_ab(config, args.results, pythons, files, args.run_id)
    ab_id = base.run_dir.name.removesuffix("-base")
    print(f"A/B {ab_id}: base {base.run_dir}, new {new.run_dir}", file=sys.stderr)
    try:
        with termination_as_interrupt():
            run_ab(base, new, progress=False if args.no_progress else None)
    except KeyboardInterrupt:
        print(f"\ninterrupted; finished processes are kept. Resume with: archbench ab "
              f"--resume {ab_id} --results {args.results}", file=sys.stderr)
        return 130
    comparison = compare_runs(base.run_dir, new.run_dir, threshold=args.threshold)
    print(comparison.format_text())
    return comparison.exit_code


def cmd_selftest(args: argparse.Namespace) -> int:
    from harness.sweep.selftest import run_selftest

    if args.processes < 2:
        raise UsageError("selftest needs at least 2 processes a side to see their spread; "
                         f"got --processes {args.processes}")
    if not 0 < args.slowdown < 10:
        raise UsageError(f"--slowdown must be a fraction such as 0.25; got {args.slowdown}")
    report = run_selftest(args.results, args.processes, args.threshold, args.slowdown,
                          args.threads, args.run_id,
                          progress=False if args.no_progress else None)
    print(report.format_text())
    return 0


def _write_report(run_dirs: Sequence[Path], out: Path | None, baseline: str,
                  threshold: float) -> Path:
    from harness.report import write_report

    if out is None:
        out = Path("reports") / "-vs-".join(d.name for d in run_dirs)
    return write_report(run_dirs, out, baseline=baseline, threshold=threshold)


def cmd_show(args: argparse.Namespace) -> int:
    from harness.results.store import load_results, load_samples, resolve_run
    from harness.terminal.summary import status_counts, summary_text

    run_dir = resolve_run(args.run, args.results)
    frame = load_results(run_dir)
    print(summary_text(frame, all_rows=args.all, samples=load_samples(run_dir)))
    print(f"\n{len(frame)} cases ({status_counts(frame)}); run {run_dir}")
    _print_footer(frame)
    return 0


def cmd_ops(args: argparse.Namespace) -> int:
    from harness.results.store import load_ops, load_results, resolve_run
    from harness.terminal.ops_view import ops_text

    run_dir = resolve_run(args.run, args.results)
    print(ops_text(load_ops(run_dir), load_results(run_dir), args.case, args.top, args.by))
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    from harness.results.store import load_results, resolve_run
    from harness.terminal.ops_view import trace_text

    run_dir = resolve_run(args.run, args.results)
    print(trace_text(load_results(run_dir), str(run_dir), args.case))
    return 0


def _print_footer(frame: pd.DataFrame) -> None:
    """What a run's table leaves for its last lines: how many cases met the precision target,
    the cheapest backends (a run given prices), and a warning when cases were timed on a busy
    machine."""
    from harness.terminal.summary import cheapest_summary, contention_summary, precision_summary

    if precision := precision_summary(frame):
        print(precision)
    if cheapest := cheapest_summary(frame):
        print(cheapest)
    warning = contention_summary(frame)
    if warning:
        print(f"warning: {warning}")


def cmd_report(args: argparse.Namespace) -> int:
    from harness.results.store import resolve_run

    if args.history is not None:
        if args.runs:
            raise UsageError("give runs or --history, not both: the history page draws the "
                             "runs of its store")
        return _history_report(args)
    if not args.runs:
        raise UsageError("give one or more runs to report on, or --history DB")
    run_dirs = [resolve_run(run, args.results) for run in args.runs]
    print(_write_report(run_dirs, args.out, args.baseline, args.threshold))
    return 0


def _history_report(args: argparse.Namespace) -> int:
    from harness.history.commands import history_frames
    from harness.report.history_page import write_history_report

    points, steps, machines = history_frames(args.history, _history_selection(args),
                                             args.step_threshold, args.min_persistence,
                                             _quantity(args))
    out = args.out or Path("reports") / f"history-{args.history.stem}"
    print(write_history_report(points, steps, machines, out))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from harness.analysis.compare import compare
    from harness.results.runs import load_runs
    from harness.results.store import resolve_run

    runs = [resolve_run(run, args.results) for run in args.runs]
    if args.baseline:
        if len(runs) != 1:
            raise UsageError("with --baseline, give only the new run")
        base = _rolling_baseline(args.baseline, runs[0], args.baseline_runs, args.main_branch)
    elif len(runs) != 2:
        raise UsageError("give the base run and the new run (or only the new one with "
                         "--baseline history:DB)")
    else:
        base = load_runs(runs[:1])
    comparison = compare(base, load_runs(runs[-1:]), threshold=args.threshold,
                         strict=args.strict, allow_broken=args.allow_broken,
                         family_wise=args.family_wise)
    if args.format == "markdown":
        from harness.analysis.compare_markdown import comparison_markdown

        print(comparison_markdown(comparison, report_url=args.report_url), end="")
    elif args.format == "json":
        from harness.analysis.compare_json import comparison_json

        print(comparison_json(comparison, report_url=args.report_url), end="")
    else:
        print(comparison.format_text())  # warnings first, in the text
    return comparison.exit_code


def _rolling_baseline(baseline: str, new_run: Path, runs: int, branch: str) -> RunSet:
    """The base `--baseline history:DB` names for the new run (`harness.history.baseline`)."""
    from harness.history.baseline import PREFIX, rolling_baseline
    from harness.history.store import HistoryStore
    from harness.results.store import load_manifest

    if not baseline.startswith(PREFIX):
        raise UsageError(f"--baseline takes {PREFIX}DB, a history store; got '{baseline}'")
    with HistoryStore(Path(baseline.removeprefix(PREFIX)), create=False) as store:
        manifest = load_manifest(new_run)
        return rolling_baseline(store, manifest, str(manifest.get("run_id") or new_run.name),
                                runs, branch)


def _quantity(args: argparse.Namespace) -> Quantity:
    from harness.history.trends import QUANTITIES

    return QUANTITIES[args.metric]


def _history_selection(args: argparse.Namespace) -> Selection:
    """The selection the history commands read, once their step options are checked."""
    from harness.history.trends import Selection

    if not math.isfinite(args.step_threshold) or args.step_threshold < 0:
        raise UsageError(f"--step-threshold is a fraction >= 0, e.g. 0.1 for 10%; got "
                         f"{args.step_threshold:g}")
    if args.min_persistence < 1:
        raise UsageError(f"--min-persistence is a number of commits >= 1; got "
                         f"{args.min_persistence}")
    return Selection(suites=tuple(args.suites), sizes=tuple(args.sizes),
                     backends=tuple(args.backends), phases=tuple(args.phases),
                     scenarios=tuple(args.scenarios), machines=tuple(args.machines),
                     branch=args.branch)


def cmd_history(args: argparse.Namespace) -> int:
    from harness.history import commands

    store = args.history or commands.default_path(args.results)
    if args.action == "add":
        return commands.add_runs(store, [_run_folder(run, args.results) for run in args.runs],
                                 args.commit, args.branch)
    if args.action == "import":
        return commands.import_benchmarks(store, args.folder, args.branch)
    selection = _history_selection(args)
    if args.action == "show":
        print(commands.show(store, selection, args.step_threshold, args.min_persistence,
                            args.format, _quantity(args)), end="")
        return 0
    found = commands.regressions(store, selection, args.since, args.step_threshold,
                                 args.min_persistence, _quantity(args))
    print(found.render(args.format, args.report_url), end="")
    return found.exit_code


def _run_folder(run: str, results: Path) -> Path:
    """A run folder as given, or a run id under `results` (never refused here: the store
    refuses what is not a run, with its line, and adds the others)."""
    given = Path(run)
    return given if given.exists() or not (results / run).exists() else results / run


def cmd_import(args: argparse.Namespace) -> int:
    from harness.results.pytest_benchmark import import_benchmark_json
    from harness.results.store import load_results
    from harness.terminal.summary import summary_text

    run_dir = import_benchmark_json(args.files, args.results, args.run_id)
    print(summary_text(load_results(run_dir)))
    print(f"imported as run {run_dir.name}: {run_dir}")
    if args.report:
        print(f"report: {_write_report([run_dir], None, 'cpu-eager', 0.10)}")
    return 0


def cmd_ci(args: argparse.Namespace) -> int:
    from harness.ci.gate import GateOptions, run_gate

    options = GateOptions(
        results_dir=args.results, benchmarks=args.benchmarks,
        pytest_args=tuple(args.pytest_args),
        processes=(args.processes if args.processes is not None else
                   DEFAULT_ROUNDS_WITH_BASE if args.base else DEFAULT_CI_PROCESSES),
        threshold=args.threshold, baseline=args.baseline, base=args.base,
        require_baseline=args.require_baseline, run_id=args.run_id, json_path=args.json_path,
        markdown_path=args.markdown_path, timeout_s=args.timeout, record=args.record,
        branch=args.branch)
    try:
        outcome = run_gate(options, say=lambda line: print(line, file=sys.stderr, flush=True))
    except KeyboardInterrupt:
        print("\ninterrupted; the pytest process was stopped", file=sys.stderr)
        return 130
    print("\n".join(outcome.lines))
    print(f"results: {outcome.run_dir}")
    return outcome.exit_code


COMMANDS = {"list": cmd_list, "run": cmd_run, "ab": cmd_ab, "selftest": cmd_selftest,
            "show": cmd_show, "ops": cmd_ops, "trace": cmd_trace, "report": cmd_report,
            "compare": cmd_compare, "import": cmd_import, "ci": cmd_ci,
            "history": cmd_history}


def _show_warnings_once() -> Callable[..., None]:
    """A `warnings.showwarning` for people: a warning about a stored run as one line, once per
    command (a report loads each run's results and samples, and both find the same bad file);
    any other warning as Python shows it."""
    shown: set[str] = set()
    python_default = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], *args: object,
             **kwargs: object) -> None:
        if not issubclass(category, UnreadableCaseWarning):
            python_default(message, category, *args, **kwargs)
        elif str(message) not in shown:
            shown.add(str(message))
            print(f"archbench: warning: {message}", file=sys.stderr)
    return show


def main(argv: Sequence[str] | None = None) -> int:
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    with warnings.catch_warnings():
        warnings.simplefilter("always", UnreadableCaseWarning)  # once per command, not process
        warnings.showwarning = _show_warnings_once()
        try:
            args = build_parser().parse_args(argv)
            return COMMANDS[args.command](args)
        except (UsageError, StorageError) as exc:
            if debug:
                raise
            print(f"archbench: error: {exc}", file=sys.stderr)
            return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
