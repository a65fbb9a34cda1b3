"""The environment columns every row carries."""

from __future__ import annotations

import platform

import pytest
import torch

from harness.environment import archbench_commit, collect_environment, cpu_count
from harness.schema import SCHEMA


def test_environment_fills_schema_columns() -> None:
    env = collect_environment()
    assert set(env) <= set(SCHEMA)
    assert env["torch_version"] == torch.__version__
    assert env["python_version"] == platform.python_version()
    assert env["cpu_cores"] == cpu_count() >= 1
    assert env["hostname"] and env["cpu_model"]


def test_commit_is_a_short_hash_possibly_dirty() -> None:
    commit = archbench_commit()
    if commit:  # empty outside a git checkout
        head = commit.removesuffix("-dirty")
        assert len(head) == 12 and all(c in "0123456789abcdef" for c in head)


def test_cpu_count_is_capped_by_a_cgroup_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness import environment

    monkeypatch.setattr(environment.os, "sched_getaffinity", lambda pid: set(range(64)))
    monkeypatch.setattr(environment, "_cgroup_cpu_quota", lambda: 2)
    assert environment.cpu_count() == 2
    monkeypatch.setattr(environment, "_cgroup_cpu_quota", lambda: None)
    assert environment.cpu_count() == 64
