"""Trained reference weights, cached on disk: what inference cases evaluate and time.

Inference accuracy must be of *trained* weights (a random model's accuracy says nothing about
a backend), and every inference backend must see the *same* weights so that their accuracies
differ only by the backend. So each suite/size is trained once, with PyTorch eager fp32 for the
task's budget, on CUDA where there is a device (the `xl` sizes would take minutes a step on the
CPU) and on the CPU elsewhere, and cached under a key that covers everything the weights depend
on (`model_key`, the reference backend included): stale weights would pass for trained ones and
skew every inference row after an edit, and the ONNX export cache inherits the key.

A sweep's own reference train case (`cpu-eager` or `cuda-eager`) runs exactly that training
(same initial weights, batches, seed and optimizer; see `harness.case.training.run_budget`), so it
stores its result here and the inference cases after it do not train the same weights again.

A suite whose weights are `as built` (a pretrained model, a user's checkpoint) is never
trained here: inference runs what `build` returns, untouched. Its key covers those weights
by their content (`state_digest`), so a new checkpoint under the same file name makes a new
key, and the ONNX export cache, which inherits the key, exports again.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import inspect
import json
import os
from pathlib import Path

import torch

from harness.backends.base import Backend, CaseContext, no_cuda_reason
from harness.backends.eager import CPU_EAGER, CUDA_EAGER
from harness.case.training import run_budget
from harness.results.storage import write_atomic
from suites.base import Suite, TaskData

#: Modules whose code shapes the trained weights whatever the suite: Task and its optimizer,
#: the digits data, the budget, this cache, and the reference backend's training step.
TRAINING_MODULES = ("suites.base", "suites.digits", "harness.case.training", "harness.case.weights",
                    "harness.backends.base", "harness.backends.eager",
                    "harness.backends.torch_runtime")


def model_key(suite: Suite, size: str, steps: int, seed: int,
              data: TaskData | None = None) -> str:
    """Hash of everything the weights depend on.

    That is: the source files of the code that takes part (`code_files`), the task's data
    (`data`, loaded from the suite when not given), the size's config, the budget, the seed and
    the torch version; for weights as built, their content instead of the budget. Whole files
    rather than single functions, so that an edit to a helper or a default retrains too; an
    edit that did not matter costs one retraining.
    """
    data = suite.data(size) if data is None else data
    task = suite.task
    common = {"code": sorted({source_digest(path) for path in code_files(suite)}),
              "suite": suite.name, "size": size, "config": dict(suite.config(size)),
              "seed": seed, "torch": torch.__version__}
    if suite.as_built:
        weights = {"weights": state_digest(built_state(suite, size, data, seed))}
    else:
        assert task is not None  # a suite without a task has its weights as built
        assert data is not None
        weights = {"data": data_digest(data), "steps": steps, "train_batch": task.train_batch,
                   "lr": task.lr, "task": task.name,
                   "loss": getattr(task.loss, "__qualname__", ""),
                   "reference": reference_backend().name}
    payload = json.dumps({**common, **weights}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


#: The weights a suite/size/seed builds as, per process: the key and the fp64 reference both
#: need them, and building a pretrained model twice over would load its checkpoint twice.
_BUILT: dict[tuple[str, str, str, int], dict[str, torch.Tensor]] = {}


def built_state(suite: Suite, size: str, data: TaskData | None,
                seed: int) -> dict[str, torch.Tensor]:
    """The state dict `build` returns for this size and seed (cached for the process)."""
    key = (suite.source, suite.name, size, seed)
    if key not in _BUILT:
        model = suite.model(size, data, seed)
        _BUILT[key] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return _BUILT[key]


def state_digest(state: dict[str, torch.Tensor]) -> str:
    """Digest of a state dict's names, dtypes, shapes and bytes."""
    digest = hashlib.sha256()
    for name, tensor in sorted(state.items()):
        _add_tensor(digest, name, tensor)
    return digest.hexdigest()


def _add_tensor(digest: hashlib._Hash, label: str, tensor: torch.Tensor) -> None:
    digest.update(f"{label}{tensor.dtype}{tuple(tensor.shape)}".encode())
    digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())


def code_files(suite: Suite) -> set[str]:
    """Source files of the code that builds and trains the suite's model.

    `TRAINING_MODULES`, the files that define the suite's build, task loader, loss and task
    class, and a user's suite file itself. A module that those import from elsewhere is not
    seen: after editing one, delete the cache (`results/.cache/weights/`).
    """
    files = {importlib.util.find_spec(name).origin for name in TRAINING_MODULES}
    task = suite.task
    task_code = (task.load, task.loss, type(task)) if task is not None else ()
    for code in (suite.build, suite.synthetic, suite.train_loss, *task_code):
        if code is None:
            continue
        try:
            path = inspect.getsourcefile(code)
        except TypeError:  # built-in (C) code or an object: the torch version, the source cover it
            continue
        if path is not None:
            files.add(path)
    if suite.source != "builtin":
        files.add(suite.source)
    return files


def source_digest(path: str) -> str:
    """Digest of a file's bytes, read once per process and version of the file: a stat per
    key is cheap, reading every file for every key is not."""
    stat = os.stat(path)
    return _file_digest(path, stat.st_mtime_ns, stat.st_size)


@functools.cache
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    """`mtime_ns` and `size` only key the cache: an edited file is read again."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def data_digest(data: TaskData) -> str:
    """Digest of the whole split (the held-out half too: cheap, and no case to argue)."""
    digest = hashlib.sha256(str(data.num_classes).encode())
    for tensor in (data.x_train, data.y_train, data.x_test, data.y_test):
        _add_tensor(digest, "", tensor)
    return digest.hexdigest()


def reference_backend() -> Backend:
    """Eager fp32 on CUDA where torch sees a device, else on the CPU (module docstring)."""
    return CUDA_EAGER if no_cuda_reason() is None else CPU_EAGER


def _path(suite: Suite, size: str, key: str, cache_dir: Path) -> Path:
    return cache_dir / "weights" / f"{suite.name}-{size}-{key}.pt"


def _save(module: torch.nn.Module, path: Path) -> None:
    state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
    write_atomic(path, lambda tmp: torch.save(state, tmp))


def store_state(suite: Suite, size: str, key: str, cache_dir: Path,
                module: torch.nn.Module) -> None:
    """Cache the weights of a module trained by the reference backend for the budget, under
    the case's `model_key` (already computed: recomputing it would reload and hash the data)."""
    _save(module, _path(suite, size, key, cache_dir))


def trained_state(suite: Suite, size: str, data: TaskData, steps: int, seed: int,
                  cache_dir: Path, threads: int) -> dict[str, torch.Tensor]:
    """The state dict after the budget, from the cache or trained now (and cached)."""
    key = model_key(suite, size, steps, seed, data)
    path = _path(suite, size, key, cache_dir)
    if not path.exists():
        assert suite.task is not None and data is not None, "weights as built are not trained"
        model = suite.model(size, data, seed)
        trainer = reference_backend().training(model, suite.task,
                                               CaseContext(cache_dir, threads, key, seed))
        run_budget(trainer.step, data, suite.task.train_batch, steps, seed)
        _save(model, path)
    return torch.load(path, weights_only=True)
