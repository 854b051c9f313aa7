"""Read CIFAR-10 python batches with an unpickler that cannot run arbitrary code."""

import io
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np

from training.data.errors import DatasetError
from training.data.source import SourceImages

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import _reconstruct

CIFAR10_CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR10_SUBDIRECTORY = "cifar-10-batches-py"
TRAIN_BATCH_NAME = re.compile(r"data_batch_(\d+)$")
TEST_BATCH_NAME = "test_batch"
META_NAME = "batches.meta"
IMAGE_SIZE = 32


def _encode_latin1(text: str, encoding: str = "latin1") -> bytes:
    """Rebuild bytes the way Python 3 pickles them at protocol 2, and nothing else."""
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"encoding {encoding!r} is not allowed, only latin1")
    return text.encode("latin1")


# Everything a pickled dict of numpy uint8 arrays and lists can reference. Python 2 pickles
# (the official CIFAR-10 files) name numpy.core, while numpy 2 names numpy._core. Python 3
# pickles at protocol 2 rebuild bytes through _codecs.encode, here replaced by a latin1-only version.
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _encode_latin1,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals in ALLOWED_GLOBALS, so loading cannot run other code."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed") from None


def find_cifar_directory(directory: Path) -> Path | None:
    """Return the directory that contains CIFAR-10 batches: directory itself or its cifar-10-batches-py, else None."""
    for candidate in (directory, directory / CIFAR10_SUBDIRECTORY):
        if candidate.is_dir() and _batch_files(candidate):
            return candidate
    return None


def load_cifar_directory(directory: Path) -> SourceImages:
    """Load all CIFAR-10 batches in a directory, with test_batch, when present, as the test part."""
    paths = _batch_files(directory)
    batches = [_read_batch(path) for path in paths]
    images = np.concatenate([images for images, _ in batches])
    labels = np.concatenate([labels for _, labels in batches])
    if len(labels) == 0:
        raise DatasetError(
            f"The CIFAR batches in {directory} contain no images. "
            "Download the CIFAR-10 python version again."
        )
    test_mask = np.concatenate(
        [np.full(len(labels), path.name == TEST_BATCH_NAME) for path, (_, labels) in zip(paths, batches)]
    )

    class_names = _class_names(directory)
    if labels.max() >= len(class_names):
        raise DatasetError(
            f"The CIFAR batches in {directory} have label {labels.max()}, but only {len(class_names)} class names. "
            f"Fix the labels or the label_names in {META_NAME}."
        )
    return SourceImages(
        images=images,
        labels=labels,
        class_names=class_names,
        test_mask=test_mask if test_mask.any() else None,
        binarize_by_default=False,
    )


def load_restricted_pickle(path: Path) -> Any:
    """Unpickle a file with RestrictedUnpickler and bytes for Python 2 strings, as CIFAR-10 needs."""
    try:
        data = path.read_bytes()
        return RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except OSError as error:
        raise DatasetError(f"Reading {path} failed ({error}). Check the file's permissions.") from error
    except pickle.UnpicklingError as error:
        raise DatasetError(
            f"{path} was rejected: {error}. "
            "Only pickles of numpy arrays, lists and dicts are loaded."
        ) from error
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as error:
        raise DatasetError(
            f"{path} is not a valid pickle ({error}). "
            "Download the CIFAR-10 python version again."
        ) from error


def _batch_files(directory: Path) -> list[Path]:
    """List data_batch_N files in numeric order, then test_batch."""
    numbered = []
    for path in directory.iterdir():
        match = TRAIN_BATCH_NAME.match(path.name)
        if match and path.is_file():
            numbered.append((int(match.group(1)), path))
    paths = [path for _, path in sorted(numbered)]
    test = directory / TEST_BATCH_NAME
    if test.is_file():
        paths.append(test)
    return paths


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one batch as uint8 (N, 3, 32, 32) images and int64 (N,) labels."""
    batch = load_restricted_pickle(path)
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DatasetError(
            f"{path} is not a CIFAR-10 batch: expected a dict with b'data' and b'labels'. "
            "Use the CIFAR-10 python version."
        )

    data = batch[b"data"]
    pixels = 3 * IMAGE_SIZE * IMAGE_SIZE
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != pixels:
        found = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetError(
            f"{path} has data {found}, but a CIFAR-10 batch contains uint8 (N, {pixels}). "
            "Use the CIFAR-10 python version."
        )
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if labels.shape != (len(data),):
        raise DatasetError(f"{path} has {labels.size} labels for {len(data)} images. Download the batch again.")
    if len(labels) and labels.min() < 0:
        raise DatasetError(f"{path} has negative label {labels.min()}. Labels must be class indices from 0.")
    # Each row contains the red, then green, then blue plane of a 32x32 image, each row-major.
    return data.reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE), labels


def _class_names(directory: Path) -> list[str]:
    """Read label names from batches.meta when present, else use CIFAR-10's ten names."""
    meta_path = directory / META_NAME
    if not meta_path.is_file():
        return list(CIFAR10_CLASS_NAMES)
    meta = load_restricted_pickle(meta_path)
    names = meta.get(b"label_names") if isinstance(meta, dict) else None
    if not isinstance(names, list) or not names:
        return list(CIFAR10_CLASS_NAMES)
    return [name.decode("utf-8") if isinstance(name, bytes) else str(name) for name in names]
