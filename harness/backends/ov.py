"""OpenVINO on the CPU: the runtime people ship to Intel CPUs (an optional extra:
`pip install -e .[openvino]`).

- ov-cpu        fp32: `INFERENCE_PRECISION_HINT` f32, set explicitly, because the CPU plugin
                defaults to bf16 wherever the CPU has bf16 instructions (it does on the
                AVX-512 bf16 machine these numbers come from)
- ov-cpu-bf16   `INFERENCE_PRECISION_HINT` bf16; native bf16 only (see `default_skip_reason`
                and `_check_precision`)

**From the ONNX file, not the PyTorch module.** The IR is converted from the ONNX file the ORT
backends already export and cache (`onnx_export`), with `openvino.convert_model`, and saved
uncompressed (`compress_to_fp16=False`: `save_model` otherwise halves the weights). So the
graph OpenVINO runs is exactly the one ONNX Runtime runs (the comparison is of runtimes, not of
exporters), the named inputs, structured outputs and dynamic axes come from one exporter whose
failures are already reported as one line, and the export is shared with the ORT rows. Each
row says so (`artifact_source`). The IR is device-independent: OpenVINO compiles it for this
CPU when it is loaded (`load_s`), so the kernel-set caps are not part of its cache key.

**The hint follows the scenario.** LATENCY (one stream, every thread on one request) where one
request is in flight at a time: the latency scenario and the serving scenarios by default.
THROUGHPUT where requests overlap: the step starts a request on an `AsyncInferQueue` of
OpenVINO's optimal number of requests and returns, so consecutive steps run in parallel on
OpenVINO's streams, which is how `benchmark_app` and a throughput server use it. In the
pipelined scenarios (throughput, batch sweep) `sync` waits for all of them; in `server` and
`offline` with `--in-flight N` (N > 1) the serving batcher keeps N batches in flight
(`harness.serving.batching`) and waits on each through its `fence`, an event the request's
completion callback sets. Not the serving default: measured on 2 CPUs (docs/serving.md) it
lowered cnn/small's peak by 16% and gave transformer/small +30% in one run and -49% in
another. The row records the hint, the streams and the requests.

**What OpenVINO actually ran.** After compiling, the runtime graph says each layer's precision
and primitive (`runtimePrecision`, `primitiveType`), recorded as counts (`ov_precisions`,
`ov_kernels`). OpenVINO reads cpuid itself: `ONEDNN_MAX_CPU_ISA=AVX2` caps the oneDNN kernels
inside it (convolutions, brgemm matmuls turn avx2) but not its own JIT kernels (eltwise and
Snippets regions stay avx512), so an AVX2 machine is reproduced only in part, and `ov_kernels`
shows how far. A bf16 run where no layer ran in bf16 is refused (`BackendUnavailable`), never
reported as bf16.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from harness.backends.artifacts import Artifact, artifact_key, cached_artifact
from harness.backends.base import (
    Backend,
    BackendUnavailable,
    CaseContext,
    Fence,
    InferenceRunner,
)
from harness.backends.compile import small_machine_reason
from harness.backends.onnx_export import host_feeds, onnx_file
from harness.machine.cpu_features import cpu_bf16_support
from harness.machine.environment import openvino_version
from harness.model_io import select_output
from suites.inputs import Batch

if TYPE_CHECKING:
    import openvino as ov

    from harness.profiling.request import Profile, ProfileRequest

#: Scenarios whose step is pipelined: several requests in flight, the THROUGHPUT hint.
PIPELINED_SCENARIOS = frozenset({"throughput", "batch-sweep"})
#: Serving scenarios whose batcher keeps several batches in flight when asked (--in-flight N).
SERVED_IN_FLIGHT = frozenset({"server", "offline"})
PRECISION_HINTS = {"fp32": "f32", "bf16": "bf16"}
#: An ISA in a primitive type such as 'brgemm_avx512_amx_bf16' or 'jit_avx2_f32'.
_ISA = re.compile(r"(amx|avx512|avx2|sse41|uni|ref|mlas|acl)")


class OpenVinoBackend(Backend):
    phases = ("infer",)
    no_training = "OpenVINO runs inference only; training is not supported"

    def __init__(self, name: str, precision: str, description: str) -> None:
        self.name = name
        self.device = "cpu"
        self.precision = precision
        self.description = description

    def unavailable_reason(self) -> str | None:
        if not openvino_version():
            return "openvino is not installed (pip install -e .[openvino])"
        if self.precision == "bf16" and not cpu_bf16_support().onednn:
            return ("ONEDNN_MAX_CPU_ISA caps OpenVINO's oneDNN below bf16 while its CPU plugin "
                    "still plans bf16 layers: compiling fails (no Softmax primitive)")
        return None

    def default_skip_reason(self, phase: str) -> str | None:
        """Emulated bf16 is not bf16 (as `cpu-amp-bf16`); and on a small machine OpenVINO's
        cases (each a fresh process paying start-up, conversion and compile_model) do not
        fit the default sweep's budget."""
        support = cpu_bf16_support()
        if self.precision == "bf16" and not support.native:
            return (f"{support.reason}; left out of default sweeps, runs when named "
                    f"(--backend {self.name})")
        return small_machine_reason(self.name, "OpenVINO's 6 default cases add about 130 s "
                                    "to the default sweep")

    def inference(self, model: nn.Module, ctx: CaseContext) -> InferenceRunner:
        return OpenVinoInference(self, model, ctx)

    def config(self, overlapped: bool, threads: int, profiling: bool = False
               ) -> dict[str, Any]:
        """The compile properties of a case whose requests overlap or not (module
        docstring)."""
        hint = "THROUGHPUT" if overlapped else "LATENCY"
        return {"PERFORMANCE_HINT": hint, "INFERENCE_PRECISION_HINT":
                PRECISION_HINTS[self.precision], "INFERENCE_NUM_THREADS": threads,
                "PERF_COUNT": profiling}


