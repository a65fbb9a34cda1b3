"""A torchvision-style CNN as it is: `archbench run --model examples/small_resnet.py:make ...`.

A ResNet of torchvision's shape (a 7x7 stem, stages of basic residual blocks with batch norm,
global average pooling, a linear classifier), at a size that runs in seconds on a CPU. A
torchvision model is benchmarked the same way, with `--model torchvision.models:resnet18`,
since its constructor takes no argument and builds random weights (pass `weights=` in your
own factory to load a checkpoint already on disk). Its forward takes `x`, so the input is
named `x`:

    archbench run --model examples/small_resnet.py:make --input "x:float32[B,3,64,64]"
"""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, channels_in: int, channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut = nn.Sequential()
        if stride != 1 or channels_in != channels:
            self.shortcut = nn.Sequential(nn.Conv2d(channels_in, channels, 1, stride, bias=False),
                                          nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class SmallResNet(nn.Module):
    def __init__(self, widths: tuple[int, ...] = (16, 32, 64), num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 7, 2, 3, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        blocks, channels = [], widths[0]
        for i, width in enumerate(widths):
            blocks += [BasicBlock(channels, width, 1 if i == 0 else 2),
                       BasicBlock(width, width, 1)]
            channels = width
        self.layers = nn.Sequential(*blocks)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.layers(
            self.stem(x)), 1), 1))


def make() -> SmallResNet:
    return SmallResNet().eval()
