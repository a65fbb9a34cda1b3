"""archbench: benchmark neural-network architectures across hardware backends."""

from harness.results import load_results, load_samples

__all__ = ["load_results", "load_samples"]
