"""Fixtures for the report tests; the fake runs themselves are written by `fake_runs`.

The helpers live in a module with a name of its own, not here, so that test modules import them
as `fake_runs` and never depend on which ``conftest`` module Python happened to load last.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fake_runs import write_run


@pytest.fixture
def fake_run(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``fake_run("run-a", seed=1, slowdown={...})`` writes a run under tmp_path."""
    results_dir = tmp_path / "results"

    def make(run_id: str, **kwargs: Any) -> Path:
        return write_run(results_dir, run_id, **kwargs)

    return make
