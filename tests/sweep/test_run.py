"""The sweep: every case in its own process, failures become rows, and a run can be resumed.

One sweep over models that raise, abort and hang in `forward`, followed by a good one, serves
most tests here. The hang costs the sweep its timeout (20 s: a worker needs 3-5 s to start
and import on a small machine, and the good case must finish well within it).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from harness.cases import SweepConfig
from harness.errors import UsageError
from harness.executors import launch as launch_module
from harness.executors.local import run_next_process
from harness.machine.environment import cpu_count
from harness.measure.timing import (
    DEFAULT_POLICY,
    DEFAULT_PROCESSES,
    PROCESS_POLICY,
    QUICK_POLICY,
)
from harness.protocol import ProcessResult
from harness.results.storage import write_json_atomic
from harness.results.store import CASES_DIR, MANIFEST, load_manifest, load_results, load_samples
from harness.sweep.run import LOGS_DIR, resume_config, run_sweep, start_run
from tests.case.test_lifeline import alive, wait_for
from tests.conftest import FAULTY_SUITE_FILE, MLP_SUITE_FILE, ran_rows

TIMEOUT_S = 20.0
PID_FILE_ENV = "ARCHBENCH_TEST_PID_FILE"  # read by the `hangs` suite in faulty_suites.py
SUITE_FILES = (str(FAULTY_SUITE_FILE), str(MLP_SUITE_FILE))


def case_id(suite: str) -> str:
    return f"{suite}-tiny-cpu-eager-train-latency-bs8"


@pytest.fixture(scope="module")
def isolation(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    results = tmp_path_factory.mktemp("results")
    pid_file = results / "hang.pids"
    config = SweepConfig(suites=("raises", "aborts", "hangs", "mlp"), sizes=("tiny",),
                         backends=("cpu-eager",), phases=("train",), scenarios=("latency",),
                         batch_sizes=(8,), suite_files=SUITE_FILES, quick=True, threads=1,
                         timeout_s=TIMEOUT_S)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PID_FILE_ENV, str(pid_file))
        run_dir = start_run(config, results, "isolation")
        rows = ran_rows(run_dir, run_sweep(run_dir, config, progress=False))
    return SimpleNamespace(run_dir=run_dir, config=config, pid_file=pid_file, rows=rows,
                           by_suite={row["suite"]: row for row in rows})


def log_of(isolation: SimpleNamespace, suite: str) -> str:
    return (isolation.run_dir / LOGS_DIR / f"{case_id(suite)}.log").read_text()


def test_sweep_runs_the_cases_in_order(isolation: SimpleNamespace) -> None:
    assert [row["case_id"] for row in isolation.rows] == [
        case_id(s) for s in ("raises", "aborts", "hangs", "mlp")]
    assert all(row["run_id"] == "isolation" and row["timestamp"] for row in isolation.rows)


def test_exception_becomes_an_error_row_with_a_one_line_reason(isolation) -> None:
    row = isolation.by_suite["raises"]
    assert row["status"] == "error"
    assert row["reason"] == "RuntimeError: forward failed on purpose"
    log = log_of(isolation, "raises")
    assert "raising in forward" in log and "Traceback" in log  # the traceback is kept, in the log


def test_abort_becomes_a_crashed_row_naming_the_signal(isolation) -> None:
    row = isolation.by_suite["aborts"]
    assert row["status"] == "crashed"
    assert "SIGABRT" in row["reason"]
    assert "aborting in forward" in row["reason"]  # the last line the case printed


def test_hang_becomes_a_timeout_row_and_its_processes_are_killed(isolation) -> None:
    row = isolation.by_suite["hangs"]
    assert row["status"] == "timeout"
    assert f"{TIMEOUT_S:g} s" in row["reason"]
    assert TIMEOUT_S <= row["wall_s"] < TIMEOUT_S + 10
    assert "hanging in forward" in log_of(isolation, "hangs")  # it hung in forward, not earlier
    worker, child = map(int, isolation.pid_file.read_text().split())
    assert not alive(worker)
    assert not alive(child)  # what the case started dies with it (its process group)


def test_sweep_goes_on_to_a_good_case(isolation) -> None:
    row = isolation.by_suite["mlp"]
    assert row["status"] == "ok" and row["reason"] == ""
    assert row["n"] >= QUICK_POLICY.n_min or row["stop_reason"] == "t_max"
    assert row["median_ms"] > 0 and row["throughput_sps"] > 0
    assert row["ci_low_ms"] <= row["median_ms"] <= row["ci_high_ms"] or row["n"] < 8
    assert row["params"] == 64 * 16 + 16 + 16 * 10 + 10
    assert 0 <= row["accuracy"] <= 1 and row["train_steps"] == 30
    assert row["torch_threads"] == 1
    assert row["peak_rss_mb"] > 0 and row["wall_s"] > 0
    # what else the machine did while timing, read in the case's process
    assert 0 <= row["other_cpu_pct"] <= 100 and 0 <= row["steal_pct"] <= 100
    assert row["load_avg_1m"] >= 0 and isinstance(row["contention_note"], str)
    assert row["cpu_isa"] == torch.backends.cpu.get_cpu_capability()


def test_failed_cases_carry_identity_but_no_measurements(isolation) -> None:
    frame = load_results(isolation.run_dir).set_index("suite")
    for suite in ("raises", "aborts", "hangs"):
        row = frame.loc[suite]
        assert row["backend"] == "cpu-eager" and row["phase"] == "train"
        assert row["batch_size"] == 8 and row["device"] == "cpu" and row["precision"] == "fp32"
        assert row["scenario"] == "latency"
        assert row["hostname"]
        assert row.isna()["median_ms"] and row.isna()["n"]


def test_every_case_is_persisted_with_its_samples(isolation) -> None:
    frame = load_results(isolation.run_dir)
    assert dict(zip(frame["suite"], frame["status"], strict=True)) == {
        "raises": "error", "aborts": "crashed", "hangs": "timeout", "mlp": "ok"}
    samples = load_samples(isolation.run_dir)
    assert set(samples["case_id"]) == {case_id("mlp")}
    mlp = frame.set_index("suite").loc["mlp"]
    assert (samples["metric"] == "iter_ms").sum() == mlp["n"]
    assert (samples["metric"] == "train_loss").sum() == mlp["train_steps"]


def test_resume_runs_only_the_missing_case(isolation, tmp_path: Path) -> None:
    """An interrupted sweep: one finished case file is gone. Resuming reruns that case only."""
    run_dir = tmp_path / "results" / "isolation"
    shutil.copytree(isolation.run_dir, run_dir)  # copy2 keeps the modification times
    cases = run_dir / CASES_DIR
    kept = {path.name: path.stat().st_mtime_ns for path in cases.glob("*.json")}
    missing = cases / f"{case_id('mlp')}.json"
    missing.unlink()
    del kept[missing.name]

    resumed_dir, config = resume_config("isolation", tmp_path / "results")
    assert resumed_dir == run_dir and config == isolation.config  # from the manifest
    ran = run_sweep(run_dir, config, progress=False)
    assert ran == [case_id("mlp")]
    assert ran_rows(run_dir, ran)[0]["status"] == "ok"
    assert missing.is_file()
    assert {p.name: p.stat().st_mtime_ns for p in cases.glob("*.json")
            if p != missing} == kept
    assert len(load_results(run_dir)) == 4
    assert run_sweep(run_dir, config, progress=False) == []  # nothing left to do


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available: the case would run")
def test_unavailable_backend_is_a_skipped_row_without_a_process(results_dir: Path) -> None:
    config = SweepConfig(suites=("mlp",), sizes=("tiny",), backends=("cuda-eager",),
                         phases=("infer",), suite_files=(str(MLP_SUITE_FILE),), quick=True)
    run_dir = start_run(config, results_dir, "skips")
    rows = ran_rows(run_dir, run_sweep(run_dir, config, progress=False))
    # both scenarios of the default inference plan, each a row of its own, neither run
    assert [(row["scenario"], row["batch_size"]) for row in rows] == [("throughput", 32),
                                                                     ("latency", 1)]
    assert all(row["status"] == "skipped" and "CUDA" in row["reason"] for row in rows)
    assert not (run_dir / LOGS_DIR).exists()  # no worker was started
    assert load_results(run_dir)["status"].tolist() == ["skipped"] * 2


@pytest.mark.parametrize(("quick", "threads"), [(False, 0), (True, 3)])
def test_start_run_writes_a_manifest_and_refuses_to_overwrite_it(results_dir: Path, quick: bool,
                                                                 threads: int) -> None:
    config = SweepConfig(suites=("mlp",), sizes=("tiny",), suite_files=(str(MLP_SUITE_FILE),),
                         quick=quick, threads=threads)
    run_dir = start_run(config, results_dir, "once")
    manifest = load_manifest(run_dir)
    assert manifest["timing_policy"] == asdict(QUICK_POLICY if quick else PROCESS_POLICY)
    assert manifest["config"]["processes"] == (1 if quick else DEFAULT_PROCESSES)
    assert manifest["threads"] == (threads or cpu_count())
    assert resume_config("once", results_dir)[1] == config
    with pytest.raises(UsageError, match="already exists.*--resume"):
        start_run(config, results_dir, "once")


def test_start_run_validates_before_writing_anything(results_dir: Path) -> None:
    with pytest.raises(UsageError, match="unknown suite"):
        start_run(SweepConfig(suites=("nope",)), results_dir, "bad")
    assert not results_dir.exists()


def test_run_ids_default_to_a_sortable_utc_timestamp(results_dir: Path) -> None:
    run_dir = start_run(SweepConfig(suites=("cnn",), sizes=("tiny",)), results_dir)
    name = run_dir.name
    assert len(name) == len("20250101-000000") and name[8] == "-"
    assert name.replace("-", "").isdigit()
    assert os.path.isdir(run_dir)


@pytest.mark.parametrize("suite", ["../../escape", ".hidden", "a\\b"])
def test_a_case_id_that_would_leave_the_run_is_refused_before_the_case_runs(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, suite: str) -> None:
    from harness.cases import Case, PlannedCase
    from harness.results.case_result import CaseResult
    from harness.sweep import run as sweep_module

    monkeypatch.setattr(launch_module, "launch_case_process",
                        lambda *args, **_: pytest.fail("the case ran"))
    case = Case(suite, "tiny", "cpu-eager", "infer", 8)
    result = CaseResult({"case_id": case.case_id}, 1)
    sweep = sweep_module.Sweep(tmp_path / "run", SweepConfig(), cases=[(PlannedCase(case), result)])
    with pytest.raises(UsageError, match=re.escape(repr(case.case_id))):
        run_next_process(sweep, PlannedCase(case), result, 0)
    assert list(tmp_path.iterdir()) == []


def test_a_row_with_columns_outside_the_schema_becomes_an_error_row(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Checked before anything is written: an unknown column in a stored case would break
    every later load of the run."""
    from harness.cases import Case

    monkeypatch.setattr(launch_module, "launch_case_process", lambda *args, **_: ProcessResult(
        0, "ok", "", 2.0, {"median_ms": 1.0, "made_up_column": 3}, {"iter_ms": [1.0]}))
    case = Case("cnn", "tiny", "cpu-eager", "infer", 8)
    process = launch_module.run_one_process(case, SweepConfig(), 0, tmp_path, tmp_path / "log")
    assert process.status == "error" and "made_up_column" in process.reason
    assert process.row == {} and process.samples == {} and process.wall_s == 2.0


