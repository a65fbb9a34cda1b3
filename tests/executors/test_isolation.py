"""The environment of a case's process: glibc's malloc steady unless the user chose."""

from __future__ import annotations

import pytest

from harness.executors.isolation import STEADY_MALLOC, worker_env


def test_case_processes_run_a_steady_malloc_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    assert worker_env()["GLIBC_TUNABLES"] == STEADY_MALLOC["GLIBC_TUNABLES"]
    assert "mmap_threshold=33554432" in STEADY_MALLOC["GLIBC_TUNABLES"]


@pytest.mark.parametrize("chosen", ["", "glibc.malloc.hugetlb=1"])
def test_the_users_own_malloc_settings_win(chosen: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even empty: that is how a user measures glibc's default behaviour."""
    monkeypatch.setenv("GLIBC_TUNABLES", chosen)
    assert worker_env()["GLIBC_TUNABLES"] == chosen
