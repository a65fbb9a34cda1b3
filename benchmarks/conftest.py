"""Options of the pytest-benchmark suite (`benchmarks/test_backends.py`).

Defaults are the quick mode that `make test` runs (tiny sizes, a few rounds, no torch.compile):
it keeps the benchmarks working without making the test suite slow. `make bench-ci` passes
larger values. Nothing here asserts anything about speed.
"""

from __future__ import annotations

import pytest

from harness.backends import BACKENDS, available_backends
from harness.backends.base import PHASES
from harness.cases import Case
from harness.errors import unknown_choice
from suites.registry import BUILTIN


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("archbench", "archbench backend benchmarks")
    group.addoption("--archbench-suites", default=",".join(BUILTIN),
                    help="comma-separated suites (default: all built-in)")
    group.addoption("--archbench-sizes", default="tiny",
                    help="comma-separated sizes (default: tiny; bench-ci: tiny,small)")
    group.addoption("--archbench-backends", default="",
                    help="comma-separated backends (default: every available backend except "
                         "the compile ones, whose compilation takes tens of seconds each, and "
                         "those a default sweep leaves out, such as emulated bf16)")
    group.addoption("--archbench-phases", default=",".join(PHASES))
    group.addoption("--archbench-batch-size", type=int, default=32)
    group.addoption("--archbench-rounds", type=int, default=5,
                    help="timed rounds per benchmark (one iteration each)")
    group.addoption("--archbench-warmup", type=int, default=2, help="untimed warm-up rounds")


def _listed(config: pytest.Config, option: str) -> list[str]:
    return [item for item in config.getoption(option).split(",") if item]


def benchmark_cases(config: pytest.Config) -> list[Case]:
    """suite x size x backend x phase, with backends this machine can run only.

    Every case is in the latency scenario: `pedantic` times one synchronised step per round,
    which is what that scenario measures (a throughput number needs steps pipelined between
    synchronisations, which pytest-benchmark's rounds cannot express).
    """
    available = available_backends()
    named = _listed(config, "--archbench-backends")
    backends = named or [name for name in available if not name.endswith("-compile")]
    for name in backends:
        if name not in BACKENDS:
            raise pytest.UsageError(str(unknown_choice("backend", name, list(BACKENDS))))
    cases = []
    for suite_name in _listed(config, "--archbench-suites"):
        if suite_name not in BUILTIN:
            raise pytest.UsageError(str(unknown_choice("suite", suite_name, list(BUILTIN))))
        for size in _listed(config, "--archbench-sizes"):
            BUILTIN[suite_name].config(size)
            for backend in backends:
                for phase in _listed(config, "--archbench-phases"):
                    if backend in available and BACKENDS[backend].phase_unsupported_reason(
                            phase) is None and (named or BACKENDS[backend].default_skip_reason(
                                phase) is None):
                        cases.append(Case(suite_name, size, backend, phase,
                                          config.getoption("--archbench-batch-size"),
                                          scenario="latency"))
    return cases


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        cases = benchmark_cases(metafunc.config)
        metafunc.parametrize("case", cases, ids=[c.case_id for c in cases])