def start_hanging_sweep(tmp_path: Path, **popen: object
                        ) -> tuple[subprocess.Popen, int, int]:
    """`archbench run` of the `hangs` suite in a process of its own, returned once its case
    hangs in forward: the sweep, the case's worker pid, and the pid of the child it started."""
    pid_file = tmp_path / "hang.pids"
    sweep = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", "--results", str(tmp_path / "results"),
         "--suite-file", str(FAULTY_SUITE_FILE), "--suite", "hangs", "--backend", "cpu-eager",
         "--phase", "train", "--quick", "--no-progress"],
        env={**os.environ, PID_FILE_ENV: str(pid_file)}, **popen)
    pids = lambda: pid_file.read_text().split() if pid_file.exists() else []  # noqa: E731
    if not wait_for(lambda: len(pids()) == 2, 60):
        sweep.kill()
        sweep.wait()
        pytest.fail("the hanging case never started")
    worker, child = map(int, pids())
    return sweep, worker, child


def test_sigterm_to_the_sweep_kills_the_running_case(tmp_path: Path) -> None:
    """A cancelled CI job sends SIGTERM: the case runs in its own session, so without the
    handler it (and what it started) would outlive the sweep and load the machine."""
    sweep, worker, child = start_hanging_sweep(tmp_path, stdout=subprocess.PIPE,
                                               stderr=subprocess.PIPE, text=True)
    sweep.send_signal(signal.SIGTERM)
    _, err = sweep.communicate(timeout=30)
    assert sweep.returncode == 130
    assert "Resume with: archbench run --resume" in err
    assert not alive(worker) and not alive(child)
    assert not list((tmp_path / "results").rglob("*.exchange"))  # spec and result removed


