"""The Ray executor: a sweep's case processes spread over the nodes of a Ray cluster.

Placement is decided here, on the driver, one process at a time, and Ray enforces it: each
task is pinned to the node chosen for it (`NodeAffinitySchedulingStrategy`, not soft) and
reserves that node's resources for as long as its case runs.

* **Timing integrity.** A CPU case reserves all of its node's CPUs, so two benchmarks never
  share a node's cores, unless the sweep says `--cases-per-node N`: then it reserves 1/N of
  them and runs with that many threads (the rows record N). A GPU case reserves one whole GPU
  (`num_gpus=1`, Ray sets CUDA_VISIBLE_DEVICES) and the CPU cores it needs: `--threads`, or
  the node's CPUs divided by its GPUs. An 8-GPU node runs 8 GPU cases at once, each alone on
  its device; what they still share (PCIe, host memory bandwidth) the README says.
* **Hardware.** `--accelerator-type NAME` keeps only nodes with Ray's
  `accelerator_type:NAME` resource. `--per-hardware` probes each node (CPU model, GPU name,
  custom resources) and runs the matrix once per kind of node (`Case.hardware`).
* **Results.** Each result is persisted on the driver the moment it arrives
  (`SweepView.record`), the case's log with it. On any exit (Ctrl-C, SIGTERM, an error) the
  tasks in flight are cancelled with their worker, whose lifeline takes the case down; a Ray
  started for the sweep is shut down with it.
* **Security.** Joining a cluster at host:port, the driver first checks that the cluster admits
  it (`_check_admitted`: one line if its token is refused, instead of Ray's retries and a
  ConnectionError that does not say why), and every row records whether the cluster turns away
  a client with a random token (`cluster_auth`).
* **Retries: for the cluster's failures, never for the case's own.** A process whose node died
  (its raylet gone), whose worker Ray's memory monitor killed, or whose result object was lost
  failed through no fault of the case: it runs again on another node of the same kind (never
  the one that lost it), up to `--max-retries` times (default 1), and its row says so
  (`retries`, `lost_nodes`). Only when no other node of that kind is left, or the retries are
  spent, is it `crashed`, with every reason. Ray's own task retries stay off (`max_retries=0`):
  Ray retries a task whose worker died for any reason, and a case that raises, aborts, times
  out or runs out of memory ends as its own row (its worker subprocess reports it; the Ray
  worker survives), never retried, as a retried crash would hide it. A Ray worker that died on a
  node still alive is not retried either: nothing says the cluster caused it. Why one retry by
  default: one lost node is what a preempted spot instance or a node's restart costs; a
  process lost twice, on two nodes, points at the process (it may be what takes nodes
  down), and a third try would spend the cluster's time hiding it.
* **Caches: reference weights travel with the case, through Ray's object store.** The first
  inference case of a model trains the weights on its node (as the local executor's first
  case does) while the model's other inference cases wait (per reference device: a case
  without a GPU sees none and trains on the CPU, a GPU case on CUDA); the task hands the
  weight files back, the driver puts each in the object store once, and every later case of
  that model carries them, so each node reads them from its object store instead of
  training. Shipping beats training before dispatch on the driver: the weights' key names the
  reference device (a GPU case trains on CUDA), which the driver cannot stand in for, and a
  driver that is a laptop should not train an `xl` model. ONNX files are not shipped: they
  derive from the weights with the node's own torch and ONNX Runtime, so each node exports
  once into its own cache (`harness.executors.node`), and later cases on that node reuse it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import secrets
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.backends import get_backend
from harness.cases import PlannedCase
from harness.errors import UsageError, one_line
from harness.executors import node as on_node
from harness.executors.base import Executor
from harness.executors.launch import checked, worker_spec
from harness.protocol import Case, ProcessResult
from harness.results.case_result import CaseResult
from harness.results.storage import write_atomic

if TYPE_CHECKING:
    from tqdm import tqdm

    from harness.executors.base import SweepView

#: Resources every node has that say nothing about its kind.
_STANDARD = ("CPU", "GPU", "memory", "object_store_memory")
_EPS = 1e-6  # Ray keeps resources to 4 decimals
#: How long a lost worker's node may take to be declared dead (`_still_alive`): long enough
#: for Ray's health check (health_check_period_ms x health_check_failure_threshold) to miss a
#: few beats. On this machine a killed raylet's tasks failed with NodeDiedError at once, so the
#: wait is paid only by a worker lost on a node the cluster still counts alive.
_NODE_DEATH_WAIT_S = 20.0
#: `cluster_auth`'s client: exits 0 when admitted, `_REFUSED` when turned away.
_REFUSED = 3
_STRANGER_PROBE = ("import sys, ray; from ray._raylet import GcsClient\n"
                   "try: GcsClient(address=sys.argv[1])\n"
                   f"except ray.exceptions.AuthenticationError: sys.exit({_REFUSED})")


@dataclass
class Node:
    """An alive node of the cluster, what it has, and what this sweep holds on it now."""

    node_id: str
    address: str
    cpus: float
    gpus: float
    resources: dict[str, float]
    kind: str = ""
    busy_cpus: float = 0.0
    busy_gpus: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.node_id[:12]}@{self.address}"

    @property
    def custom(self) -> list[str]:
        """Resources a cluster's operator gave the node (they often name its hardware)."""
        return sorted(name for name in self.resources if name not in _STANDARD
                      and not name.startswith(("node:", "accelerator_type:")))

    def fits(self, cpus: float, gpus: float) -> bool:
        return (self.busy_cpus + cpus <= self.cpus + _EPS
                and self.busy_gpus + gpus <= self.gpus + _EPS)


