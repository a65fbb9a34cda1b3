"""Options of the pytest-benchmark suite (`benchmarks/test_backends.py`), and its outcome log.

Defaults are the quick mode that `make test` runs (tiny sizes, a few rounds, no torch.compile):
it keeps the benchmarks working without making the test suite slow. `make bench-ci` (through
`archbench ci`) passes larger values. Nothing here asserts anything about speed.

A team benchmarks its own models through the same path: `--archbench-suite-file FILE` (a suite
file, as `archbench run --suite-file` takes) or `--archbench-model MODULE:FACTORY` with
`--archbench-input` specs. Named that way, only those suites run unless `--archbench-suites`
says otherwise, at their own default sizes unless `--archbench-sizes` does.

`archbench ci` runs these with its outcome log (`harness.ci.outcome_log`), which records each
benchmark's case as it is collected, started and ended.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.backends.base import PHASES
from harness.cases import Case, SweepConfig, expand
from harness.errors import UsageError
from suites.digits import CACHE_ENV
from suites.registry import BUILTIN, available_suites

#: Sizes of the built-in suites when none are named (the quick mode of `make test`).
BUILTIN_DEFAULT_SIZES = ("tiny",)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("archbench", "archbench backend benchmarks")
    group.addoption("--archbench-suites", default="",
                    help="comma-separated suites (default: those of --archbench-suite-file or "
                         "--archbench-model, else every built-in one)")
    group.addoption("--archbench-sizes", default="",
                    help="comma-separated sizes (default: tiny for the built-in suites, a "
                         "user suite's own default sizes; bench-ci: tiny,small)")
    group.addoption("--archbench-backends", default="",
                    help="comma-separated backends (default: every available backend except "
                         "the compile ones, whose compilation takes tens of seconds each, and "
                         "those a default sweep leaves out, such as emulated bf16)")
    group.addoption("--archbench-phases", default=",".join(PHASES))
    group.addoption("--archbench-batch-size", type=int, default=32)
    group.addoption("--archbench-threads", type=int, default=0,
                    help="torch's intra-op threads (0: every CPU the process may use)")
    group.addoption("--archbench-rounds", type=int, default=5,
                    help="timed rounds per benchmark (one iteration each)")
    group.addoption("--archbench-warmup", type=int, default=2, help="untimed warm-up rounds")
    group.addoption("--archbench-suite-file", dest="archbench_suite_files", action="append",
                    default=[], metavar="FILE", help="a Python file defining your own Suite(s)")
    group.addoption("--archbench-model", default="", metavar="MODULE:FACTORY",
                    help="your model as built (as archbench run --model); needs "
                         "--archbench-input")
    group.addoption("--archbench-input", dest="archbench_inputs", action="append", default=[],
                    metavar="SPEC", help="one input of --archbench-model, e.g. "
                                         "'x:float32[B,64]'")
    group.addoption("--archbench-output", default="", metavar="NAME",
                    help="the tensor of --archbench-model's output that parity compares")


def _listed(config: pytest.Config, option: str) -> tuple[str, ...]:
    return tuple(item for item in config.getoption(option).split(",") if item)


def _usage(error: UsageError) -> pytest.UsageError:
    return pytest.UsageError(str(error))


def sweep_config(config: pytest.Config) -> SweepConfig:
    """The benchmarks' selection as a sweep configuration: the same names, checks and suites
    as `archbench run`, so a user's suite file means the same thing in both."""
    files = tuple(str(Path(f).resolve()) for f in config.getoption("archbench_suite_files"))
    try:
        return SweepConfig(suites=_listed(config, "--archbench-suites"),
                           sizes=_listed(config, "--archbench-sizes"),
                           backends=_listed(config, "--archbench-backends"),
                           phases=_listed(config, "--archbench-phases"),
                           batch_sizes=(config.getoption("--archbench-batch-size"),),
                           threads=config.getoption("--archbench-threads"),
                           scenarios=("latency",), suite_files=files,
                           model=config.getoption("--archbench-model"),
                           inputs=tuple(config.getoption("archbench_inputs")),
                           output=config.getoption("--archbench-output"))
    except UsageError as exc:
        raise _usage(exc) from None


def benchmark_cases(config: pytest.Config) -> list[Case]:
    """suite x size x backend x phase that this machine can run, at the latency scenario.

    Every case is in the latency scenario: `pedantic` times one synchronised step per round,
    which is what that scenario measures (a throughput number needs steps pipelined between
    synchronisations, which pytest-benchmark's rounds cannot express). Cases `archbench run`
    would skip (a backend this machine lacks, a phase a backend has not) are left out; so are
    the compile backends unless named.
    """
    sweep = sweep_config(config)
    try:
        target = sweep.model_target
        users = [name for name in available_suites(sweep.suite_files, target)
                 if name not in BUILTIN]
        suites = sweep.suites or tuple(users) or tuple(BUILTIN)
        # sizes named apply to every suite; else the built-in ones run tiny and a user's its
        # own defaults: one expansion per such group (each loads the suite files again)
        groups = ([(suites, sweep.sizes)] if sweep.sizes else
                  [(tuple(s for s in suites if s in BUILTIN), BUILTIN_DEFAULT_SIZES),
                   (tuple(s for s in suites if s not in BUILTIN), ())])
        cases: list[Case] = []
        for group, sizes in groups:
            if not group:
                continue
            planned = expand(SweepConfig(**{**sweep.to_dict(), "suites": group,
                                            "sizes": sizes}))
            cases += [p.case for p in planned if p.skip_reason is None and (
                sweep.backends or not p.case.backend.endswith("-compile"))]
    except UsageError as exc:
        raise _usage(exc) from None
    return cases


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        cases = benchmark_cases(metafunc.config)
        metafunc.parametrize("case", cases, ids=[c.case_id for c in cases])


@pytest.fixture(scope="session")
def archbench_config(request: pytest.FixtureRequest) -> SweepConfig:
    """The sweep configuration the cases were chosen from (their suite files, their model)."""
    return sweep_config(request.config)


@pytest.fixture(scope="session")
def archbench_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the benchmarks cache their exports: archbench's cache folder
    (ARCHBENCH_CACHE_DIR, which `archbench ci` points at one folder per version, shared by its
    processes), else this session's own."""
    named = os.environ.get(CACHE_ENV)
    return Path(named) if named else tmp_path_factory.getbasetemp() / "archbench-cache"