def test_sigkill_of_the_sweep_kills_the_running_case(tmp_path: Path) -> None:
    """`kill -9` of the sweep runs none of its handlers: the case must notice on its own (a
    parent-death signal, a watchdog on a pipe from the sweep), or it keeps running with no
    timeout and competes for the cores with whatever runs next."""
    sweep, worker, child = start_hanging_sweep(tmp_path, stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL)
    sweep.kill()
    sweep.wait()
    assert wait_for(lambda: not alive(worker) and not alive(child), 5)
    # nothing could remove the case's spec: it stays in the run's folder, not in /tmp
    assert [path.name for path in (tmp_path / "results").rglob("*.exchange/spec.json")] == [
        "spec.json"]


def fake_processes(monkeypatch: pytest.MonkeyPatch, calls: list[tuple[str, int]],
                   fail: tuple[str, int] | None = None) -> None:
    """Replace the worker: record (case id, process) and report one iteration per process."""

    def launch_case_process(case, config, cache_dir, log_path, process=0, python=None, **_):
        calls.append((case.case_id, process))
        if (case.case_id, process) == fail:
            return ProcessResult.failure(process, "crashed", "worker killed by SIGKILL", 1.0)
        return ProcessResult(process, "ok", "", 1.0, {"stop_reason": "converged"},
                             {"iter_ms": [1.0 + process]})

    monkeypatch.setattr(launch_module, "launch_case_process", launch_case_process)


