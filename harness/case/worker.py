"""Entry point of a case's own process: `python -m harness.case.worker SPEC.json OUT.json`.

The parent (`harness.executors.isolation`) writes the spec (a `harness.protocol.WorkerSpec`),
waits with a timeout and reads OUT.json (a `harness.protocol.ProcessResult`). An exception
becomes an `error` result with a one-line reason, its traceback in the case's log: `skipped`
for `BackendUnavailable`, `oom` for a batch that does not fit in memory or any allocation that
failed (as one does at the process's memory limit, which the worker sets before the case
starts: `harness.machine.memory_limit`). A crash or hang leaves no OUT.json, which the parent
turns into a `crashed`, `oom` or `timeout` result. Either way the sweep goes on. A spec from the
sweep carries a lifeline (`harness.case.lifeline`): the case's process group dies with the sweep,
or a grace after its timeout, whichever comes first.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

from harness.case import lifeline
from harness.errors import one_line
from harness.protocol import ProcessResult, WorkerSpec
from harness.results.storage import write_json_atomic


def main(spec_path: str, out_path: str) -> int:
    spec = WorkerSpec.from_json(json.loads(Path(spec_path).read_text()))
    if spec.lifeline is not None:  # None when a spec is run by hand, outside a sweep
        lifeline.hold(spec.lifeline.parent_pid, spec.lifeline.fd, spec.lifeline.deadline_s)
    # imported only now, after the lifeline holds: torch takes seconds to import, and a case
    # whose sweep is already gone should not spend them
    from harness.backends.base import BackendUnavailable
    from harness.cases import CaseConfig
    from harness.machine import memory_limit
    from harness.machine.cpu_features import isa_caps_key
    from harness.measure.memory import peak_rss_mb
    from harness.scenarios import OutOfMemory, is_out_of_memory
    from suites.digits import CACHE_ENV

    case, index = spec.case, spec.process
    # one torch.compile cache per kernel-set cap, which inductor's own keys ignore (see there)
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR",
                          str(Path(spec.cache_dir) / "inductor" / isa_caps_key()))
    os.environ.setdefault(CACHE_ENV, spec.cache_dir)  # where suites may cache their data
    limit = spec.memory
    try:
        # the sweep judged availability on its own machine; a Ray node judges it again here
        from harness.backends import get_backend
        backend = get_backend(case.backend)
        limit = memory_limit.enter(spec.memory, backend.device)
        if reason := backend.unavailable_reason():
            raise BackendUnavailable(reason)
        from harness.case.process import run_case
        output = run_case(case, CaseConfig.from_dict(spec.config), Path(spec.cache_dir),
                          index, Path(spec.run_dir) if spec.run_dir else None)
        result = ProcessResult(index, "ok", row=output.row, samples=output.samples,
                               ops=output.ops)
    except BackendUnavailable as exc:
        result = ProcessResult.failure(index, "skipped", str(exc))
    except Exception as exc:  # any failure of the case is a result, not a crash of the sweep
        traceback.print_exc()  # into the case's log, where a reader of the row looks next
        if isinstance(exc, OutOfMemory) or is_out_of_memory(exc):
            peak = peak_rss_mb()
            result = ProcessResult(index, "oom", memory_limit.oom_reason(
                str(exc) or type(exc).__name__, limit, peak * 2**20), row={"peak_rss_mb": peak})
        else:
            result = ProcessResult.failure(index, "error", one_line(exc))
    if limit is not None:
        result = result.placed({**limit.columns(), **result.row})
    write_json_atomic(Path(out_path), result.to_json())
    return 0


if __name__ == "__main__":
    # The result is on disk: skip the interpreter's teardown (unloading torch and its
    # compiler takes about 0.7 s, paid by every process of every case). Anything the case
    # started is killed with its process group by the sweep, which reaps the group after
    # every case.
    code = main(*sys.argv[1:3])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
