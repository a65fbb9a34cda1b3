"""Where suites come from: the built-in families, and users' own Python files.

A suite file is any Python file that defines one or more `suites.base.Suite` objects at module
level (conventionally `SUITE = Suite(...)`). It is imported by path, so a user benchmarks their
own `nn.Module` without editing this package. `--model` makes a suite without a file
(`suites.model_target`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import UsageError, one_line, unknown_choice
from harness.names import check_name
from suites import cnn, rnn, transformer
from suites.base import Suite
from suites.importing import import_file

if TYPE_CHECKING:
    from suites.model_target import ModelTarget

BUILTIN: dict[str, Suite] = {s.name: s for s in (cnn.SUITE, rnn.SUITE, transformer.SUITE)}


def load_suite_file(path: str | Path) -> list[Suite]:
    """Import a user's suite file and return the suites it defines."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"suite file '{path}' does not exist")
    try:
        module = import_file(path, f"archbench_user_suite_{path.stem}")
    except UsageError:
        raise
    except Exception as exc:  # the user's code: any failure is theirs to read, in one line
        raise UsageError(f"suite file '{path}' failed to import: {one_line(exc)}") from exc
    found = [value for value in vars(module).values() if isinstance(value, Suite)]
    if not found:
        raise UsageError(f"suite file '{path}' defines no Suite; write e.g. "
                         "SUITE = Suite(name=..., sizes=..., build=..., task=...)")
    for suite in found:
        _check_names(suite, path)
    return [replace(suite, source=str(path.resolve())) for suite in found]


def _check_names(suite: Suite, path: Path) -> None:
    """Suite and size names become file names (case ids), so each must be a plain one."""
    check_name("suite", suite.name, f"in suite file '{path}'")
    for size in suite.sizes:
        check_name("size", size, f"of suite {suite.name!r} in suite file '{path}'")


def available_suites(suite_files: Iterable[str | Path] = (),
                     model: ModelTarget | None = None) -> dict[str, Suite]:
    """Built-in suites plus those of the given files and `--model`'s; a user suite may not
    shadow a built-in."""
    suites = dict(BUILTIN)
    found = [(str(path), suite) for path in suite_files for suite in load_suite_file(path)]
    if model is not None:
        found.append((f"--model {model.target}", model.suite()))
    for origin, suite in found:
        if suite.name in suites:
            raise UsageError(f"suite '{suite.name}' from '{origin}' clashes with an existing "
                             f"suite; rename it (taken: {', '.join(suites)})")
        suites[suite.name] = suite
    return suites


def get_suite(name: str, suite_files: Iterable[str | Path] = (),
              model: ModelTarget | None = None) -> Suite:
    suites = available_suites(suite_files, model)
    if name not in suites:
        raise unknown_choice("suite", name, list(suites))
    return suites[name]