ROUNDS = SweepConfig(suites=("cnn",), sizes=("tiny",), backends=("cpu-eager", "ort-cpu"),
                     phases=("infer",), scenarios=("latency",), batch_sizes=(32,), processes=3)
ROUNDS_CASES = ("cnn-tiny-cpu-eager-infer-latency-bs32", "cnn-tiny-ort-cpu-infer-latency-bs32")


def test_processes_run_in_rounds_across_the_sweep(monkeypatch: pytest.MonkeyPatch,
                                                  results_dir: Path) -> None:
    """The whole matrix once, then again: a slow phase of the machine touches every case."""
    calls: list[tuple[str, int]] = []
    fake_processes(monkeypatch, calls)
    run_dir = start_run(ROUNDS, results_dir, "rounds")
    rows = ran_rows(run_dir, run_sweep(run_dir, ROUNDS, progress=False))
    a, b = ROUNDS_CASES
    assert calls == [(a, 0), (b, 0), (a, 1), (b, 1), (a, 2), (b, 2)]
    assert [row["processes"] for row in rows] == [3, 3]
    samples = load_samples(run_dir)
    assert sorted(samples["process"].unique()) == [0, 1, 2]


def test_a_resumed_sweep_runs_only_the_missing_processes(monkeypatch: pytest.MonkeyPatch,
                                                         results_dir: Path) -> None:
    calls: list[tuple[str, int]] = []
    fake_processes(monkeypatch, calls)
    run_dir = start_run(ROUNDS, results_dir, "resume")
    a, b = ROUNDS_CASES
    from harness.sweep import run as sweep_module

    sweep = sweep_module.Sweep.open(run_dir, ROUNDS)
    (pa, ra), (pb, rb) = sweep.cases
    for planned, result, round_ in ((pa, ra, 0), (pb, rb, 0), (pa, ra, 1)):  # then killed
        run_next_process(sweep, planned, result, round_)
    calls.clear()
    run_sweep(run_dir, ROUNDS, progress=False)
    assert calls == [(b, 1), (a, 2), (b, 2)]  # b catches up in round 1
    assert load_results(run_dir)["processes"].tolist() == [3, 3]


