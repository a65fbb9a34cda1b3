"""The Ray executor on a local Ray (`ray.init(num_cpus=2)`): the same rows as the local one.

One Ray for the module (starting one costs seconds on 2 cores); every sweep is tiny and
`--quick`, and cases that must be interrupted wait on a file (`sleepy_suite.py`) rather
than on a clock, so that nothing here depends on the machine's speed.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from harness.cases import SweepConfig
from harness.executors import open_executor
from harness.executors import ray as ray_executor
from harness.results.store import CASES_DIR, load_results
from harness.sweep.run import LOGS_DIR, resume_config, run_sweep, start_run
from tests.case.test_lifeline import alive, wait_for
from tests.conftest import FAULTY_SUITE_FILE, MLP_SUITE_FILE, ran_rows
from tests.ray_support import SLEEPY_SUITE_FILE, ray_environment

# ray is an extra (`pip install archbench[ray]`): without it these tests skip, saying why
ray = pytest.importorskip("ray", reason="ray is not installed: pip install -e .[ray]")

#: Columns that say where a case ran, which differ between executors by design.
PLACEMENT = {"executor", "node", "omp_num_threads", "cases_per_node", "cluster_auth", "timestamp",
             "run_id"}
SUITE_FILES = tuple(str(f) for f in (FAULTY_SUITE_FILE, MLP_SUITE_FILE, SLEEPY_SUITE_FILE))


def config(*suites: str, timeout_s: float = 120.0, **options: object) -> SweepConfig:
    return SweepConfig(**{"suites": suites, "sizes": ("tiny",), "backends": ("cpu-eager",),
                          "phases": ("train",), "scenarios": ("latency",), "batch_sizes": (8,),
                          "suite_files": SUITE_FILES, "quick": True, "threads": 1,
                          "timeout_s": timeout_s, **options})


def case_id(suite: str) -> str:
    return f"{suite}-tiny-cpu-eager-train-latency-bs8"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    folder = tmp_path_factory.mktemp("ray")
    with ray_environment(folder) as paths:
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            executor, _ = open_executor("ray", SweepConfig())
            yield SimpleNamespace(executor=executor, folder=folder,
                                  address=ray.get_runtime_context().gcs_address, **vars(paths))
        finally:
            ray.shutdown()


def by_suite(rows: list[dict]) -> dict[str, dict]:
    return {row["suite"]: row for row in rows}


def kill_ray_worker_when_held(paths: SimpleNamespace) -> threading.Thread:
    """Once the `sleepy` case is held in forward, SIGKILL the Ray worker that launched it."""
    def kill() -> None:
        assert wait_for(paths.sleepy_pid.exists, 120)
        wait_for(lambda: paths.sleepy_pid.read_text().endswith("\n"), 5)
        case = psutil.Process(int(paths.sleepy_pid.read_text()))
        case.parent().kill()

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def test_faults_give_the_local_rows_and_a_killed_ray_worker_a_crashed_one(
        cluster: SimpleNamespace, results_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same error and crashed rows as `tests/sweep/test_run.py` asserts of the local
    executor, none of them retried (a Ray worker killed on a node that stays alive is not the
    cluster's failure), and the good case's row has the same columns filled as a local run."""
    monkeypatch.setattr(ray_executor, "_NODE_DEATH_WAIT_S", 2.0)  # the node stays alive
    cluster.hold.touch()
    cluster.sleepy_pid.unlink(missing_ok=True)
    sweep = config("raises", "aborts", "sleepy", "mlp", cases_per_node=2)
    killer = kill_ray_worker_when_held(cluster)
    run_dir = start_run(sweep, results_dir, "ray")
    rows = by_suite(ran_rows(run_dir, run_sweep(run_dir, sweep, progress=False,
                                                executor=cluster.executor)))
    killer.join()
    cluster.hold.unlink()
    assert rows["raises"]["status"] == "error"
    assert rows["raises"]["reason"] == "RuntimeError: forward failed on purpose"
    log = (results_dir / "ray" / LOGS_DIR / f"{case_id('raises')}.log").read_text()
    assert "raising in forward" in log and "Traceback" in log  # the node's log, on the driver
    assert rows["aborts"]["status"] == "crashed"
    assert rows["aborts"]["reason"].startswith("worker killed by SIGABRT")
    assert rows["sleepy"]["status"] == "crashed"
    assert rows["sleepy"]["reason"].startswith("Ray worker lost on ")
    assert rows["mlp"]["status"] == "ok" and rows["mlp"]["executor"] == "ray"
    assert rows["mlp"]["cases_per_node"] == 2 and rows["mlp"]["omp_num_threads"] == "1"
    assert [row.get("retries") for row in rows.values()] == [None] * 4
    # a Ray started for the sweep turns away a client with a random token (Ray's default)
    assert rows["mlp"]["cluster_auth"] == "token"

    local = config("mlp")
    local_dir = start_run(local, results_dir, "local")
    local_row = ran_rows(local_dir, run_sweep(local_dir, local, progress=False))[0]
    ray_frame = load_results(results_dir / "ray").set_index("case_id").loc[[case_id("mlp")]]
    local_frame = load_results(results_dir / "local").set_index("case_id")
    filled = lambda frame: set(frame.columns[frame.notna().all()]) - PLACEMENT  # noqa: E731
    assert filled(ray_frame) == filled(local_frame)
    assert local_row["status"] == "ok" and local_row["executor"] == "local"


