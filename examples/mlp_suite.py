"""An example of benchmarking your own model: `archbench run --suite-file examples/mlp_suite.py`.

A suite file is plain Python that defines a `Suite`. It may use its own data: here a
multi-layer perceptron classifies the same digits as the built-in suites, flattened to 64
features, so its accuracy is comparable with theirs.
"""

from torch import nn

from suites import Suite, Task
from suites.digits import digits_images


def build(config, data):
    features = data.sample_shape[-1] * data.sample_shape[-2]
    layers, width = [nn.Flatten()], features
    for _ in range(config["depth"]):
        layers += [nn.Linear(width, config["width"]), nn.ReLU()]
        width = config["width"]
    return nn.Sequential(*layers, nn.Linear(width, data.num_classes))


SUITE = Suite(
    name="mlp",
    description="my MLP on flattened digits",
    sizes={"tiny": {"width": 16, "depth": 1}, "small": {"width": 128, "depth": 2},
           "large": {"width": 1024, "depth": 3}},
    default_sizes=("tiny", "small"),
    build=build,
    task=Task(name="digits-flat", load=lambda config: digits_images(8)),
)
