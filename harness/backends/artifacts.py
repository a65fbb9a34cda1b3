"""The artifact cache: what a deployment backend ships (an ONNX file, an OpenVINO IR, an
AOTInductor package), built once per key and reused by every later case and process.

A key is a hash of everything that would make another artifact: the model key (definition,
size, weights), the input layout and dynamic axes, the versions of the tools that produced it
and, for artifacts with compiled code, the CPU capability settings (`isa_caps_key`): an
artifact from another version or another kernel-set cap is another key, so it is rebuilt,
never reused.

An artifact is written under a temporary name in the cache folder and renamed into place, so a
case killed mid-build, or two cases building the same artifact at once, never leave a half
written artifact for a later case to load. An artifact of several files (OpenVINO's .xml and
.bin) is a folder, renamed whole.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Artifact:
    """An artifact ready to load, and what producing it cost in this case."""

    path: Path  # a file, or a folder of files
    export_s: float  # the time spent producing it now; 0.0 when it came from the cache
    cached: bool

    @property
    def size_bytes(self) -> int:
        """Bytes on disk of what a user would ship (every file of a folder)."""
        if self.path.is_dir():
            return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())
        return self.path.stat().st_size


def artifact_key(*parts: str) -> str:
    """A short stable hash of the parts that identify an artifact."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:20]


def cached_artifact(target: Path, build: Callable[[Path], None], folder: bool = False
                    ) -> Artifact:
    """`target` from the cache, or built by `build(tmp)` into a temporary path (a file, or an
    existing empty folder when `folder`) and renamed into place, timed as `export_s`."""
    if target.exists():
        return Artifact(target, 0.0, True)
    target.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if folder:
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    else:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(name)
    try:
        build(tmp)
        try:
            os.replace(tmp, target)
        except OSError:  # a folder another case renamed into place first: theirs is the same
            if not (folder and target.is_dir()):
                raise
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
    return Artifact(target, time.perf_counter() - start, False)
