"""torch.compile's own counters: graph breaks, compiled graphs and (re)compiled frames.

Read from `torch._dynamo.utils.counters`, the process-wide tallies dynamo keeps. They are
process-wide, which is exactly right here because every case has a process of its own.

A frame dynamo cannot trace at all (it gives up on nn.LSTM unless `allow_rnn` is set) is
tallied under "unimplemented", not "graph_break", and runs in eager: it counts as a break
here, and `compiled_graphs` of 0 says that nothing was compiled, so such a row cannot pass
for a compiled one.
"""

from __future__ import annotations


def graph_breaks() -> int:
    """Graph breaks plus whole frames dynamo declined to trace, so far."""
    from torch._dynamo.utils import counters
    return int(sum(counters["graph_break"].values()) + sum(counters["unimplemented"].values()))


def compiled_graphs() -> int:
    """Distinct graphs dynamo captured and handed to the backend compiler, so far."""
    from torch._dynamo.utils import counters
    return int(counters["stats"]["unique_graphs"])


def compiled_frames() -> int:
    """Frames dynamo has compiled so far; growth after the first compile means recompilation."""
    from torch._dynamo.utils import counters
    return int(counters["frames"]["total"])
