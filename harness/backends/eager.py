"""PyTorch eager execution in fp32: the baseline every other backend is compared with."""

from harness.backends.torch_runtime import TorchBackend

CPU_EAGER = TorchBackend("cpu-eager", "cpu", "fp32", "PyTorch eager, fp32, on the CPU")
CUDA_EAGER = TorchBackend("cuda-eager", "cuda", "fp32", "PyTorch eager, fp32 (TF32 off), on CUDA")
