"""AOTInductor: PyTorch's ahead-of-time path for servers that run without Python overhead.

- cpu-aoti    fp32, C++ kernels compiled by inductor (needs the C++ compiler cpu-compile needs)
- cuda-aoti   fp32 (TF32 off, as every fp32 backend), Triton kernels; a skipped row without
              a GPU

The artifact is built as a user would ship it: `torch.export.export` of the model's flat form
(`export_program`: named inputs, flat named outputs, the batch and declared sequence axes
dynamic), `torch._inductor.aoti_compile_and_package` into a `.pt2` package, and loaded with
`torch._inductor.package.load_package` (`load_s`; what `aoti_load_package` calls, with the
number of model instances a server sets: `RUNNERS`), whose callable is the timed step: one call
into the compiled C++ wrapper, no Python module, no dynamo guards.

**Dynamic batch where the model allows it.** A model that fixes its batch (a reshape to the
example's batch size) makes torch.export refuse the dynamic axis; the package is then built
for the case's batch size, the row says so (`dynamic_batch` False, `batch_note`: the
exporter's reason) and each batch size gets its own package. A model torch.export cannot take
at all is an `error` row with torch.export's own message, shortened, and the sweep goes on.

**The cache key** (`artifacts`) holds the model key, the dynamic axes, the torch version, the
device, the kernel-set caps (inductor's generated code depends on them: `isa_caps_key`) and
the thread count, which inductor compiles into its CPU kernels' OpenMP regions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from harness.backends.artifacts import Artifact, artifact_key, cached_artifact
from harness.backends.base import (
    Backend,
    CaseContext,
    Fence,
    InferenceRunner,
    cuda_fence,
    no_cuda_reason,
)
from harness.backends.compile import compiler_missing_reason, small_machine_reason
from harness.backends.export_program import (
    BATCH_AXIS,
    AxisFixed,
    ExportForm,
    export_form,
    export_program,
    export_reason,
)
from harness.machine.cpu_features import isa_caps_key
from harness.model_io import batch_len, call, named_outputs, select_output, tensors, to_device
from suites.inputs import Batch

PACKAGE = "model.pt2"
#: Inside a package folder built for a fixed batch: why the batch could not stay dynamic.
BATCH_NOTE = "batch_note.txt"
#: Model instances in a loaded package's container, by device. AOTInductor's container runs a
#: call on a free instance and frees it once its device work has finished: with one instance on
#: CUDA, a call's host work waits for the last call's kernels, so neither a pipelined block nor
#: the serving batcher could launch a step while another runs. Two, as a server would load it.
#: On the CPU a call has finished when it returns: one.
RUNNERS = {"cpu": 1, "cuda": 2}


class AotiBackend(Backend):
    phases = ("infer",)
    no_training = "AOTInductor packages an inference graph; training is not supported"

    def __init__(self, name: str, device: str, description: str) -> None:
        self.name = name
        self.device = device
        self.precision = "fp32"
        self.description = description

    def unavailable_reason(self) -> str | None:
        if self.device == "cuda" and (reason := no_cuda_reason()):
            return reason
        return compiler_missing_reason(self.device)

    def default_skip_reason(self, phase: str) -> str | None:
        """Building a package compiles the whole model with inductor, once per model: on a
        small machine that is more than the default sweep's budget has room for."""
        if self.device == "cpu":
            return small_machine_reason(self.name, "building an AOTInductor package takes "
                                        "9-16 s per model, and its 6 default cases add about "
                                        "140 s to the default sweep")
        return None

    def settings(self) -> dict[str, Any]:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        return {"tf32_matmul": False, "tf32_cudnn": False}

    def inference(self, model: nn.Module, ctx: CaseContext) -> InferenceRunner:
        return AotiInference(self, model, ctx)


