"""Trace files: gzipped Chrome trace-event JSON that ui.perfetto.dev and chrome://tracing open.

A torch trace comes from `export_chrome_trace` (an object with `traceEvents`); an ONNX Runtime
trace is its profile file as ORT wrote it (a bare list of events). Perfetto reads both forms,
gzipped or not. On CUDA a torch trace also carries `distributedInfo` (rank 0 of 1), the
metadata HolisticTraceAnalysis reads to know whose trace a file is, so `hta.TraceAnalysis` opens
a run's traces/ folder as a one-rank job.

Sizes stay small because the window does: K profiled steps (`case_profile.PROFILE_STEPS`)
with shapes recorded; docs/profiling.md lists what they come to.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from harness.results.storage import write_atomic

#: HTA's metadata for a single-process trace.
RANK_METADATA = {"backend": "nccl", "rank": 0, "world_size": 1}


def write_trace(source: Path, path: Path, rank_metadata: bool = False) -> int:
    """Gzip the trace at `source` into `path` (atomically), optionally adding HTA's rank
    metadata; return the compressed size in bytes."""
    data = source.read_bytes()
    if rank_metadata:
        trace = json.loads(data)
        trace["distributedInfo"] = RANK_METADATA
        data = json.dumps(trace).encode()
    write_atomic(path, lambda tmp: tmp.write_bytes(gzip.compress(data, compresslevel=6)))
    return path.stat().st_size


def read_trace(path: Path) -> Any:
    """A trace file's JSON (gzipped or not)."""
    raw = path.read_bytes()
    return json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)


def trace_events(trace: Any) -> list[dict[str, Any]]:
    """The events of a trace in either form; ValueError when it is neither."""
    events = trace.get("traceEvents") if isinstance(trace, dict) else trace
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise ValueError("not a trace-event file: expected a list of events or an object "
                         "with a 'traceEvents' list")
    return events


def complete_events(path: Path) -> list[dict[str, Any]]:
    """The complete ("ph": "X") events of a trace file, each checked to have what a viewer
    needs to draw it (name, start, duration, process, thread); ValueError if one does not."""
    complete = [e for e in trace_events(read_trace(path)) if e.get("ph") == "X"]
    for event in complete:
        missing = [key for key in ("name", "ts", "dur", "pid", "tid") if key not in event]
        if missing:
            raise ValueError(f"{path.name}: complete event {event.get('name')!r} lacks "
                             f"{', '.join(missing)}")
        if not (isinstance(event["ts"], (int, float)) and isinstance(event["dur"], (int, float))
                and event["dur"] >= 0):
            raise ValueError(f"{path.name}: event {event['name']!r} has a bad ts or dur")
    return complete
