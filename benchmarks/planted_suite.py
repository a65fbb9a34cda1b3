"""The planted change of the CI gate's check: a suite file whose model a change makes do ~30%
more work (`benchmarks/bench_ci_planted.sh` edits DEPTH from 10 to 13 between two runs).

An MLP on the flattened digits: DEPTH hidden layers of WIDTH units, so the work per sample is
about DEPTH x WIDTH^2 multiply-adds and 13 layers do 30% more than 10.
"""

from torch import nn

from suites import Suite, Task
from suites.digits import digits_images

DEPTH = 10
WIDTH = {"tiny": 128, "small": 384}


def build(config, data):
    features = data.sample_shape[-1] * data.sample_shape[-2]
    width = config["width"]
    layers = [nn.Flatten(), nn.Linear(features, width), nn.ReLU()]
    for _ in range(DEPTH):
        layers += [nn.Linear(width, width), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width, data.num_classes))


SUITE = Suite(
    name="planted",
    description=f"an MLP of {DEPTH} hidden layers (the CI gate's planted change)",
    sizes={size: {"width": width} for size, width in WIDTH.items()},
    default_sizes=("tiny", "small"),
    build=build,
    task=Task(name="digits-flat", load=lambda config: digits_images(8)),
)
