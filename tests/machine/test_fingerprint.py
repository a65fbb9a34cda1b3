"""The machine fingerprint: stable fields only, a short id, what differs."""

from __future__ import annotations

from harness.machine.fingerprint import FIELDS, differences, fingerprint_id, this_machine

ENVIRONMENT = {"hostname": "ci-runner-123", "cpu_model": "Test CPU", "cpu_isa": "AVX2",
               "cpu_flags": "avx2 fma", "cpu_cores": 2, "gpu_name": "", "python_version": "3.11",
               "torch_version": "2.13.0", "cuda_version": "", "onnxruntime_version": "1.32"}


def test_fingerprint_ignores_the_hostname_and_names_the_kind():
    one = this_machine(ENVIRONMENT)
    other_host = this_machine({**ENVIRONMENT, "hostname": "ci-runner-456"})
    assert set(one) == set(FIELDS) and one == other_host
    assert fingerprint_id(one) == fingerprint_id(other_host) and len(fingerprint_id(one)) == 12
    assert "hostname" not in one and one["memory_gib"].isdigit()


def test_a_different_library_is_another_kind_and_says_which_field():
    one = this_machine(ENVIRONMENT)
    newer = this_machine({**ENVIRONMENT, "torch_version": "2.14.0"})
    assert fingerprint_id(one) != fingerprint_id(newer)
    assert differences(one, newer) == ["torch_version '2.13.0' vs '2.14.0'"]
