"""What a Ray task does on its node: launch one case process there, isolated as locally.

This module is all a Ray worker imports for a case (no torch, no pandas), and the worker
itself never runs the case: Ray reuses its worker processes across tasks, so a case run
inside one would inherit the allocator, thread pools and imports of every case before it.
Instead the task launches the same fresh `harness.case.worker` subprocess as the local executor
(`isolation.launch`), with the same timeout, process-group kill and lifeline (if Ray kills the
task's worker, the case dies with it), and returns the result and the case's log to the driver.

The environment is set explicitly (`case_env`). Threads: Ray sets OMP_NUM_THREADS from a
task's `num_cpus` (and to 1 for a task that asks for none), so the case gets OMP_NUM_THREADS
and MKL_NUM_THREADS equal to the threads the driver reserved for it, on purpose, and the row
records it. GPUs: Ray sets CUDA_VISIBLE_DEVICES to the GPUs a task reserved, but leaves it
alone for a task that reserved none, which would then see every GPU of its node, those
other cases are timed on included; a case without a GPU reservation gets none visible.

Caches: a node that is the driver's machine uses the driver's cache folder; any other node
keeps its own (`$ARCHBENCH_NODE_CACHE`, default ~/.cache/archbench), so it exports each ONNX
file once, not once per case. Trained reference weights travel with the case
(`harness.executors.ray` explains why): the task writes the weight files it was given into
the node's cache before the case starts, and hands back any it trained itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.executors.isolation import launch, worker_env
from harness.protocol import ProcessResult, WorkerSpec
from harness.results.storage import write_atomic

NODE_CACHE_ENV = "ARCHBENCH_NODE_CACHE"
#: The folder of the cache that holds trained weights (`harness.case.weights`).
WEIGHTS_DIR = "weights"
#: Read in a throwaway interpreter: it imports torch, which the Ray worker should not hold.
_PROBE = ("import json; from harness.machine.environment import cpu_model, gpu_name; "
          "print(json.dumps({'cpu_model': cpu_model(), 'gpu_name': gpu_name()}))")


@dataclass(frozen=True)
class NodeReply:
    """What a Ray task hands back to the driver: the case process's result, its log, and the
    weight files it trained that the driver did not send (name -> bytes)."""

    result: ProcessResult
    log: str
    weights: dict[str, bytes]


def run_case_process(spec: WorkerSpec, timeout_s: float, env: dict[str, str],
                     shared_by: int, driver_node: str, weight_names: list[str],
                     *weight_files: bytes) -> NodeReply:
    """Run one case process (`spec`, as `harness.case.worker` takes it) on this node, with `env`
    (`case_env`) over the Ray worker's environment, and its share of the node's memory among
    the `shared_by` cases that run on it at once (unless the sweep gave a limit)."""
    import ray

    node_id = ray.get_runtime_context().get_node_id()
    shared = node_id == driver_node  # the driver's own machine: its cache folder is here
    cache = Path(spec.cache_dir) if shared else _node_cache()
    weights = cache / WEIGHTS_DIR
    for name, blob in zip(weight_names, weight_files, strict=True):
        if not (weights / name).exists():
            write_atomic(weights / name, lambda tmp, blob=blob: tmp.write_bytes(blob))
    # the case's log (and its spec, beside it) in the node's cache, not in /tmp: a task that
    # dies with its node removes nothing, and the tests kill nodes
    scratch = cache / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="case-", dir=scratch) as tmp:
        log = Path(tmp) / "case.log"
        result = launch(spec.cached_in(str(cache)), timeout_s, log, sys.executable, env,
                        max_memory_gb=spec.config.get("max_memory_gb", 0.0),
                        shared_by=shared_by)
        log_text = log.read_text(errors="replace")
    prefix = f"{spec.case.suite}-{spec.case.size}-"
    trained = {} if shared else {
        path.name: path.read_bytes() for path in weights.glob(f"{prefix}*.pt")
        if path.name not in weight_names}
    return NodeReply(result, log_text, trained)


def case_env(threads: int, gpu: bool) -> dict[str, str]:
    """What a case's process gets set on top of its Ray worker's environment: the threads
    reserved for it, not Ray's; and no GPU unless it reserved one (module docstring)."""
    return {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
            **({} if gpu else {"CUDA_VISIBLE_DEVICES": ""})}


def probe() -> dict[str, str]:
    """This node's CPU model and GPU name, which tell kinds of node apart (--per-hardware)."""
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                          env=worker_env(), timeout=120, check=True)
    return json.loads(done.stdout)


def _node_cache() -> Path:
    return Path(os.environ.get(NODE_CACHE_ENV) or Path.home() / ".cache" / "archbench")
