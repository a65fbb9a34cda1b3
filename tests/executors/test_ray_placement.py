"""Where the Ray executor puts a case and what it reserves there: pure placement on described
nodes, no Ray started (the GPU paths included, which no test machine here has)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from harness.cases import Case, PlannedCase, SweepConfig
from harness.executors.node import case_env
from harness.executors.ray import Flight, Node, RayExecutor, kind_label
from harness.results.case_result import CaseResult

CPU_NODE = dict(node_id="c" * 40, address="10.0.0.1", cpus=4.0, gpus=0.0,
                resources={"CPU": 4.0})
GPU_NODE = dict(node_id="g" * 40, address="10.0.0.2", cpus=8.0, gpus=2.0,
                resources={"CPU": 8.0, "GPU": 2.0, "accelerator_type:A10G": 1.0})


def place(executor: RayExecutor, backend: str, skip: str | None = None, phase: str = "train",
          **config: object) -> Flight | object:
    case = Case("mlp", "tiny", backend, phase, 8, "latency")
    sweep = SimpleNamespace(config=SweepConfig(**config))
    return executor._place(sweep, PlannedCase(case, skip), CaseResult({}, 1))


def cluster(*nodes: dict) -> RayExecutor:
    return RayExecutor([Node(**node) for node in nodes], owns_ray=False, driver_node="")


def test_a_cpu_case_reserves_its_whole_node_unless_cases_share_it() -> None:
    alone = cluster(CPU_NODE)
    flight = place(alone, "cpu-eager")
    assert (flight.cpus, flight.gpus, flight.threads, flight.cases_per_node) == (4.0, 0, 4, 1)
    assert place(alone, "cpu-eager") is None  # the node is taken: wait
    shared = cluster(CPU_NODE)
    flights = [place(shared, "cpu-eager", cases_per_node=2) for _ in range(3)]
    assert [(f.cpus, f.threads, f.cases_per_node) for f in flights[:2]] == [(2.0, 2, 2)] * 2
    assert flights[2] is None


def test_a_gpu_case_reserves_one_gpu_and_its_share_of_the_cores() -> None:
    executor = cluster(CPU_NODE, GPU_NODE)
    flights = [place(executor, "cuda-eager") for _ in range(3)]
    assert [f.node.address for f in flights[:2]] == ["10.0.0.2"] * 2
    assert [(f.cpus, f.gpus, f.threads) for f in flights[:2]] == [(4.0, 1.0, 4)] * 2
    assert flights[2] is None  # both GPUs busy: it waits rather than share one
    assert place(cluster(CPU_NODE, GPU_NODE), "cuda-eager", threads=2).cpus == 2.0


def test_a_cuda_case_the_driver_cannot_run_goes_to_a_gpu_node_or_stays_skipped() -> None:
    from harness.backends import get_backend

    reason = get_backend("cuda-eager").unavailable_reason()
    if reason is None:
        pytest.skip("this machine runs CUDA: its sweep skips no CUDA case")
    placed = place(cluster(GPU_NODE), "cuda-eager", skip=reason)
    assert isinstance(placed, Flight) and placed.gpus == 1.0  # the node judges it again
    unplaced = place(cluster(CPU_NODE), "cuda-eager", skip=reason)
    assert unplaced.status == "skipped" and unplaced.reason == reason
    other = place(cluster(GPU_NODE), "cuda-eager", skip="skipped for another reason")
    assert other.status == "skipped"  # only the driver's own unavailability is judged again


def test_a_models_first_inference_case_trains_its_weights_while_the_others_wait() -> None:
    executor = cluster(CPU_NODE, CPU_NODE, GPU_NODE)
    first = place(executor, "cpu-eager", phase="infer")
    assert first.trains == ("mlp", "tiny", False)
    assert place(executor, "ort-cpu", phase="infer") is None  # waits for the weights
    assert place(executor, "cpu-eager", phase="train").trains is None  # trains its own way
    on_gpu = place(executor, "cuda-eager", phase="infer")  # CUDA-trained weights: not waiting
    assert on_gpu.trains == ("mlp", "tiny", True)


def test_a_case_no_node_can_hold_is_skipped_with_the_reason() -> None:
    result = place(cluster(CPU_NODE), "cuda-eager")
    assert result.status == "skipped"
    assert result.reason == "no node of the Ray cluster can run it (alive: 1; it needs a GPU)"


def test_kind_labels_are_case_id_safe() -> None:
    assert kind_label("NVIDIA A10G", []) == "nvidia-a10g"
    assert kind_label("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", ["kind_a"]) == (
        "intel-xeon-platinum-8375c-2.90ghz-kind_a")


def test_a_case_gets_its_reserved_threads_and_no_gpu_it_did_not_reserve() -> None:
    """Ray sets OMP_NUM_THREADS from num_cpus and leaves every GPU visible to a task that
    reserved none: the case's own environment says otherwise, on purpose."""
    assert case_env(3, gpu=False) == {"OMP_NUM_THREADS": "3", "MKL_NUM_THREADS": "3",
                                      "CUDA_VISIBLE_DEVICES": ""}
    assert "CUDA_VISIBLE_DEVICES" not in case_env(4, gpu=True)  # Ray's choice of GPU stands
