"""archbench: benchmark neural-network architectures across hardware backends.

`load_results`, `load_samples` and `load_ops` are imported on first use: they need pandas and
pyarrow, which a case's own process (also a user of this package) never loads, so that it
starts fast.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_ops", "load_results", "load_samples"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from harness.results import store as results
        return getattr(results, name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
