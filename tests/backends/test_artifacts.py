"""The artifact cache: built once, reused, never left half written."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.backends.artifacts import artifact_key, cached_artifact


def test_a_file_is_built_once_then_comes_from_the_cache(tmp_path: Path) -> None:
    built = []

    def build(path: Path) -> None:
        built.append(path)
        path.write_bytes(b"x" * 10)

    first = cached_artifact(tmp_path / "a" / "model.bin", build)
    second = cached_artifact(tmp_path / "a" / "model.bin", build)
    assert len(built) == 1 and built[0] != first.path  # built under a temporary name
    assert (first.cached, second.cached) == (False, True)
    assert first.export_s > 0 and second.export_s == 0.0
    assert first.size_bytes == second.size_bytes == 10


def test_a_folder_counts_every_file_it_holds(tmp_path: Path) -> None:
    def build(folder: Path) -> None:
        (folder / "model.xml").write_bytes(b"x" * 3)
        (folder / "model.bin").write_bytes(b"y" * 4)

    artifact = cached_artifact(tmp_path / "model.ir", build, folder=True)
    assert artifact.path.is_dir() and artifact.size_bytes == 7


@pytest.mark.parametrize("folder", [False, True])
def test_a_failed_build_leaves_nothing_behind(tmp_path: Path, folder: bool) -> None:
    def build(path: Path) -> None:
        (path / "part" if folder else path).write_bytes(b"half")
        raise RuntimeError("killed mid-build")

    with pytest.raises(RuntimeError, match="mid-build"):
        cached_artifact(tmp_path / "model.out", build, folder=folder)
    assert list(tmp_path.iterdir()) == []


def test_keys_differ_with_any_part() -> None:
    assert artifact_key("m", "torch 2.13") != artifact_key("m", "torch 2.14")
    assert artifact_key("a", "bc") != artifact_key("ab", "c")
    assert len(artifact_key("m")) == 20
