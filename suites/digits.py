"""The handwritten-digits task, shipped inside scikit-learn (nothing is downloaded at run time).

1,797 real 8x8 images of the digits 0-9, split once (stratified, fixed seed) into 80% train and
20% held-out. The same images serve three architecture families, so that their accuracies are
comparable: as images (CNN), as sequences of rows (RNN) and as sequences of pixel tokens
(Transformer). `side` resamples the images (bilinear) so that larger sizes see longer
sequences or bigger images; the labels never change.

scikit-learn takes longer to import than the rest of a case's process together (2.2 s of 5.6 s
on a 2-core AVX2 machine), and every case is timed in several fresh processes. So the split is
cached as tensors in `$ARCHBENCH_CACHE_DIR/data/` (the worker points it at the sweep's cache),
keyed by the scikit-learn version and the split's parameters; scikit-learn is imported only to
make the split when no cached copy exists.
"""

from __future__ import annotations

import os
from functools import cache
from importlib.metadata import version
from pathlib import Path

import torch
import torch.nn.functional as F

from suites.base import TaskData

SPLIT_SEED = 0
HELD_OUT_FRACTION = 0.2
NUM_CLASSES = 10
TOKEN_LEVELS = 17  # the raw data's pixel intensities are the integers 0..16


CACHE_ENV = "ARCHBENCH_CACHE_DIR"

Split = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


@cache
def _split() -> Split:
    """(x_train, y_train, x_test, y_test): from the cache when there is one, else made now."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        return _make_split()
    path = (Path(root) / "data" / f"digits-sklearn{version('scikit-learn')}-"
            f"seed{SPLIT_SEED}-heldout{HELD_OUT_FRACTION}.pt")
    if path.exists():
        return tuple(torch.load(path, weights_only=True))
    split = _make_split()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(list(split), tmp)
    os.replace(tmp, path)
    return split


def _make_split() -> Split:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32)  # (N, 8, 8), values 0..16
    labels = torch.tensor(digits.target, dtype=torch.int64)
    train_idx, test_idx = train_test_split(
        torch.arange(len(labels)).numpy(), test_size=HELD_OUT_FRACTION,
        random_state=SPLIT_SEED, stratify=labels.numpy())
    return images[train_idx], labels[train_idx], images[test_idx], labels[test_idx]


def _resample(images: torch.Tensor, side: int) -> torch.Tensor:
    if side == images.shape[-1]:
        return images
    resized = F.interpolate(images.unsqueeze(1), size=(side, side), mode="bilinear",
                            align_corners=False)
    return resized.squeeze(1)


def _standardise(train: torch.Tensor, test: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale with the training split's statistics only, so no held-out information leaks."""
    mean, std = train.mean(), train.std()
    return (train - mean) / std, (test - mean) / std


def _task(representation: str, side: int) -> TaskData:
    x_train, y_train, x_test, y_test = _split()
    x_train, x_test = _resample(x_train, side), _resample(x_test, side)
    if representation == "tokens":
        def to_tokens(images: torch.Tensor) -> torch.Tensor:
            levels = images.round().clamp(0, TOKEN_LEVELS - 1).to(torch.int64)
            return levels.flatten(1)
        x_train, x_test = to_tokens(x_train), to_tokens(x_test)
    else:
        x_train, x_test = _standardise(x_train, x_test)
        if representation == "images":
            x_train, x_test = x_train.unsqueeze(1), x_test.unsqueeze(1)
    return TaskData(x_train.contiguous(), y_train, x_test.contiguous(), y_test, NUM_CLASSES)


@cache
def digits_images(side: int = 8) -> TaskData:
    """Images, (N, 1, side, side) float32, standardised."""
    return _task("images", side)


@cache
def digits_rows(side: int = 8) -> TaskData:
    """Row sequences, (N, side, side) float32: `side` time steps of `side` features."""
    return _task("rows", side)


@cache
def digits_tokens(side: int = 8) -> TaskData:
    """Pixel tokens, (N, side*side) int64 in [0, 17): one token per pixel intensity."""
    return _task("tokens", side)