@dataclass
class Flight:
    """A case process running on a node."""

    planned: PlannedCase
    result: CaseResult
    index: int
    node: Node
    cpus: float
    gpus: float
    threads: int
    cases_per_node: int
    trains: tuple[str, str, bool] | None = None  # the weights it trains first (`_place`)


@dataclass(frozen=True)
class LostTry:
    """A try of a case's process that the cluster lost: where, and why."""

    node_id: str
    reason: str
    retriable: bool  # the cluster's failure (module docstring), not the case's


@dataclass
class RayExecutor(Executor):
    """Runs a sweep on the Ray cluster at `address` (default: $RAY_ADDRESS, else a Ray
    started for the sweep on this machine and shut down after it)."""

    nodes: list[Node]
    owns_ray: bool
    driver_node: str
    auth: str = ""  # whether the cluster refuses a stranger (`cluster_auth`), for the rows
    shipped: dict[str, Any] = field(default_factory=dict)  # weight file name -> ObjectRef
    training: set[tuple[str, str, bool]] = field(default_factory=set)  # being trained now
    trained: set[tuple[str, str, bool]] = field(default_factory=set)
    lost: dict[str, list[LostTry]] = field(default_factory=dict)  # case id -> its lost tries

    @classmethod
    def connect(cls, address: str | None = None, accelerator_type: str = "") -> RayExecutor:
        try:
            import ray
        except ImportError as exc:
            raise UsageError("--executor ray needs Ray: pip install 'archbench[ray]'") from exc
        # "local": a Ray started for this run, never one that another program left running
        address = address or os.environ.get("RAY_ADDRESS") or "local"
        owns = not ray.is_initialized()
        if owns:
            if ":" in address and "://" not in address:  # a cluster's GCS, host:port
                _check_admitted(address)
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False,
                         logging_level=logging.WARNING)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise UsageError(f"cannot connect to the Ray cluster at {address}: "
                                 f"{one_line(exc)}; start one with `ray start --head`, or "
                                 "leave out --ray-address for a Ray on this machine") from exc
        context = ray.get_runtime_context()
        executor = cls(_alive_nodes(), owns, context.get_node_id(),
                       cluster_auth(context.gcs_address))
        if accelerator_type:
            executor.nodes = [n for n in executor.nodes
                              if f"accelerator_type:{accelerator_type}" in n.resources]
            if not executor.nodes:
                types = sorted({name.split(":", 1)[1] for n in _alive_nodes()
                                for name in n.resources if name.startswith("accelerator_type:")})
                executor.close()
                raise UsageError(f"no node of the Ray cluster has accelerator type "
                                 f"'{accelerator_type}'; valid: {', '.join(types) or 'none'}")
        return executor

    def hardware_kinds(self) -> tuple[str, ...]:
        """Every distinct kind of node (probed once), sorted: the matrix's order must not
        depend on the order in which the cluster happens to list its nodes."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        if all(n.kind for n in self.nodes):
            return tuple(sorted({n.kind for n in self.nodes}))
        probe = ray.remote(on_node.probe)
        found = ray.get([probe.options(num_cpus=0, max_retries=0, scheduling_strategy=(
            NodeAffinitySchedulingStrategy(n.node_id, soft=False))).remote()
            for n in self.nodes], timeout=180)
        for n, facts in zip(self.nodes, found, strict=True):
            n.kind = kind_label(facts["gpu_name"] or facts["cpu_model"], n.custom)
        return tuple(sorted({n.kind for n in self.nodes}))

    def close(self) -> None:
        import ray

        if self.owns_ray and ray.is_initialized():
            ray.shutdown()

    def run(self, sweep: SweepView, bar: tqdm) -> set[str]:
        import ray

        if sweep.config.hardware:
            self.hardware_kinds()
        task = ray.remote(on_node.run_case_process)
        pending = deque(sorted(((p, r) for p, r in sweep.cases if not r.finished),
                               key=lambda case: case[1].next_process() or 0))
        flights: dict[Any, Flight] = {}
        touched: set[str] = set()
        counts = {"done": 0, "failed": 0}

        def show() -> None:
            bar.set_postfix_str(f"running {len(flights)}, done {counts['done']}, "
                                f"failed {counts['failed']}", refresh=False)

        def finish(planned: PlannedCase, result: CaseResult, process: ProcessResult) -> None:
            sweep.record(planned, result, process)
            touched.add(planned.case.case_id)
            counts["done" if process.ok or process.status == "skipped" else "failed"] += 1
            show()
            bar.update()
            if not result.finished:
                pending.append((planned, result))

        try:
            while pending or flights:
                for _ in range(len(pending)):
                    planned, result = pending.popleft()
                    flight = self._place(sweep, planned, result)
                    if isinstance(flight, ProcessResult):
                        finish(planned, result, flight)
                    elif flight is None:
                        pending.append((planned, result))  # no room now, or waits for weights
                    else:
                        flights[self._submit(task, sweep, flight)] = flight
                show()
                bar.refresh()
                if not flights:
                    break
                ready, _ = ray.wait(list(flights), num_returns=1)
                for ref in ready:
                    flight = flights.pop(ref)
                    flight.node.busy_cpus -= flight.cpus
                    flight.node.busy_gpus -= flight.gpus
                    process = self._collect(ref, flight, sweep)
                    if process is None:  # lost by the cluster: runs again elsewhere
                        pending.append((flight.planned, flight.result))
                    else:
                        finish(flight.planned, flight.result, process)
        finally:
            for ref in flights:  # the worker dies with the task, the case with its lifeline
                ray.cancel(ref, force=True)
        return touched

    def _place(self, sweep: SweepView, planned: PlannedCase, result: CaseResult
               ) -> Flight | ProcessResult | None:
        """Where the case's next process runs now: a flight, a process that cannot run
        (skipped, or no node can hold it), or None to wait for room or for weights."""
        index = result.next_process() or 0
        case, config = planned.case, sweep.config
        backend = get_backend(case.backend)
        gpu = backend.device == "cuda"
        if planned.skip_reason and not (gpu and planned.skip_reason
                                        == backend.unavailable_reason()):
            return ProcessResult(0, "skipped", planned.skip_reason)
        # A CUDA backend this machine cannot run goes to the GPU nodes, whose worker
        # judges it again; with no GPU node it stays skipped, for the driver's reason.
        lost = self.lost.get(case.case_id, [])
        nodes = [n for n in self.nodes if (not case.hardware or n.kind == case.hardware)
                 and n.node_id not in {t.node_id for t in lost}]
        demands = [(n, _demand(n, gpu, config.threads, config.cases_per_node)) for n in nodes]
        demands = [(n, d) for n, d in demands if d is not None]
        if planned.skip_reason and not demands:
            return ProcessResult(0, "skipped", planned.skip_reason)
        where = f"of kind {case.hardware}" if case.hardware else "of the Ray cluster"
        if lost and not demands:
            del self.lost[case.case_id]
            return ProcessResult.failure(index, "crashed", f"{_reasons(lost)}; no other node "
                                         f"{where} is left to run it again"
                                         ).placed(_retried(lost[:-1]))
        if not demands:
            return ProcessResult(index, "skipped", f"no node {where} can run it (alive: "
                                 f"{len(self.nodes)}; it needs {'a GPU' if gpu else 'CPUs'})")
        # A model's weights per reference device: a case without a GPU sees none
        # (`node.case_env`), so its weights are trained on the CPU, a GPU case's on CUDA.
        weights = (case.suite, case.size, gpu)
        if case.phase == "infer" and weights in self.training:
            return None
        for node, (cpus, gpus, threads, per_node) in demands:
            if node.fits(cpus, gpus):
                node.busy_cpus += cpus
                node.busy_gpus += gpus
                trains = case.phase == "infer" and weights not in self.trained
                if trains:
                    self.training.add(weights)
                return Flight(planned, result, index, node, cpus, gpus, threads, per_node,
                              weights if trains else None)
        return None

    def _submit(self, task: Any, sweep: SweepView, flight: Flight) -> Any:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        case = flight.planned.case
        config = dataclasses.replace(sweep.config, threads=flight.threads)
        spec = worker_spec(case, config, sweep.cache_dir, flight.index, None)
        names = [name for name in self.shipped if name.startswith(f"{case.suite}-{case.size}-")]
        return task.options(
            num_cpus=flight.cpus, num_gpus=flight.gpus, max_retries=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(flight.node.node_id, soft=False),
        ).remote(spec, sweep.config.timeout_s, on_node.case_env(flight.threads, flight.gpus > 0),
                 flight.cases_per_node, self.driver_node, names,
                 *(self.shipped[name] for name in names))

    def _collect(self, ref: Any, flight: Flight, sweep: SweepView) -> ProcessResult | None:
        """The process's result, its log written on the driver, its weights kept to ship;
        None for a process the cluster lost that is to run again (module docstring)."""
        import ray

        case = flight.planned.case
        if flight.trains:
            self.training.discard(flight.trains)
            self.trained.add(flight.trains)
        lost = self.lost.pop(case.case_id, [])  # its earlier tries, which ran again
        try:
            reply: on_node.NodeReply = ray.get(ref)
        except ray.exceptions.RayError as exc:
            this = self._lost(flight.node, exc)
            if this.retriable and len(lost) < sweep.config.max_retries:
                self.lost[case.case_id] = [*lost, this]
                return None
            process = ProcessResult.failure(flight.index, "crashed", _reasons([*lost, this]))
        else:
            log = sweep.log_path(flight.planned, flight.index)
            write_atomic(log, lambda tmp: tmp.write_text(reply.log))
            self._keep_weights(case, reply.weights, sweep)
            process = checked(reply.result)
        return process.placed({"executor": "ray", "node": flight.node.label,
                               "cluster_auth": self.auth,
                               "cases_per_node": flight.cases_per_node,
                               "omp_num_threads": str(flight.threads), **_retried(lost)})

    def _keep_weights(self, case: Case, trained: dict[str, bytes], sweep: SweepView) -> None:
        """Put the model's weight files in the object store once, for its later cases: those
        a node trained and sent back, and those in the driver's own cache (trained by a case
        on the driver's node). A cluster of one node shares the driver's cache: no copies."""
        import ray

        if len(self.nodes) < 2:
            return
        here = (sweep.cache_dir / on_node.WEIGHTS_DIR).glob(f"{case.suite}-{case.size}-*.pt")
        files = {path.name: path for path in here}
        for name in sorted({*files, *trained} - set(self.shipped)):
            self.shipped[name] = ray.put(trained[name] if name in trained
                                         else files[name].read_bytes())

    def _lost(self, node: Node, exc: Exception) -> LostTry:
        """Why a task gave no result, and whether the cluster caused it (module docstring);
        a node that is gone gets no more cases."""
        import ray

        message = _first_sentence(exc)
        if isinstance(exc, (ray.exceptions.NodeDiedError, ray.exceptions.LocalRayletDiedError)
                      ) or not _still_alive(node):
            self.nodes = [n for n in self.nodes if n.node_id != node.node_id]
            return LostTry(node.node_id, f"node lost: {node.label}: {message}", True)
        if isinstance(exc, ray.exceptions.OutOfMemoryError):
            return LostTry(node.node_id, f"killed by Ray's memory monitor on {node.label}: "
                           f"{message}", True)
        if isinstance(exc, ray.exceptions.ObjectLostError):
            return LostTry(node.node_id, f"result lost on {node.label}: {message}", True)
        return LostTry(node.node_id, f"Ray worker lost on {node.label}: {message}", False)


def _retried(rerun: list[LostTry]) -> dict[str, Any]:
    """The row's columns for the lost tries that ran again (none: no columns)."""
    return {"retries": len(rerun), "lost_nodes": _reasons(rerun)} if rerun else {}


