"""Load a named data set or user data from a path, then resize, binarize and split it."""

from pathlib import Path

from training.data.binarize import binarize as binarize_images
from training.data.cifar import find_cifar_directory, load_cifar_directory
from training.data.dataset import ImageDataset
from training.data.errors import DatasetError
from training.data.folder import find_image_files, load_image_folder
from training.data.idx import (
    has_idx_images_header,
    is_idx_images_file,
    is_idx_labels_file,
    load_idx_directory,
    load_idx_file,
)
from training.data.named import NAMED_DATASETS, load_named
from training.data.resize import resize_images
from training.data.source import SourceImages
from training.data.splits import make_splits
from training.models.outputs import OutputType

ACCEPTED_SOURCES = (
    f"a named data set ({', '.join(NAMED_DATASETS)}); "
    "MNIST IDX data (a directory of *images-idx3-ubyte[.gz] files with matching *labels-idx1-ubyte[.gz] "
    "files, or one images file); "
    "a CIFAR-10 python directory (data_batch_1..data_batch_5 and test_batch, also inside cifar-10-batches-py); "
    "or a folder of image files (png, jpg, gif, bmp, webp, tiff...), with one sub-folder per class when labelled"
)


def load_dataset(source: str, *, image_size: int | None = None, binarize: bool | None = None) -> ImageDataset:
    """Load a named data set or the data at a path, with its fixed train, validation and test split.

    A name in NAMED_DATASETS wins over a path of the same name, so pass "./digits" for a folder
    called digits. image_size resizes images to image_size x image_size; None keeps the source's
    size, except for image folders, which default to 28. binarize=None uses the source's default
    (True for mnist-5k and digits, else False).
    """
    _check_image_size(image_size)
    if source in NAMED_DATASETS:
        loaded = load_named(source)
    else:
        loaded = _load_path(Path(source), image_size)

    raw_images = loaded.images if image_size is None else resize_images(loaded.images, image_size)
    is_binarized = loaded.binarize_by_default if binarize is None else binarize
    images = binarize_images(raw_images) if is_binarized else raw_images
    return ImageDataset(
        name=source,
        images=images,
        raw_images=raw_images,
        labels=loaded.labels,
        class_names=loaded.class_names,
        output_type=OutputType.BERNOULLI if is_binarized else OutputType.CATEGORICAL,
        indices=make_splits(len(images), loaded.test_mask),
    )


def _check_image_size(image_size: int | None) -> None:
    if image_size is None:
        return
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise DatasetError(f"Image size {image_size!r} is invalid. Pass a positive whole number of pixels, or None.")


def _load_path(path: Path, image_size: int | None) -> SourceImages:
    """Recognise the format of the data at path and load it."""
    if not path.exists():
        raise DatasetError(
            f"Data source {str(path)!r} is neither a named data set nor an existing path. "
            f"Pass {ACCEPTED_SOURCES}."
        )
    if path.is_file():
        return _load_file(path)
    if not path.is_dir():
        raise DatasetError(f"{path} is neither a regular file nor a directory. Pass {ACCEPTED_SOURCES}.")

    cifar_directory = find_cifar_directory(path)
    if cifar_directory is not None:
        return load_cifar_directory(cifar_directory)
    if any(child.is_file() and is_idx_images_file(child) for child in path.iterdir()):
        return load_idx_directory(path)
    if find_image_files(path):
        return load_image_folder(path, image_size)
    if not any(path.iterdir()):
        raise DatasetError(f"Directory {path} is empty. Pass {ACCEPTED_SOURCES}.")
    raise DatasetError(f"The format of the data in {path} was not recognised. Pass {ACCEPTED_SOURCES}.")


def _load_file(path: Path) -> SourceImages:
    if path.stat().st_size == 0:
        raise DatasetError(f"File {path} is empty. Pass {ACCEPTED_SOURCES}.")
    if is_idx_labels_file(path):
        raise DatasetError(
            f"{path} is an IDX labels file. "
            "Pass the images file (*images-idx3-ubyte[.gz]) beside it instead."
        )
    if is_idx_images_file(path) or has_idx_images_header(path):
        return load_idx_file(path)
    raise DatasetError(f"The format of file {path} was not recognised. Pass {ACCEPTED_SOURCES}.")
