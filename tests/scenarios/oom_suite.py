"""A suite whose model runs out of memory above a batch of 64, as an allocator says it."""

from torch import nn

from suites import Suite, Task
from suites.digits import digits_images

LIMIT = 64  # the parity batch (64 held-out samples) must still fit


class Greedy(nn.Module):
    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(64, num_classes)

    def forward(self, x):
        if len(x) > LIMIT:
            raise RuntimeError(f"DefaultCPUAllocator: can't allocate memory: you tried to "
                               f"allocate {len(x) * 2**30} bytes")
        return self.linear(x.flatten(1))


SUITE = Suite(name="oom", description="runs out of memory above a batch of 64",
              sizes={"tiny": {}}, default_sizes=("tiny",),
              build=lambda config, data: Greedy(data.num_classes),
              task=Task(name="digits-images", load=lambda config: digits_images(8),
                        train_steps=5))
