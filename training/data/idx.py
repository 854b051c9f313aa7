"""Read MNIST-style IDX files, raw or gzip-compressed, from a single file or a directory."""

import gzip
import re
import zlib
from pathlib import Path

import numpy as np

from training.data.errors import DatasetError
from training.data.source import SourceImages

IMAGES_NAME = re.compile(r"images([.-])idx3-ubyte(\.gz)?$")
LABELS_NAME = re.compile(r"labels[.-]idx1-ubyte(\.gz)?$")
UNSIGNED_BYTE = 0x08


def is_idx_images_file(path: Path) -> bool:
    """Tell whether a file name follows the IDX images pattern, e.g. train-images-idx3-ubyte.gz."""
    return IMAGES_NAME.search(path.name) is not None


def has_idx_images_header(path: Path) -> bool:
    """Tell whether a file, raw or gzip-compressed, starts with the magic number of 3-D unsigned-byte IDX data."""
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as stream:
                magic = stream.read(4)
        else:
            with path.open("rb") as stream:
                magic = stream.read(4)
    except (OSError, EOFError, zlib.error):
        return False
    return magic == bytes([0, 0, UNSIGNED_BYTE, 3])


def is_idx_labels_file(path: Path) -> bool:
    """Tell whether a file name follows the IDX labels pattern, e.g. train-labels-idx1-ubyte.gz."""
    return LABELS_NAME.search(path.name) is not None


def read_idx(path: Path, dimensions: int) -> np.ndarray:
    """Read one IDX file of unsigned bytes with the given number of dimensions into a uint8 array.

    The header is two zero bytes, a type code (0x08 for unsigned byte), the number of dimensions,
    then one big-endian uint32 size per dimension. The data follows in row-major order.
    """
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DatasetError(
            f"{path} is not an IDX file: it does not start with the IDX magic number. "
            "Pass an MNIST-style IDX file."
        )
    if data[2] != UNSIGNED_BYTE:
        raise DatasetError(
            f"{path} stores IDX type code 0x{data[2]:02x}, but only unsigned bytes (0x08) are supported. "
            "Convert the file to 8-bit values."
        )
    if data[3] != dimensions:
        raise DatasetError(
            f"{path} has {data[3]} dimensions where {dimensions} were expected. "
            "Check that images and labels files are not swapped."
        )

    header_size = 4 + 4 * dimensions
    if len(data) < header_size:
        raise DatasetError(
            f"{path} is truncated: its IDX header needs {header_size} bytes but the file has {len(data)}. "
            "Download the file again."
        )
    shape = tuple(int(size) for size in np.frombuffer(data, dtype=">u4", count=dimensions, offset=4))
    expected = header_size + int(np.prod(shape))
    if len(data) != expected:
        state = "truncated" if len(data) < expected else "longer than its header says"
        raise DatasetError(
            f"{path} is {state}: the header gives shape {shape}, which needs {expected} bytes, "
            f"but the file has {len(data)}. Download the file again."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape).copy()


def load_idx_file(path: Path) -> SourceImages:
    """Load one IDX images file and the labels file beside it, when there is one."""
    images, labels = _read_pair(path)
    return SourceImages(
        images=images,
        labels=labels,
        class_names=_digit_names(labels),
        test_mask=None,
        binarize_by_default=False,
    )


def load_idx_directory(directory: Path) -> SourceImages:
    """Load every IDX images file in a directory, with files named t10k-* or *test-images* as the test part."""
    paths = _images_files(directory)
    pairs = [_read_pair(path) for path in paths]

    shapes = {images.shape[1:] for images, _ in pairs}
    if len(shapes) > 1:
        raise DatasetError(
            f"The IDX images files in {directory} have different image sizes {sorted(shapes)}. "
            "Keep one data set per directory."
        )
    missing = [path for path, (_, labels) in zip(paths, pairs) if labels is None]
    if missing and len(missing) < len(paths):
        raise DatasetError(
            f"{missing[0]} has no labels file beside it ({_labels_name(missing[0])}[.gz]) while other parts "
            "have one. Add that labels file or remove the labels files of the other parts."
        )

    images = np.concatenate([images for images, _ in pairs])
    labels = None if missing else np.concatenate([labels for _, labels in pairs])
    test_mask = np.concatenate(
        [np.full(len(images), _is_test_file(path)) for path, (images, _) in zip(paths, pairs)]
    )
    return SourceImages(
        images=images,
        labels=labels,
        class_names=_digit_names(labels),
        test_mask=test_mask if test_mask.any() else None,
        binarize_by_default=False,
    )


def _read_bytes(path: Path) -> bytes:
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as stream:
                return stream.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(f"Reading {path} failed ({error}). Download the file again.") from error


def _read_pair(images_path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read an images file as (N, 1, H, W) and the labels file beside it as int64 (N,), or None."""
    images = read_idx(images_path, dimensions=3)[:, np.newaxis]
    labels_path = _labels_path(images_path)
    if labels_path is None:
        return images, None

    labels = read_idx(labels_path, dimensions=1).astype(np.int64)
    if len(labels) != len(images):
        raise DatasetError(
            f"{labels_path} has {len(labels)} labels but {images_path} has {len(images)} images. "
            "Use the labels file that belongs to these images."
        )
    return images, labels


def _labels_path(images_path: Path) -> Path | None:
    """Find the labels file that belongs to an images file, compressed or not."""
    stem = _labels_name(images_path)
    if stem is None:
        return None
    for name in (stem, stem + ".gz"):
        candidate = images_path.with_name(name)
        if candidate.is_file():
            return candidate
    return None


def _labels_name(images_path: Path) -> str | None:
    """Name the uncompressed labels file of an images file: train-images-idx3-ubyte -> train-labels-idx1-ubyte."""
    match = IMAGES_NAME.search(images_path.name)
    if match is None:
        # An images file recognised by its magic number alone has no labels name to derive.
        return None
    return images_path.name[: match.start()] + "labels" + match.group(1) + "idx1-ubyte"


def _images_files(directory: Path) -> list[Path]:
    """List the images files of a directory, training parts first, preferring raw over .gz copies."""
    paths = {}
    for path in sorted(directory.iterdir()):
        if path.is_file() and is_idx_images_file(path):
            paths.setdefault(path.name.removesuffix(".gz"), path)
    return sorted(paths.values(), key=lambda path: (_is_test_file(path), path.name))


def _is_test_file(path: Path) -> bool:
    return path.name.startswith("t10k-") or "test-images" in path.name


def _digit_names(labels: np.ndarray | None) -> list[str] | None:
    if labels is None or len(labels) == 0:
        return None
    return [str(label) for label in range(int(labels.max()) + 1)]