def test_a_failed_process_ends_its_case_and_the_others_go_on(monkeypatch: pytest.MonkeyPatch,
                                                             results_dir: Path) -> None:
    calls: list[tuple[str, int]] = []
    a, b = ROUNDS_CASES
    fake_processes(monkeypatch, calls, fail=(a, 1))
    run_dir = start_run(ROUNDS, results_dir, "flaky")
    run_sweep(run_dir, ROUNDS, progress=False)
    assert calls == [(a, 0), (b, 0), (a, 1), (b, 1), (b, 2)]
    rows = load_results(run_dir).set_index("case_id")
    assert rows.loc[a, "status"] == "crashed"
    assert rows.loc[a, "reason"] == "process 2 of 3: worker killed by SIGKILL"
    assert rows.loc[b, "status"] == "ok" and rows.loc[b, "processes"] == 3


def test_one_process_keeps_the_single_process_protocol() -> None:
    assert SweepConfig(processes=1).timing_policy == DEFAULT_POLICY
    assert SweepConfig().timing_policy == PROCESS_POLICY and SweepConfig().processes == 3
    assert SweepConfig(quick=True).processes == 1
    assert SweepConfig(quick=True, processes=3).processes == 3


def test_a_run_from_before_scenarios_is_not_resumed(results_dir: Path) -> None:
    """Its case ids have no scenario: resuming would run every case again beside the old."""
    run_dir = start_run(SweepConfig(suites=("cnn",), sizes=("tiny",)), results_dir, "old")
    manifest = load_manifest(run_dir)
    del manifest["config"]["scenarios"]
    write_json_atomic(run_dir / MANIFEST, manifest)
    with pytest.raises(UsageError, match="made before cases had scenarios"):
        resume_config("old", results_dir)


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """A sweep under a 1.5 GB limit per case process: a model that grows until an allocation
    fails, one killed (as by the kernel's OOM killer) at its limit, then a good one."""
    config = SweepConfig(suites=("hungry", "killed-hungry", "mlp"), sizes=("tiny",),
                         backends=("cpu-eager",), phases=("train",), scenarios=("latency",),
                         batch_sizes=(8,), suite_files=SUITE_FILES, quick=True, threads=1,
                         max_memory_gb=1.5)
    run_dir = start_run(config, tmp_path_factory.mktemp("results"), "limited")
    return {row["suite"]: row for row in ran_rows(run_dir, run_sweep(run_dir, config,
                                                                     progress=False))}


def test_a_case_past_its_memory_limit_is_an_oom_row_with_asked_limit_and_peak(limited) -> None:
    row = limited["hungry"]
    method = row["memory_limit_by"]
    assert method in ("rlimit-data", "cgroup-v2") and row["memory_limit_gb"] == 1.5
    assert row["status"] == "oom", row["reason"]
    if method == "rlimit-data":  # the allocation fails in the case, which reports it
        assert row["reason"].startswith("DefaultCPUAllocator: can't allocate memory"), row
        assert "; asked for 64 MB; limit 1.5 GiB (rlimit-data); peak " in row["reason"]
    # resident memory also counts the libraries' code pages, which RLIMIT_DATA does not: a
    # little above the limit (1596 MB of 1536 seen on a fresh clone)
    assert 0.5 * 1024 < row["peak_rss_mb"] <= 1.5 * 1024 + 256


def test_a_case_killed_at_its_memory_limit_is_an_oom_row_too(limited) -> None:
    row = limited["killed-hungry"]
    assert row["status"] == "oom", row["reason"]
    assert row["reason"].startswith("killed by SIGKILL with its memory at the limit; limit "
                                    "1.5 GiB"), row["reason"]
    assert row["peak_rss_mb"] >= 0.9 * 1.5 * 1024


def test_the_case_after_an_oom_runs_under_the_same_limit(limited) -> None:
    row = limited["mlp"]
    assert row["status"] == "ok", row["reason"]
    assert (row["memory_limit_gb"], row["memory_limit_by"]) == (
        1.5, limited["hungry"]["memory_limit_by"])
