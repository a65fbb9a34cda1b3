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


def cudagraph_recordings() -> int:
    """CUDA graphs that torch.compile's cudagraph trees recorded so far on the current device
    (mode "reduce-overhead"); more after the first call means graphs were re-recorded, which
    costs like a recompile. 0 where CUDA is not in use or nothing was recorded. Read from
    inductor's tree manager (not created if missing): each node of its trees is one graph."""
    import torch

    if not (torch.cuda.is_available() and torch.cuda.is_initialized()):
        return 0
    from torch._inductor import cudagraph_trees

    manager = cudagraph_trees.get_manager(torch.cuda.current_device(),
                                          create_if_none_exists=False)
    if manager is None or manager.roots is None:
        return 0
    stack = [node for nodes in manager.roots.values() for node in nodes]
    count = 0
    while stack:
        node = stack.pop()
        count += 1
        stack.extend(child for children in node.children.values() for child in children)
    return count
