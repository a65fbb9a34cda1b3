"""ONNX Runtime backends: the model exported to ONNX, run by an ORT execution provider.

- ort-cpu        CPU execution provider, fp32
- ort-cpu-int8   CPU execution provider, INT8 dynamic quantisation of the fp32 file
- ort-cuda       CUDA execution provider, fp32 with TF32 off (as the PyTorch fp32 backends)
- ort-cuda-fp16  CUDA execution provider, the fp32 file converted to fp16 (fp32 inputs/outputs)

Preparation waits for the first batch (`bind` or `predict`), because the exporter traces the
model with an example input; export and derivation (`export_s`), the file's size
(`artifact_bytes`) and session creation (`load_s`) are measured then and land in `facts`, never
in the timed samples. Sessions are configured alike on every provider: all
graph optimisations, `ctx.threads` intra-op threads (the number torch is given), one inter-op
thread and sequential execution, so that a comparison with PyTorch is not a comparison of
thread settings.

The timed step does only the run. On the CPU it is `session.run` on numpy arrays converted
once in `bind` (one per named input): the call every ORT user makes, and the baseline
`benchmarks/fidelity.py --backend ort-cpu` checks the harness against. On CUDA, IO binding
points ORT at input and output buffers already on the device (held by torch), so no host copy
is timed.
The session computes every output of the model (`onnx_export`); `predict` keeps the one the
suite names.

A provider is used only if the session really runs on it. ORT quietly falls back to the CPU
when a provider is listed but cannot load (a missing CUDA or cuDNN library); that would
report CPU numbers under a GPU name, so it raises `BackendUnavailable` instead (-> skipped).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from harness.backends.base import (
    Backend,
    BackendUnavailable,
    CaseContext,
    InferenceRunner,
    no_cuda_reason,
)
from harness.backends.onnx_export import (
    FLOAT_WEIGHT_OPS,
    INTEGER_OPS,
    Int8Settings,
    host_feeds,
    onnx_file,
    op_census,
)
from harness.model_io import select_output, tensors, to_device
from suites.inputs import Batch

if TYPE_CHECKING:
    from harness.profiling.request import Profile, ProfileRequest

DEVICE_ID = 0
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


class OrtBackend(Backend):
    phases = ("infer",)
    no_training = "ONNX Runtime backends run inference only; training is not supported"

    def __init__(self, name: str, device: str, precision: str, description: str) -> None:
        self.name = name
        self.device = device
        self.precision = precision  # also the ONNX variant: fp32, fp16 or int8
        self.description = description
        self.provider = PROVIDERS[device]

    def unavailable_reason(self) -> str | None:
        providers = ort.get_available_providers()
        if self.provider not in providers:
            return (f"onnxruntime build has no {self.provider} (installed: onnxruntime "
                    f"{ort.__version__}, providers: {', '.join(providers)})")
        if self.device == "cuda" and (reason := no_cuda_reason()):
            return f"{reason}; torch holds the device buffers"
        return None

    def inference(self, model: nn.Module, ctx: CaseContext) -> InferenceRunner:
        return OrtInference(self, model, ctx)

    def session_options(self, threads: int, profile_prefix: str | None = None
                        ) -> ort.SessionOptions:
        """The options of every session; `profile_prefix` turns ORT's profiler on (for the
        profiling session only: `harness.profiling.ort_profile`)."""
        options = ort.SessionOptions()
        if profile_prefix is not None:
            options.enable_profiling = True
            options.profile_file_prefix = profile_prefix
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        return options

    def providers(self) -> list[str | tuple[str, dict[str, object]]]:
        """The provider list for a session; CUDA with TF32 off, which ORT enables by default.

        cuDNN's convolution algorithm search is left at ORT's default (exhaustive), the
        counterpart of the PyTorch CUDA backends' `cudnn.benchmark = True`.
        """
        if self.device == "cuda":
            return [(self.provider, {"device_id": DEVICE_ID, "use_tf32": 0}),
                    "CPUExecutionProvider"]
        return [self.provider]

    def open_session(self, path: Path, threads: int, profile_prefix: str | None = None
                     ) -> ort.InferenceSession:
        """A session on this backend's provider, or `BackendUnavailable` if ORT fell back."""
        session = ort.InferenceSession(str(path), sess_options=self.session_options(
            threads, profile_prefix), providers=self.providers())
        active = session.get_providers()
        if active[0] != self.provider:
            raise BackendUnavailable(
                f"{self.provider} is listed but failed to load; the session fell back to "
                f"{', '.join(active)} (onnxruntime {ort.__version__}; ORT's log names the "
                "missing library)")
        return session