def ir_artifact(onnx_path: Path, cache_dir: Path) -> Artifact:
    """The OpenVINO IR of an ONNX file (a folder holding model.xml and model.bin), cached by
    the ONNX file's own key and OpenVINO's version."""
    import openvino as ov

    key = artifact_key(onnx_path.name, f"openvino {ov.get_version()}", "compress_to_fp16=False")

    def convert(folder: Path) -> None:
        ov.save_model(ov.convert_model(str(onnx_path)), str(folder / "model.xml"),
                      compress_to_fp16=False)

    return cached_artifact(cache_dir / "openvino" / f"{key}.ir", convert, folder=True)


class OpenVinoInference(InferenceRunner):
    def __init__(self, backend: OpenVinoBackend, model: nn.Module, ctx: CaseContext) -> None:
        super().__init__()
        self.backend = backend
        self.model = model
        self.ctx = ctx
        self.compiled: ov.CompiledModel | None = None
        self.xml: Path | None = None
        self.bound: Batch | None = None
        self.queue: ov.AsyncInferQueue | None = None
        #: served in flight: set by the completion callback of the request started last
        self.started: threading.Event | None = None

    @property
    def pipelined(self) -> bool:
        return self.ctx.scenario in PIPELINED_SCENARIOS

    @property
    def served_in_flight(self) -> bool:
        return self.ctx.scenario in SERVED_IN_FLIGHT and (self.ctx.in_flight or 1) > 1

    @property
    def overlapped(self) -> bool:
        """Steps start requests that run on OpenVINO's streams side by side."""
        return self.pipelined or self.served_in_flight

    def _compiled(self, example: Batch) -> ov.CompiledModel:
        """Export (or reuse) the ONNX file, convert (or reuse) the IR, compile it, once."""
        if self.compiled is None:
            import openvino as ov

            onnx = onnx_file(self.model, example, self.ctx.cache_dir, self.ctx.model_key,
                             "fp32", self.ctx.dynamic_axes)
            ir = ir_artifact(onnx.path, self.ctx.cache_dir)
            self.xml = ir.path / "model.xml"
            config = self.backend.config(self.overlapped, self.ctx.threads)
            start = time.perf_counter()
            self.compiled = ov.Core().compile_model(str(self.xml), "CPU", config)
            self.facts.update(
                export_s=onnx.export_s + ir.export_s, export_cached=ir.cached,
                load_s=time.perf_counter() - start, artifact_bytes=ir.size_bytes,
                artifact_source="onnx", dynamic_batch=True,
                ov_hint=config["PERFORMANCE_HINT"],
                ov_streams=int(self.compiled.get_property("NUM_STREAMS")),
                ov_requests=int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")),
                ov_threads=int(self.compiled.get_property("INFERENCE_NUM_THREADS")),
                **runtime_graph(self.compiled))
            self._check_precision()
        return self.compiled

    def _check_precision(self) -> None:
        if self.backend.precision == "bf16" and "bf16" not in self.facts["ov_precisions"]:
            raise BackendUnavailable(
                f"OpenVINO ran no layer in bf16 on this CPU ({self.facts['ov_precisions']}): "
                "it has no native bf16, so the bf16 hint was ignored")

    def bind(self, x: Batch) -> Callable[[], object]:
        self.bound = x
        compiled = self._compiled(x)
        feeds = host_feeds(x, _input_names(compiled))
        if not self.overlapped:
            request = compiled.create_infer_request()
            return lambda: request.infer(feeds, share_inputs=True, share_outputs=True)
        import openvino as ov

        if self.queue is not None:
            self.queue.wait_all()
        self.queue = ov.AsyncInferQueue(compiled, int(self.facts["ov_requests"]))
        queue = self.queue
        if not self.served_in_flight:
            return lambda: queue.start_async(feeds, share_inputs=True)
        queue.set_callback(_set_done)

        def start() -> None:
            self.started = threading.Event()
            queue.start_async(feeds, userdata=self.started, share_inputs=True)

        return start

    def in_flight(self) -> int:
        return int(self.facts.get("ov_requests", 1)) if self.overlapped else 1

    def fence(self) -> Fence | None:
        """Served in flight: the completion of the request started last."""
        return _Done(self.started) if self.started is not None else None

    def sync(self) -> None:
        """Wait for the requests in flight (pipelined steps only start them)."""
        if self.queue is not None:
            self.queue.wait_all()

    def predict(self, x: Batch) -> torch.Tensor:
        compiled = self._compiled(x)
        outputs = compiled.create_infer_request().infer(host_feeds(x, _input_names(compiled)))
        named = {port.get_any_name(): torch.from_numpy(value.copy())
                 for port, value in outputs.items()}
        return select_output(named, self.ctx.output).float()

    def profile(self, step: Callable[[], object], request: ProfileRequest) -> Profile:
        """A second compiled model of the same IR with OpenVINO's performance counters on,
        bound to the same batch (`harness.profiling.ov_profile`)."""
        import openvino as ov

        from harness.profiling.ov_profile import profile_openvino

        if self.xml is None or self.bound is None:
            raise RuntimeError("profile() before bind(): there is no compiled model to profile")
        compiled = ov.Core().compile_model(str(self.xml), "CPU", self.backend.config(
            self.overlapped, self.ctx.threads, profiling=True))
        infer = compiled.create_infer_request()
        feeds = host_feeds(self.bound, _input_names(compiled))
        return profile_openvino(lambda: infer.infer(feeds, share_inputs=True),
                                lambda: infer.profiling_info, request)


