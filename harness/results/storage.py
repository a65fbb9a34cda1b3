"""Files written so that a reader, a crash or a full disk never sees half of one.

Every write goes to a hidden temporary name in the same folder and is renamed over the real
one; a write the disk refuses becomes a `StorageError` naming the file, in one line. Kept apart
from `harness.results.store` (which needs pandas and pyarrow) because a case's own process writes
its result through it and must start fast.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


class StorageError(Exception):
    """The disk refused a write (full, read-only, a file where a folder should be). One line
    naming the file; nothing already written is damaged, so a sweep can be resumed."""



@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an OSError while writing `path` into a StorageError that names it in one line."""
    try:
        yield
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary file renamed over `path`: readers never see half a file.

    The temporary name is hidden, per process and not `*.json`, so that neither a listing of
    cases/ nor a second process writing the same file at the same time can pick it up."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with writing(path):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write(tmp)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON so that a reader (or a crash) never sees half a file."""
    text = json.dumps(payload, indent=1, default=str, allow_nan=True)
    write_atomic(path, lambda tmp: tmp.write_text(text))