def _reasons(lost: list[LostTry]) -> str:
    """Every lost try of a process, in order, in one line."""
    return "; then ".join(t.reason for t in lost)


def _still_alive(node: Node) -> bool:
    """Whether the cluster still counts `node` alive. A node whose raylet was just killed
    fails its tasks before the cluster's health check declares it dead (a few seconds):
    asked at once, it would pass for alive, so a worker lost on it is asked about again
    until the check has had its time (`_NODE_DEATH_WAIT_S`)."""
    deadline = time.monotonic() + _NODE_DEATH_WAIT_S
    while node.node_id in {n.node_id for n in _alive_nodes()}:
        if time.monotonic() > deadline:
            return True
        time.sleep(0.5)
    return False


def _check_admitted(address: str) -> None:
    """One line when the cluster at `address` refuses this driver's token or cannot be
    reached, before `ray.init` would retry for seconds, printing a warning a second, and end
    in a ConnectionError that does not say why."""
    import ray
    from ray._raylet import GcsClient

    try:
        GcsClient(address=address)
    except ray.exceptions.AuthenticationError as exc:
        raise UsageError(
            f"the Ray cluster at {address} refused this driver: {_first_sentence(exc)}; "
            f"set RAY_AUTH_MODE=token and give the cluster's token (the file "
            f"~/.ray/auth_token, RAY_AUTH_TOKEN_PATH, or RAY_AUTH_TOKEN)") from exc
    except ray.exceptions.RayError as exc:
        raise UsageError(f"cannot reach the Ray cluster at {address}: {_first_sentence(exc)}"
                         f"; start one with `ray start --head`, or leave out --ray-address "
                         f"for a Ray on this machine") from exc


