"""A process's age on the boot clock: what `startup_s` and `import_s` read."""

from __future__ import annotations

import subprocess
import sys


def test_a_fresh_process_knows_how_long_it_has_lived() -> None:
    """A child that sleeps 0.5 s before asking: its age is at least that, and no more than its
    interpreter's start and one import beside it (a wrong field of /proc/self/stat, or the
    boot time taken for the start, would be far off either way)."""
    done = subprocess.run([sys.executable, "-c", "import time; time.sleep(0.5); "
                           "from harness.machine.process_age import process_age_s; "
                           "print(process_age_s())"], capture_output=True, text=True, check=True)
    age = float(done.stdout)
    assert 0.5 <= age < 0.5 + 2.0  # the interpreter's start and one import, on a slow machine
