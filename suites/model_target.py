"""The short path: a suite made from `--model mypkg.models:make --input ... --output logits`.

Most users arrive with a model that already exists. For them a suite file is one step too
many: `--model` names a callable that returns the model (a factory, or an `nn.Module` class
whose constructor takes no argument), either as `package.module:name` (imported from the
current folder or the environment) or as `path/to/file.py:name`. The suite it makes has one
size, `default`, no task and the weights as built: the model is benchmarked as it is. The
suite is named after the module and the callable (`models.make`).
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from torch import nn

from harness.errors import UsageError, one_line
from harness.names import is_valid_name
from suites.base import AS_BUILT, Suite, TaskData
from suites.importing import import_file
from suites.inputs import parse_inputs

SIZE = "default"
SYNTAX = "--model package.module:factory or --model path/to/file.py:factory"


@dataclass(frozen=True)
class ModelTarget:
    """What `--model`, `--input` and `--output` say (kept in the sweep's configuration, so
    that every case's process makes the same suite)."""

    target: str
    inputs: tuple[str, ...]
    output: str = ""

    def suite(self) -> Suite:
        module, factory = _resolve(self.target)
        name = _suite_name(self.target)
        if not self.inputs:
            raise UsageError(f"--model {self.target} needs its inputs, one --input each, e.g. "
                             "--input 'input_ids:int64[B,128]<30522'")
        return Suite(
            name=name, description=f"{self.target} as built",
            sizes={SIZE: {}}, default_sizes=(SIZE,), build=_Factory(factory),
            inputs=parse_inputs(self.inputs), output=self.output or None, weights=AS_BUILT,
            source=inspect.getsourcefile(module) or "builtin")


def _suite_name(target: str) -> str:
    """`file.make` for `path/file.py:make` or `pkg.file:make`: the module's last part says
    which model, the callable's name often does not ("make", "build")."""
    where, _, attribute = target.rpartition(":")
    stem = Path(where).stem if where.endswith(".py") else where.rpartition(".")[2]
    name = f"{stem}.{attribute}"
    return name if is_valid_name(name) else "model"


@dataclass(frozen=True)
class _Factory:
    """`build(config, data)` of the suite: the user's callable, which takes no argument."""

    factory: Any

    def __call__(self, config: Mapping[str, Any], data: TaskData | None) -> nn.Module:
        model = self.factory()
        if not isinstance(model, nn.Module):
            raise TypeError(f"--model's callable returned a {type(model).__name__}, not a "
                            "torch.nn.Module")
        return model


def _resolve(target: str) -> tuple[ModuleType, Any]:
    """The module and the callable `target` names; a `UsageError` saying what is wrong."""
    where, sep, attribute = target.rpartition(":")
    if not sep or not where or not attribute:
        raise UsageError(f"--model '{target}' does not name a callable; write {SYNTAX}")
    module = _import(where, target)
    value: Any = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise UsageError(f"--model '{target}': {where} has no '{attribute}'")
        value = getattr(value, part)
    if not callable(value):
        raise UsageError(f"--model '{target}': '{attribute}' is a {type(value).__name__}, not "
                         "a callable that returns the model")
    return module, value


def _import(where: str, target: str) -> ModuleType:
    try:
        if where.endswith(".py"):
            path = Path(where).resolve()
            if not path.is_file():
                raise UsageError(f"--model '{target}': file '{where}' does not exist")
            return import_file(path, f"archbench_model_{path.stem}")
        if os.getcwd() not in sys.path:  # as `python -m` would: the user's own package
            sys.path.insert(0, os.getcwd())
        return importlib.import_module(where)
    except UsageError:
        raise
    except Exception as exc:  # the user's code: any failure is theirs to read, in one line
        raise UsageError(f"--model '{target}' failed to import: {one_line(exc)}") from exc
