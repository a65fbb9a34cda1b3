"""The Ray executor on simulated nodes: a `ray.cluster_utils.Cluster` of three 1-CPU nodes whose
custom resources stand in for two kinds of hardware: one node of `kind_a`, two of `kind_b`.

The tests run in this order on one cluster: both kinds run the matrix; a `kind_b` node is lost
and its process runs again on the other; then the last `kind_b` node is lost, with none left
to run it again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest

from harness.executors import open_executor
from harness.results.runs import load_runs, row_labels
from harness.results.store import load_results
from harness.sweep.run import run_sweep, start_run
from harness.terminal.summary import summary_text
from tests.case.test_lifeline import wait_for
from tests.conftest import ran_rows
from tests.executors.test_ray import config
from tests.ray_support import ray_environment

# ray is an extra (`pip install archbench[ray]`): without it these tests skip, saying why
ray = pytest.importorskip("ray", reason="ray is not installed: pip install -e .[ray]")
Cluster = pytest.importorskip("ray.cluster_utils").Cluster

KINDS = ("kind_a", "kind_b")
NODES = ("kind_a", "kind_b", "kind_b")


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    with ray_environment(tmp_path_factory.mktemp("ray-nodes")) as paths:
        cluster = Cluster(initialize_head=True, head_node_args={
            "num_cpus": 0, "include_dashboard": False})  # the head runs no case
        handles = [cluster.add_node(num_cpus=1, resources={kind: 1}) for kind in NODES]
        try:
            ray.init(address=cluster.address, log_to_driver=False)
            cluster.wait_for_nodes()
            kinds = {n["NodeID"]: kind for n in ray.nodes() for kind in KINDS
                     if kind in n["Resources"]}
            # one executor for the module: it probes the nodes' hardware once
            executor, probed = open_executor("ray", config(), per_hardware=True)
            yield SimpleNamespace(cluster=cluster, handles=handles, kinds=kinds,
                                  executor=executor, hardware=probed.hardware, **vars(paths))
        finally:
            ray.shutdown()
            cluster.shutdown()


def node_of(nodes: SimpleNamespace, pid: int) -> tuple[str, Any]:
    """The id and handle of the node whose raylet runs process `pid` (the case's process, a
    child of a Ray worker, a child of its node's raylet)."""
    raylet = next(p for p in psutil.Process(pid).parents() if p.name() == "raylet")
    handle = next(h for h in nodes.handles if h.all_processes["raylet"][0].process.pid
                  == raylet.pid)
    return handle.node_id, handle


def held_pids(nodes: SimpleNamespace, count: int) -> list[int]:
    """The case processes held in `forward`, once there are `count` of them."""
    assert wait_for(lambda: nodes.sleepy_pid.exists()
                    and len(nodes.sleepy_pid.read_text().split()) >= count, 120)
    return [int(pid) for pid in nodes.sleepy_pid.read_text().split()]


def test_per_hardware_runs_the_matrix_on_each_kind_and_rows_name_their_node(
        nodes: SimpleNamespace, results_dir: Path) -> None:
    """Inference, so that the reference weights are trained once, by the first case, and
    shipped through the object store to the other."""
    assert [kind.rsplit("-", 1)[1] for kind in nodes.hardware] == list(KINDS)
    sweep = config("mlp", phases=("infer",), hardware=nodes.hardware)
    run_dir = start_run(sweep, results_dir, "kinds")
    rows = ran_rows(run_dir, run_sweep(run_dir, sweep, progress=False,
                                       executor=nodes.executor))
    assert [row["status"] for row in rows] == ["ok", "ok"]
    for row, kind in zip(rows, KINDS, strict=True):
        assert row["hardware"].endswith(kind)
        assert row["case_id"].endswith(f"-on-{row['hardware']}")
        assert nodes.kinds[next(i for i in nodes.kinds if row["node"].startswith(i[:12]))] == kind
    assert [name.startswith("mlp-tiny-") for name in nodes.executor.shipped] == [True]

    # hardware is a case dimension of the table and of the report's labels
    table = summary_text(load_results(results_dir / "kinds"))
    assert all(kind in table for kind in sweep.hardware)
    labels = row_labels(load_runs([results_dir / "kinds"]).results, multi_run=False)
    assert labels.tolist() == [f"mlp · tiny · {kind}" for kind in sweep.hardware]


def run_losing_kind_b_nodes(nodes: SimpleNamespace, results_dir: Path, run_id: str,
                            losses: int) -> list[dict[str, Any]]:
    """A `sleepy` case of each kind, held in `forward`; the `kind_b` node that runs the held
    process is removed, `losses` times over (each retry is held too), then the hold ends."""
    sweep = config("sleepy", hardware=nodes.hardware)
    nodes.hold.touch()
    nodes.sleepy_pid.unlink(missing_ok=True)
    lost: list[str] = []

    def lose_kind_b() -> None:
        for held in range(2, 2 + losses):
            pid = next(p for p in held_pids(nodes, held)
                       if psutil.pid_exists(p) and nodes.kinds[node_of(nodes, p)[0]] == "kind_b")
            node_id, handle = node_of(nodes, pid)
            nodes.cluster.remove_node(handle)
            nodes.handles.remove(handle)
            lost.append(node_id)
        nodes.hold.unlink()

    thread = threading.Thread(target=lose_kind_b, daemon=True)
    thread.start()
    run_dir = start_run(sweep, results_dir, run_id)
    rows = ran_rows(run_dir, run_sweep(run_dir, sweep, progress=False, executor=nodes.executor))
    thread.join()
    assert len(lost) == losses
    return rows


def test_a_process_lost_with_its_node_runs_again_on_another_node_of_its_kind(
        nodes: SimpleNamespace, results_dir: Path) -> None:
    rows = run_losing_kind_b_nodes(nodes, results_dir, "retried", losses=1)
    assert [row["status"] for row in rows] == ["ok", "ok"]
    assert rows[0].get("retries") is None
    assert rows[1]["retries"] == 1
    assert rows[1]["lost_nodes"].startswith("process 1: node lost: "), rows[1]
    lost_id = rows[1]["lost_nodes"].split("node lost: ")[1][:12]
    assert not rows[1]["node"].startswith(lost_id)  # ran again elsewhere
    assert nodes.kinds[next(i for i in nodes.kinds if i.startswith(lost_id))] == "kind_b"


def test_a_process_whose_kind_has_no_node_left_is_crashed_with_why(
        nodes: SimpleNamespace, results_dir: Path) -> None:
    """Both kinds hold a case; the last kind_b node goes away; kind_a's case then finishes."""
    rows = run_losing_kind_b_nodes(nodes, results_dir, "lost", losses=1)
    assert [row["status"] for row in rows] == ["ok", "crashed"]
    assert rows[1]["reason"].startswith("node lost: "), rows[1]
    assert rows[1]["reason"].endswith(
        f"no other node of kind {nodes.hardware[1]} is left to run it again")