class OrtInference(InferenceRunner):
    def __init__(self, backend: OrtBackend, model: nn.Module, ctx: CaseContext) -> None:
        super().__init__()
        self.backend = backend
        self.model = model
        self.ctx = ctx
        self.session: ort.InferenceSession | None = None
        self.path: Path | None = None  # the ONNX file the session runs
        self.bound: Batch | None = None  # the batch `bind` was given
        self.device_buffers: tuple[torch.Tensor, ...] = ()

    def _session(self, example: Batch) -> ort.InferenceSession:
        """Export (or reuse the cached file) and open the session, once."""
        if self.session is None:
            file = onnx_file(self.model, example, self.ctx.cache_dir, self.ctx.model_key,
                             self.backend.precision, self.ctx.dynamic_axes)
            if self.backend.precision == "int8":
                self._record_quantisation(file.path)
            start = time.perf_counter()
            self.path = file.path
            self.session = self.backend.open_session(file.path, self.ctx.threads)
            self.facts.update(export_s=file.export_s, export_cached=file.cached,
                              load_s=time.perf_counter() - start,
                              artifact_bytes=file.size_bytes, ort_threads=self.ctx.threads)
        return self.session

    def _record_quantisation(self, path: Path) -> None:
        """Say what the int8 file computes in integers and what it left in float; refuse a
        file with no integer op, which would be an fp32 run under an int8 name."""
        quantized, left = op_census(path, INTEGER_OPS, FLOAT_WEIGHT_OPS)
        if not quantized:
            raise BackendUnavailable(f"quantize_dynamic quantised none of this model's ops "
                                     f"({left or 'no weighted ops'} left in float)")
        self.facts.update(quantized_ops=quantized, float_weight_ops=left,
                          quantization=Int8Settings.for_this_cpu().description)

    def bind(self, x: Batch) -> Callable[[], object]:
        self.bound = x
        return self._step(self._session(x), x)

    def _step(self, session: ort.InferenceSession, x: Batch) -> Callable[[], object]:
        if self.backend.device == "cuda":
            return self._bind_device(session, x)
        feeds = _feeds(session, x)
        return lambda: session.run(None, feeds)

    def _bind_device(self, session: ort.InferenceSession, x: Batch) -> Callable[[], object]:
        """IO binding to torch-held device buffers: inputs copied once, every output written
        in place.

        The outputs' shapes and dtypes come from one untimed host run of the same batch: a
        symbolic axis (batch, sequence) has no size in the session's metadata. The fp16 file
        keeps fp32 inputs and outputs, so they are the fp32 file's.
        """
        device = torch.device("cuda", DEVICE_ID)
        binding = session.io_binding()
        buffers = []
        inputs = {arg.name for arg in session.get_inputs()}
        for name, tensor in tensors(to_device(x, device)).items():
            if name in inputs:  # the exporter drops an input the graph does not use
                tensor = tensor.contiguous()
                binding.bind_input(name, "cuda", DEVICE_ID, _numpy_dtype(tensor),
                                   tuple(tensor.shape), tensor.data_ptr())
                buffers.append(tensor)
        names = [arg.name for arg in session.get_outputs()]
        for name, host in zip(names, session.run(names, _feeds(session, x)), strict=True):
            out = torch.empty(host.shape, dtype=torch.from_numpy(host).dtype, device=device)
            binding.bind_output(name, "cuda", DEVICE_ID, host.dtype, tuple(out.shape),
                                out.data_ptr())
            buffers.append(out)
        torch.cuda.synchronize()  # the copy ran on torch's stream; ORT reads on its own stream
        self.device_buffers = tuple(buffers)  # ORT holds raw pointers: keep the memory alive
        return lambda: session.run_with_iobinding(binding)

    def profile(self, step: Callable[[], object], request: ProfileRequest) -> Profile:
        """A second session of the same file with ORT's profiler on, bound to the same batch
        (`harness.profiling.ort_profile`); the timed session's buffers are kept alive."""
        from harness.profiling.ort_profile import profile_ort

        if self.path is None or self.bound is None:
            raise RuntimeError("profile() before bind(): there is no session to profile")
        prefix = str(Path(tempfile.gettempdir()) / f"archbench-ort-{os.getpid()}")
        session = self.backend.open_session(self.path, self.ctx.threads, prefix)
        timed_buffers = self.device_buffers
        try:
            return profile_ort(self._step(session, self.bound), self.sync,
                               session.end_profiling, request)
        finally:
            self.device_buffers = timed_buffers

    def predict(self, x: Batch) -> torch.Tensor:
        """Through `session.run` on host arrays on every provider (host copies are fine here);
        the output the suite names, by its graph name (`onnx_export`)."""
        session = self._session(x)
        names = [arg.name for arg in session.get_outputs()]
        outputs = dict(zip(names, session.run(names, _feeds(session, x)), strict=True))
        return select_output({name: torch.from_numpy(value) for name, value in outputs.items()},
                             self.ctx.output).float()

    def sync(self) -> None:
        """A device-wide synchronize: ORT runs on its own CUDA stream, not torch's current one,
        so a stream-level wait would miss its work."""
        if self.backend.device == "cuda":
            torch.cuda.synchronize(DEVICE_ID)


def _feeds(session: ort.InferenceSession, x: Batch) -> dict[str, np.ndarray]:
    return host_feeds(x, {arg.name for arg in session.get_inputs()})


def _numpy_dtype(tensor: torch.Tensor) -> np.dtype:
    return torch.empty(0, dtype=tensor.dtype).numpy().dtype


ORT_CPU = OrtBackend("ort-cpu", "cpu", "fp32", "ONNX Runtime, CPU execution provider, fp32")
ORT_CPU_INT8 = OrtBackend("ort-cpu-int8", "cpu", "int8",
                          "ONNX Runtime, CPU execution provider, INT8 dynamic quantisation")
ORT_CUDA = OrtBackend("ort-cuda", "cuda", "fp32",
                      "ONNX Runtime, CUDA execution provider, fp32 (TF32 off)")
ORT_CUDA_FP16 = OrtBackend("ort-cuda-fp16", "cuda", "fp16",
                           "ONNX Runtime, CUDA execution provider, model converted to fp16")