def cluster_auth(gcs_address: str) -> str:
    """Whether the cluster at `gcs_address` refuses a stranger: 'token' when a client with a
    random token is turned away (Ray's token authentication is on), 'none' when it is let in
    (anyone who reaches the port may run code there). Asked of the cluster, in a throwaway
    interpreter (Ray reads its token once per process), not inferred from this driver's own
    settings: a driver that sends a token is admitted by a cluster that checks none."""
    stranger = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
                "RAY_AUTH_TOKEN_PATH": ""}
    try:
        probe = subprocess.run([sys.executable, "-c", _STRANGER_PROBE, gcs_address],
                               env=stranger, capture_output=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        return "unknown"
    return {0: "none", _REFUSED: "token"}.get(probe.returncode, "unknown")


def _first_sentence(exc: BaseException) -> str:
    return re.split(r"(?<=[a-z])\. ", one_line(exc), maxsplit=1)[0][:200]


def _demand(node: Node, gpu: bool, threads: int, cases_per_node: int
            ) -> tuple[float, float, int, int] | None:
    """(CPUs, GPUs, threads, cases per node) a case reserves on `node`, or None if it cannot
    run there (module docstring: a CPU case takes its share of the node, a GPU case a GPU)."""
    if gpu:
        if node.gpus < 1:
            return None
        want = threads or max(1, int(node.cpus // node.gpus))
        return float(min(want, node.cpus)), 1.0, want, int(node.gpus)
    share = node.cpus / cases_per_node
    return share, 0.0, threads or max(1, int(share)), cases_per_node


def _alive_nodes() -> list[Node]:
    """The nodes that can run a case now."""
    import ray

    nodes = [Node(n["NodeID"], n["NodeManagerAddress"], n["Resources"].get("CPU", 0.0),
                  n["Resources"].get("GPU", 0.0), dict(n["Resources"]))
             for n in ray.nodes() if n["Alive"]]
    return [n for n in nodes if n.cpus > 0]  # a head node kept free of work runs no case


def kind_label(hardware: str, custom: list[str]) -> str:
    """A kind of node as a case-id-safe name: its GPU (or CPU) model and custom resources,
    e.g. 'nvidia-a10g' or 'intel-xeon-platinum-8375c-2.90ghz-kind_a'."""
    words = re.sub(r"\((r|tm)\)|\bcpu\b|@", " ", hardware.lower())
    return "-".join([*re.findall(r"[a-z0-9][a-z0-9._]*", words), *custom]) or "unknown"