class AotiInference(InferenceRunner):
    def __init__(self, backend: AotiBackend, model: nn.Module, ctx: CaseContext) -> None:
        super().__init__()
        self.backend = backend
        self.model = model
        self.ctx = ctx
        #: loaded packages by batch size; key None: the package that takes any batch
        self.loaded: dict[int | None, Callable[..., Any]] = {}
        self.output_names: list[str] = []

    def _key(self, batch: int | None) -> str:
        axes = sorted((name, sorted(dims.items())) for name, dims in self.ctx.dynamic_axes.items())
        return artifact_key(self.ctx.model_key, repr(axes), f"torch {torch.__version__}",
                            self.backend.device, isa_caps_key(), f"threads {self.ctx.threads}",
                            "dynamic batch" if batch is None else f"batch {batch}")

    def _path(self, batch: int | None) -> Path:
        return self.ctx.cache_dir / "aoti" / f"{self._key(batch)}.pt2d"

    def _runner(self, example: Batch) -> Callable[..., Any]:
        """The loaded package that takes `example`'s batch: the dynamic one, or one built for
        this batch size where the model fixes its batch."""
        batch = batch_len(example)
        for key in (None, batch):
            if key in self.loaded:
                return self.loaded[key]
        artifact, fixed_reason = self._artifact(example, batch)
        start = time.perf_counter()  # a fresh server's load: importing inductor (1 s) too
        from torch._inductor.package import load_package

        runners = RUNNERS[self.backend.device]
        runner = load_package(str(artifact.path / PACKAGE), num_runners=runners)
        load_s = time.perf_counter() - start
        if not self.loaded:  # the first package is the case's; later ones are other batches
            self.facts.update(export_s=artifact.export_s, export_cached=artifact.cached,
                              aoti_runners=runners,
                              load_s=load_s, artifact_bytes=(artifact.path / PACKAGE).stat()
                              .st_size, dynamic_batch=fixed_reason is None)
            if fixed_reason is not None:
                self.facts["batch_note"] = fixed_reason
        self.loaded[None if fixed_reason is None else batch] = runner
        return runner

    def _artifact(self, example: Batch, batch: int) -> tuple[Artifact, str | None]:
        """The cached or newly built package, and why its batch is fixed (None: dynamic)."""
        dynamic, fixed = self._path(None), self._path(batch)
        if dynamic.exists():
            return Artifact(dynamic, 0.0, True), None
        if fixed.exists():
            return Artifact(fixed, 0.0, True), (fixed / BATCH_NOTE).read_text()
        try:
            return cached_artifact(dynamic, lambda folder: self._build(example, folder, True),
                                   folder=True), None
        except _FixedBatch as exc:
            reason = f"the batch was fixed at {batch}: {exc}"

            def build_fixed(folder: Path) -> None:
                self._build(example, folder, False)
                (folder / BATCH_NOTE).write_text(reason)

            return cached_artifact(fixed, build_fixed, folder=True), reason

    def _build(self, example: Batch, folder: Path, dynamic_batch: bool) -> None:
        form = export_form(self.model, example, self.ctx.dynamic_axes, self.backend.device,
                           dynamic_batch)
        self.output_names = form.output_names
        program = _export(form, dynamic_batch)
        with torch.no_grad():
            torch._inductor.aoti_compile_and_package(program,
                                                     package_path=str(folder / PACKAGE))

    def _args(self, x: Batch) -> tuple[torch.Tensor, ...]:
        return tuple(tensors(to_device(x, self.backend.device)).values())

    def bind(self, x: Batch) -> Callable[[], object]:
        runner, args = self._runner(x), self._args(x)
        return lambda: runner(*args)

    def predict(self, x: Batch) -> torch.Tensor:
        outputs = self._runner(x)(*self._args(x))
        if not self.output_names:  # a package from the cache: the build knew them
            with torch.no_grad():
                found = call(self.model.to(self.backend.device).eval(),
                             to_device(x, self.backend.device))
            self.output_names = list(named_outputs(found))
        named = dict(zip(self.output_names, outputs, strict=True))
        return select_output(named, self.ctx.output).float().cpu()

    def sync(self) -> None:
        if self.backend.device == "cuda":
            torch.cuda.synchronize()

    def fence(self) -> Fence | None:
        """The package runs on torch's current stream (AOTInductor's CUDA runner takes it
        when given no stream), so an event recorded there follows it."""
        return cuda_fence(self.backend.device)


class _FixedBatch(Exception):
    """torch.export refused a dynamic batch axis: the model fixes its batch."""


def _export(form: ExportForm, dynamic_batch: bool) -> torch.export.ExportedProgram:
    """torch.export of the flat form; a batch axis the model fixes is `_FixedBatch`, any other
    refusal one line naming what the exporter could not take."""
    try:
        return export_program(form)
    except AxisFixed as exc:
        if dynamic_batch and exc.symbol == BATCH_AXIS:
            raise _FixedBatch(str(exc)) from exc
        raise RuntimeError(f"torch.export failed: {exc}; declare the axis static in the input "
                           "spec") from exc
    except Exception as exc:
        raise RuntimeError(f"torch.export failed: {export_reason(exc)}") from exc


CPU_AOTI = AotiBackend("cpu-aoti", "cpu",
                       "AOTInductor (torch.export + aoti_compile_and_package), fp32, CPU")
CUDA_AOTI = AotiBackend("cuda-aoti", "cuda",
                        "AOTInductor (torch.export + aoti_compile_and_package), fp32 (TF32 off), "
                        "CUDA")
