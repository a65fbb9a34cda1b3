"""ONNX Runtime backends: the model exported to ONNX, run by an ORT execution provider.

- ort-cpu        CPU execution provider, fp32
- ort-cpu-int8   CPU execution provider, INT8 dynamic quantisation of the fp32 file
- ort-cuda       CUDA execution provider, fp32 with TF32 off (as the PyTorch fp32 backends)
- ort-cuda-fp16  CUDA execution provider, the fp32 file converted to fp16 (fp32 inputs/outputs)

Preparation waits for the first batch (`bind` or `predict`), because the exporter traces the
model with an example input; export, derivation and session creation are timed then and land
in `facts`, never in the timed samples. Sessions are configured alike on every provider: all
graph optimisations, `ctx.threads` intra-op threads (the number torch is given), one inter-op
thread and sequential execution, so that a comparison with PyTorch is not a comparison of
thread settings.

The timed step does only the run. On the CPU it is `session.run` on a numpy array converted
once in `bind`: the call every ORT user makes, and the baseline `benchmarks/fidelity_ort.py`
checks the harness against. On CUDA, IO binding points ORT at an input and an output buffer
already on the device (held by torch), so no host copy is timed.

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
    INPUT_NAME,
    INTEGER_OPS,
    OUTPUT_NAME,
    Int8Settings,
    onnx_file,
    op_census,
)

if TYPE_CHECKING:
    from harness.profiling.request import Profile, ProfileRequest

DEVICE_ID = 0
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


class OrtBackend(Backend):
    phases = ("infer",)

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

    def phase_unsupported_reason(self, phase: str) -> str | None:
        if phase == "train":
            return "ONNX Runtime backends run inference only; training is not supported"
        return super().phase_unsupported_reason(phase)

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
        self.bound: torch.Tensor | None = None  # the batch `bind` was given
        self.device_buffers: tuple[torch.Tensor, ...] = ()

    def _session(self, example: torch.Tensor) -> ort.InferenceSession:
        """Export (or reuse the cached file) and open the session, once."""
        if self.session is None:
            file = onnx_file(self.model, example, self.ctx.cache_dir, self.ctx.model_key,
                             self.backend.precision)
            if self.backend.precision == "int8":
                self._record_quantisation(file.path)
            start = time.perf_counter()
            self.path = file.path
            self.session = self.backend.open_session(file.path, self.ctx.threads)
            self.facts.update(export_s=file.export_s, export_cached=file.cached,
                              session_s=time.perf_counter() - start,
                              onnx_file_mb=file.size_mb, ort_threads=self.ctx.threads)
        return self.session

    def _record_quantisation(self, path: Path) -> None:
        """Say what the int8 file computes in integers and what it left in float; refuse a
        file with no integer op, which would be an fp32 run under an int8 name."""
        quantized, left = op_census(path, INTEGER_OPS), op_census(path, FLOAT_WEIGHT_OPS)
        if not quantized:
            raise BackendUnavailable(f"quantize_dynamic quantised none of this model's ops "
                                     f"({left or 'no weighted ops'} left in float)")
        self.facts.update(quantized_ops=quantized, float_weight_ops=left,
                          quantization=Int8Settings.for_this_cpu().description)

    def bind(self, x: torch.Tensor) -> Callable[[], object]:
        self.bound = x
        return self._step(self._session(x), x)

    def _step(self, session: ort.InferenceSession, x: torch.Tensor) -> Callable[[], object]:
        if self.backend.device == "cuda":
            return self._bind_device(session, x)
        feeds = {INPUT_NAME: _host_array(x)}
        return lambda: session.run(None, feeds)

    def _bind_device(self, session: ort.InferenceSession,
                     x: torch.Tensor) -> Callable[[], object]:
        """IO binding to torch-held device buffers: input copied once, logits written in place.

        The logits are fp32 for every variant (the fp16 file keeps fp32 inputs and outputs).
        """
        device = torch.device("cuda", DEVICE_ID)
        x_device = x.to(device).contiguous()
        classes = session.get_outputs()[0].shape[1:]
        logits = torch.empty((len(x), *classes), dtype=torch.float32, device=device)
        binding = session.io_binding()
        binding.bind_input(INPUT_NAME, "cuda", DEVICE_ID, x.detach().numpy().dtype,
                           tuple(x_device.shape), x_device.data_ptr())
        binding.bind_output(OUTPUT_NAME, "cuda", DEVICE_ID, np.float32, tuple(logits.shape),
                            logits.data_ptr())
        torch.cuda.synchronize()  # the copy ran on torch's stream; ORT reads on its own stream
        self.device_buffers = (x_device, logits)  # ORT holds raw pointers: keep the memory alive
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

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Through `session.run` on host arrays on every provider: host copies are fine here."""
        (logits,) = self._session(x).run([OUTPUT_NAME], {INPUT_NAME: _host_array(x)})
        return torch.from_numpy(logits).float()

    def sync(self) -> None:
        """A device-wide synchronize: ORT runs on its own CUDA stream, not torch's current one,
        so a stream-level wait would miss its work."""
        if self.backend.device == "cuda":
            torch.cuda.synchronize(DEVICE_ID)


def _host_array(x: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.detach().cpu().numpy())


ORT_CPU = OrtBackend("ort-cpu", "cpu", "fp32", "ONNX Runtime, CPU execution provider, fp32")
ORT_CPU_INT8 = OrtBackend("ort-cpu-int8", "cpu", "int8",
                          "ONNX Runtime, CPU execution provider, INT8 dynamic quantisation")
ORT_CUDA = OrtBackend("ort-cuda", "cuda", "fp32",
                      "ONNX Runtime, CUDA execution provider, fp32 (TF32 off)")
ORT_CUDA_FP16 = OrtBackend("ort-cuda-fp16", "cuda", "fp16",
                           "ONNX Runtime, CUDA execution provider, model converted to fp16")
