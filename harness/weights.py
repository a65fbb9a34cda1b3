"""Trained reference weights, cached on disk: what inference cases evaluate and time.

Inference accuracy must be of *trained* weights (a random model's accuracy says nothing about
a backend), and every inference backend must see the *same* weights so that their accuracies
differ only by the backend. So each suite/size is trained once, with PyTorch eager fp32 on the
CPU for the task's budget, and cached under a key that covers the model's definition, the size,
the budget, the seed and the torch version.

A sweep's own `cpu-eager` train case runs exactly that training (same initial weights, batches,
seed and optimizer; see `harness.training.run_budget`), so it stores its result here and the
inference cases after it do not train the same weights a second time.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from pathlib import Path

import torch

from harness.backends.base import Backend, CaseContext
from harness.backends.eager import CPU_EAGER
from harness.training import run_budget
from suites.base import Suite, TaskData


def model_key(suite: Suite, size: str, steps: int, seed: int) -> str:
    """Hash of everything the trained weights depend on."""
    definition = inspect.getsource(inspect.getmodule(suite.build))
    task = suite.task
    payload = json.dumps({
        "definition": definition, "suite": suite.name, "size": size,
        "config": dict(suite.config(size)), "steps": steps, "seed": seed,
        "train_batch": task.train_batch, "lr": task.lr, "task": task.name,
        "torch": torch.__version__,
    }, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


REFERENCE_BACKEND: Backend = CPU_EAGER


def _path(suite: Suite, size: str, steps: int, seed: int, cache_dir: Path) -> Path:
    return cache_dir / "weights" / f"{suite.name}-{size}-{model_key(suite, size, steps, seed)}.pt"


def store_state(suite: Suite, size: str, steps: int, seed: int, cache_dir: Path,
                module: torch.nn.Module) -> None:
    """Cache the weights of a module trained by the reference backend for the budget."""
    path = _path(suite, size, steps, seed, cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    torch.save({k: v.detach().cpu() for k, v in module.state_dict().items()}, tmp)
    os.replace(tmp, path)


def trained_state(suite: Suite, size: str, data: TaskData, steps: int, seed: int,
                  cache_dir: Path, threads: int) -> dict[str, torch.Tensor]:
    """The state dict after the budget, from the cache or trained now (and cached)."""
    path = _path(suite, size, steps, seed, cache_dir)
    if not path.exists():
        model = suite.model(size, data, seed)
        key = model_key(suite, size, steps, seed)
        trainer = REFERENCE_BACKEND.training(model, suite.task,
                                             CaseContext(cache_dir, threads, key, seed))
        run_budget(trainer.step, data, suite.task.train_batch, steps, seed)
        store_state(suite, size, steps, seed, cache_dir, model)
    return torch.load(path, weights_only=True)
