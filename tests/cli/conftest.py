"""Tiny trained runs of every model kind on an 8x8 IDX data set, made once per test session through `acn train`."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from cli.main import main

TINY_MODEL_FLAGS = [
    "--steps", "3", "--binarize", "--image-size", "8", "--code-size", "4", "--mixture-components", "3",
    "--encoder-channels", "8,8", "--encoder-strides", "2,2", "--prior-hidden", "16",
    "--decoder-blocks", "1", "--decoder-filters", "8", "--conditioning-channels", "4",
    "--batch-size", "8", "--kl-warmup-steps", "0", "--quiet",
]  # fmt: skip


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def _striped_images(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """8x8 grey images: class k lights column band k, with sparse noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 4
    images = (rng.random((count, 8, 8)) < 0.1).astype(np.uint8) * 255
    for index, label in enumerate(labels):
        images[index, :, label * 2 : label * 2 + 2] = 255
    return images, labels


@pytest.fixture(scope="session")
def stripes_dir(tmp_path_factory) -> Path:
    """An MNIST-style IDX directory: 48 training and 16 test (t10k) images with labels."""
    directory = tmp_path_factory.mktemp("stripes")
    for prefix, count, seed in (("train", 48, 1), ("t10k", 16, 2)):
        images, labels = _striped_images(count, seed)
        _write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", images)
        _write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return directory


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory, stripes_dir) -> dict[str, Path]:
    """Run directories of a tiny acn, vae and pixelcnn, keyed by kind."""
    root = tmp_path_factory.mktemp("runs")
    runs = {}
    for kind in ("acn", "vae", "pixelcnn"):
        runs[kind] = root / kind
        code = main(["train", "--data", str(stripes_dir), "--out", str(runs[kind]), "--kind", kind, *TINY_MODEL_FLAGS])
        assert code == 0
    return runs