def test_a_hanging_case_times_out_and_its_processes_die(cluster: SimpleNamespace,
                                                        results_dir: Path) -> None:
    sweep = config("hangs", timeout_s=3.0)
    run_dir = start_run(sweep, results_dir, "hang")
    (row,) = ran_rows(run_dir, run_sweep(run_dir, sweep, progress=False,
                                         executor=cluster.executor))
    assert row["status"] == "timeout" and row["reason"] == "no result after 3 s; killed"
    if cluster.hang_pids.exists():  # it got as far as forward within the 3 s
        assert wait_for(lambda: not any(alive(int(pid)) for pid in
                                        cluster.hang_pids.read_text().split()), 10)


def test_an_interrupted_driver_keeps_finished_cases_and_resumes(cluster: SimpleNamespace,
                                                                results_dir: Path) -> None:
    """`archbench run --executor ray` on the module's cluster, stopped by SIGTERM while the
    `sleepy` case is held: the finished case is kept, the held one dies, and a resume runs
    that one alone."""
    cluster.hold.touch()
    cluster.sleepy_pid.unlink(missing_ok=True)
    driver = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", "--executor", "ray", "--ray-address",
         cluster.address, *(a for f in SUITE_FILES for a in ("--suite-file", f)),
         "--suite", "mlp", "sleepy", "--size", "tiny", "--backend", "cpu-eager", "--phase",
         "train", "--scenario", "latency", "--batch-size", "8", "--quick", "--threads", "1",
         "--cases-per-node", "2", "--no-progress", "--run-id", "cut", "--results",
         str(results_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finished = results_dir / "cut" / CASES_DIR / f"{case_id('mlp')}.json"
    try:
        assert wait_for(lambda: finished.exists() and cluster.sleepy_pid.exists(), 120)
        held = int(cluster.sleepy_pid.read_text())
        driver.send_signal(signal.SIGTERM)
        _, err = driver.communicate(timeout=60)
    finally:
        driver.kill()
    assert driver.returncode == 130, err
    assert "Resume with: archbench run --resume cut" in err
    assert wait_for(lambda: not alive(held), 30)
    kept = finished.stat().st_mtime_ns

    cluster.hold.unlink()
    run_dir, resumed = resume_config("cut", results_dir)
    ran = run_sweep(run_dir, resumed, progress=False, executor=cluster.executor)
    assert ran == [case_id("sleepy")]
    assert set(load_results(run_dir)["status"]) == {"ok"}
    assert finished.stat().st_mtime_ns == kept

