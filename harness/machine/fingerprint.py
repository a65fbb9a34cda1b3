"""A stable fingerprint of the machine kind a run measured on, to match a run with its baseline.

A CI job lands on a fresh VM each time: another hostname, another boot, maybe another clock
speed, but the same machine *kind*. Timings compare within a kind and not across kinds, so the
fingerprint holds what makes a kind and nothing that changes across reboots or jobs:

* CPU model, the ISA torch's kernels use, the instruction-set flags that change which kernels
  run (`harness.machine.cpu_features`), and the CPUs this process may use;
* total memory, rounded to whole GiB (the kernel's reservation moves the exact byte count
  between boots);
* GPU model and driver version (the driver changes kernels' speed; no driver: empty);
* Python, torch, CUDA and ONNX Runtime versions.

Never hostname, clock speeds, load or uptime. Two runs match when every field is equal; the
short id (`fingerprint_id`) names the kind in one line, and `differences` says which fields
differ when they do not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import psutil

from harness.machine.environment import collect_environment

#: Fields taken from the environment a run records (`collect_environment`).
ENVIRONMENT_FIELDS = ("cpu_model", "cpu_isa", "cpu_flags", "cpu_cores", "gpu_name",
                      "python_version", "torch_version", "cuda_version", "onnxruntime_version")
FIELDS = (*ENVIRONMENT_FIELDS, "memory_gib", "gpu_driver")
Fingerprint = dict[str, str]


def this_machine(environment: Mapping[str, Any] | None = None) -> Fingerprint:
    """The fingerprint of this machine (from `environment` when the caller collected it)."""
    environment = environment if environment is not None else collect_environment()
    fingerprint = {name: str(environment.get(name, "")) for name in ENVIRONMENT_FIELDS}
    fingerprint["memory_gib"] = str(round(psutil.virtual_memory().total / 2**30))
    fingerprint["gpu_driver"] = _gpu_driver() if fingerprint["gpu_name"] else ""
    return fingerprint


def fingerprint_id(fingerprint: Mapping[str, str]) -> str:
    """A short name of the machine kind: 12 hex digits of the fields' digest."""
    text = json.dumps({name: fingerprint.get(name, "") for name in FIELDS}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def differences(base: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """`field 'a' vs 'b'` for every field that differs (a field one side lacks differs)."""
    return [f"{name} {base.get(name, 'not recorded')!r} vs {new.get(name, 'not recorded')!r}"
            for name in FIELDS if base.get(name) != new.get(name)]


def _gpu_driver() -> str:
    """The NVIDIA driver version through NVML, or '' where it cannot be read."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # no library, no driver, no permission: no driver version to record
        return ""
    try:
        version = pynvml.nvmlSystemGetDriverVersion()
    except pynvml.NVMLError:
        return ""
    finally:
        pynvml.nvmlShutdown()
    return version.decode() if isinstance(version, bytes) else str(version)
