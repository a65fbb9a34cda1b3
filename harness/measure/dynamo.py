"""torch.compile's own counters: graph breaks and (re)compiled frames.

Read from `torch._dynamo.utils.counters`, the process-wide tallies dynamo keeps. They are
process-wide, which is exactly right here because every case has a process of its own.
"""

from __future__ import annotations


def graph_breaks() -> int:
    """Graph breaks dynamo has taken so far (each break splits a frame into more graphs)."""
    from torch._dynamo.utils import counters
    return int(sum(counters["graph_break"].values()))


def compiled_frames() -> int:
    """Frames dynamo has compiled so far; growth after the first compile means recompilation."""
    from torch._dynamo.utils import counters
    return int(counters["frames"]["total"])