def _set_done(request: ov.InferRequest, done: threading.Event) -> None:
    """An AsyncInferQueue's completion callback (on OpenVINO's thread)."""
    done.set()


#: The longest wait for one request (s): a step takes milliseconds, and a request that failed
#: may never call back, so a wait without an end could hold a load point past its limit.
REQUEST_WAIT_S = 60.0


class _Done:
    """A fence on one started request: its completion callback sets the event."""

    def __init__(self, done: threading.Event) -> None:
        self.done = done

    def synchronize(self) -> None:
        if not self.done.wait(REQUEST_WAIT_S):
            raise RuntimeError(f"an OpenVINO request did not complete in {REQUEST_WAIT_S:g} s")


def _input_names(compiled: ov.CompiledModel) -> set[str]:
    return {port.get_any_name() for port in compiled.inputs}


def runtime_graph(compiled: ov.CompiledModel) -> dict[str, str]:
    """What each layer of the compiled model runs in: its precision and its kernel's ISA, as
    'name:layers' counts, most layers first. Layers with no kernel (inputs, reshapes,
    constants: primitive type 'unknown') count for the precision, not the ISA."""
    precisions: Counter[str] = Counter()
    kernels: Counter[str] = Counter()
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        precisions[info["runtimePrecision"].astype(str)] += 1
        found = _ISA.search(info["primitiveType"].astype(str))
        if found:
            kernels[found.group(1)] += 1
    return {"ov_precisions": _counts(precisions), "ov_kernels": _counts(kernels)}


def _counts(counter: Counter[str]) -> str:
    return " ".join(f"{name}:{count}" for name, count in counter.most_common())


OV_CPU = OpenVinoBackend("ov-cpu", "fp32", "OpenVINO, CPU plugin, fp32 (precision hint f32)")
OV_CPU_BF16 = OpenVinoBackend("ov-cpu-bf16", "bf16",
                              "OpenVINO, CPU plugin, bf16 precision hint (native bf16 only)")
