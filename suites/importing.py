"""Importing a user's Python file by its path (a suite file, a `--model` file).

Its own module, below both users of it: `suites.registry` (suite files) and
`suites.model_target` (`--model path/file.py:make`), which would otherwise import each other.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from harness.errors import UsageError


def import_file(path: Path, module_name: str) -> ModuleType:
    """Import a Python file by path as `module_name`; its own errors propagate as they are."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"'{path}' is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
