"""A pytest plugin that logs each archbench benchmark's outcome, for `archbench ci`.

pytest-benchmark's JSON lists only the benchmarks that finished. Without this log, a benchmark
that broke would simply be absent from it, a process that crashed would not say which
benchmark it was running, and the ones it never reached would be unknown. So `archbench ci`
loads this plugin (`-p harness.ci.outcome_log --archbench-outcomes FILE`) into each pytest
process, and it appends one JSON line per benchmark collected, one when it starts and one when
it ends (passed, failed or skipped, with the error's line), each naming the benchmark's case
(`harness.cases.Case`, the `case` parameter of `benchmarks/test_backends.py`). Each line is
flushed at once: it must be on disk if the process dies in the next instant. A plugin rather
than the benchmarks' conftest, so that it works on any folder of benchmarks `--benchmarks` names.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from typing import IO

import pytest

from harness.errors import one_line
from harness.protocol import Case

_LOG = pytest.StashKey[IO[str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("archbench").addoption(
        "--archbench-outcomes", default="", metavar="FILE",
        help="append each benchmark's collection, start and outcome to FILE as JSON lines")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--archbench-outcomes")
    if path:
        config.stash[_LOG] = open(path, "a", encoding="utf-8")  # noqa: SIM115


def pytest_unconfigure(config: pytest.Config) -> None:
    log = config.stash.get(_LOG, None)
    if log is not None:
        log.close()


def _write(item: pytest.Item, **fields: object) -> None:
    log = item.config.stash.get(_LOG, None)
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get("case") if callspec is not None else None
    if log is not None and isinstance(case, Case):
        log.write(json.dumps({"case": {**asdict(case), "case_id": case.case_id}, **fields})
                  + "\n")
        log.flush()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Every benchmark the process will run, before any runs."""
    for item in session.items:
        _write(item, event="collected")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _write(item, event="start")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" or (report.when == "setup" and not report.passed):
        message = ""
        if call.excinfo is not None:
            message = (str(call.excinfo.value) if report.skipped
                       else one_line(call.excinfo.value))
        _write(item, event="end", outcome=report.outcome, message=message)
