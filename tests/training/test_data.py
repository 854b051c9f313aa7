"""Tests for loading named data sets and user data from IDX, CIFAR-10 and image folders."""

import gzip
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.data import NAMED_DATASETS, DatasetError, ImageDataset, Split, load_dataset
from training.data.named import FASHION_MNIST_ENVIRONMENT_VARIABLE, fashion_mnist_directory
from training.models.outputs import OutputType

FASHION_MNIST_PRESENT = (fashion_mnist_directory() / "train-images-idx3-ubyte.gz").is_file()


# --- helpers that write small data sets ---


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write a uint8 array as an IDX file, gzip-compressed when the name ends in .gz."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    data = header + array.astype(np.uint8).tobytes()
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def random_images(count: int, height: int = 6, width: int = 5, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(count, height, width), dtype=np.uint8)


def write_mnist_directory(directory: Path, suffix: str = ".gz") -> tuple[np.ndarray, np.ndarray]:
    """Write 12 train and 4 t10k images with labels, and return all images and labels in file order."""
    directory.mkdir(exist_ok=True)
    train, test = random_images(12, seed=1), random_images(4, seed=2)
    train_labels, test_labels = np.arange(12) % 10, np.array([9, 8, 7, 6])
    write_idx(directory / f"train-images-idx3-ubyte{suffix}", train)
    write_idx(directory / f"train-labels-idx1-ubyte{suffix}", train_labels)
    write_idx(directory / f"t10k-images-idx3-ubyte{suffix}", test)
    write_idx(directory / f"t10k-labels-idx1-ubyte{suffix}", test_labels)
    return np.concatenate([train, test]), np.concatenate([train_labels, test_labels])


def write_cifar_batch(path: Path, images: np.ndarray, labels: list[int]) -> None:
    """Pickle a CIFAR-10 style batch with protocol 2, like the published files."""
    batch = {b"data": images.reshape(len(images), -1), b"labels": labels, b"batch_label": b"test"}
    path.write_bytes(pickle.dumps(batch, protocol=2))


def cifar_images(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(count, 3, 32, 32), dtype=np.uint8)


def write_cifar_directory(root: Path, with_meta: bool = True) -> Path:
    """Write two training batches and a test batch inside root/cifar-10-batches-py."""
    directory = root / "cifar-10-batches-py"
    directory.mkdir(parents=True)
    write_cifar_batch(directory / "data_batch_1", cifar_images(4, seed=1), [0, 1, 2, 3])
    write_cifar_batch(directory / "data_batch_2", cifar_images(3, seed=2), [4, 5, 6])
    write_cifar_batch(directory / "test_batch", cifar_images(2, seed=3), [7, 9])
    if with_meta:
        names = [f"class{i}".encode() for i in range(10)]
        (directory / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}, protocol=2))
    return directory


def save_image(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (12, 10), **options) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, **options)


def write_class_folders(root: Path) -> None:
    """Write colour images in three formats into two class sub-folders, plus a text file."""
    save_image(root / "cats" / "a.png", (200, 30, 10))
    save_image(root / "cats" / "b.jpg", (10, 200, 30))
    save_image(root / "dogs" / "c.gif", (30, 10, 200))
    save_image(root / "dogs" / "nested" / "d.png", (90, 90, 90))
    (root / "dogs" / "notes.txt").write_text("not an image")


def write_grey_folder(root: Path, count: int = 5) -> None:
    """Write grey images stored as RGB PNGs directly in root, with no sub-folders."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        save_image(root / f"{i}.png", (40 * i, 40 * i, 40 * i))


def assert_splits_partition(dataset: ImageDataset) -> None:
    indices = np.concatenate([dataset.indices[split] for split in Split])
    assert len(indices) == len(dataset.images), "splits do not cover every image exactly once"
    assert np.array_equal(np.sort(indices), np.arange(len(dataset.images))), "splits overlap or miss images"


# --- named data sets, loaded once per module because mnist-5k and digits take seconds ---


@pytest.fixture(scope="module")
def mnist_5k() -> ImageDataset:
    return load_dataset("mnist-5k")


@pytest.fixture(scope="module")
def digits() -> ImageDataset:
    return load_dataset("digits")


def test_named_datasets_described() -> None:
    assert set(NAMED_DATASETS) == {"mnist-5k", "digits", "fashion-mnist"}


def test_mnist_5k_sizes(mnist_5k: ImageDataset) -> None:
    assert mnist_5k.images.shape == (5000, 1, 28, 28)
    assert mnist_5k.image_shape == (1, 28, 28)
    assert mnist_5k.images.dtype == np.uint8
    assert mnist_5k.labels is not None
    assert mnist_5k.labels.dtype == np.int64
    assert set(mnist_5k.labels.tolist()) == set(range(10))
    assert mnist_5k.class_names == [str(digit) for digit in range(10)]


def test_mnist_5k_split_sizes(mnist_5k: ImageDataset) -> None:
    assert len(mnist_5k.indices[Split.TRAIN]) == 3500
    assert len(mnist_5k.indices[Split.VALIDATION]) == 500
    assert len(mnist_5k.indices[Split.TEST]) == 1000
    assert_splits_partition(mnist_5k)


def test_mnist_5k_split_sorted(mnist_5k: ImageDataset) -> None:
    for split in Split:
        index = mnist_5k.indices[split]
        assert index.dtype == np.int64
        assert np.all(np.diff(index) > 0), f"{split.value} indices are not sorted ascending"


def test_mnist_5k_binarized_by_default(mnist_5k: ImageDataset) -> None:
    assert mnist_5k.output_type is OutputType.BERNOULLI
    assert set(np.unique(mnist_5k.images).tolist()) == {0, 1}
    assert mnist_5k.raw_images.max() == 255


def test_binarization_mean_matches_raw(mnist_5k: ImageDataset) -> None:
    expected = mnist_5k.raw_images.mean() / 255
    assert abs(mnist_5k.images.mean() - expected) < 0.002


def test_binarization_deterministic(mnist_5k: ImageDataset) -> None:
    again = load_dataset("mnist-5k")
    assert np.array_equal(again.images, mnist_5k.images)
    for split in Split:
        assert np.array_equal(again.indices[split], mnist_5k.indices[split]), f"{split.value} split changed"


def test_mnist_5k_without_binarization(mnist_5k: ImageDataset) -> None:
    grey = load_dataset("mnist-5k", binarize=False)
    assert grey.output_type is OutputType.CATEGORICAL
    assert np.array_equal(grey.images, mnist_5k.raw_images)
    assert np.array_equal(grey.raw_images, grey.images)


def test_part_returns_split(mnist_5k: ImageDataset) -> None:
    images, labels = mnist_5k.part(Split.VALIDATION)
    index = mnist_5k.indices[Split.VALIDATION]
    assert images.shape == (500, 1, 28, 28)
    assert np.array_equal(images, mnist_5k.images[index])
    assert labels is not None
    assert np.array_equal(labels, mnist_5k.labels[index])


def test_digits_sizes(digits: ImageDataset) -> None:
    assert digits.images.shape == (1797, 1, 28, 28)
    assert digits.raw_images.dtype == np.uint8
    assert digits.output_type is OutputType.BERNOULLI
    assert digits.labels is not None
    assert set(digits.labels.tolist()) == set(range(10))
    assert_splits_partition(digits)


def test_digits_centred_like_mnist(digits: ImageDataset) -> None:
    weights = digits.raw_images[:, 0].astype(np.float64)
    rows, columns = np.indices((28, 28))
    totals = weights.sum(axis=(1, 2))
    row_centres = (weights * rows).sum(axis=(1, 2)) / totals
    column_centres = (weights * columns).sum(axis=(1, 2)) / totals
    assert np.all(np.abs(row_centres - 13.5) <= 1.5), f"row centres span {row_centres.min()}..{row_centres.max()}"
    assert np.all(np.abs(column_centres - 13.5) <= 1.5), (
        f"column centres span {column_centres.min()}..{column_centres.max()}"
    )


def test_digits_fit_20_pixel_box(digits: ImageDataset) -> None:
    ink_rows = np.any(digits.raw_images[:, 0] > 0, axis=2)
    ink_columns = np.any(digits.raw_images[:, 0] > 0, axis=1)
    assert ink_rows.sum(axis=1).max() <= 20
    assert ink_columns.sum(axis=1).max() <= 20


def test_fashion_mnist_sizes() -> None:
    if not FASHION_MNIST_PRESENT:
        pytest.skip(
            f"Fashion-MNIST is not installed in {fashion_mnist_directory()} (apt-get install dataset-fashion-mnist)"
        )
    dataset = load_dataset("fashion-mnist")
    assert dataset.images.shape == (70000, 1, 28, 28)
    assert len(dataset.indices[Split.TEST]) == 10000
    assert np.array_equal(dataset.indices[Split.TEST], np.arange(60000, 70000))
    assert len(dataset.indices[Split.VALIDATION]) == 6000
    assert dataset.output_type is OutputType.CATEGORICAL
    assert dataset.class_names is not None
    assert dataset.class_names[0] == "T-shirt/top"
    assert dataset.class_names[9] == "Ankle boot"


def test_fashion_mnist_missing_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FASHION_MNIST_ENVIRONMENT_VARIABLE, str(tmp_path))
    with pytest.raises(DatasetError) as error:
        load_dataset("fashion-mnist")
    assert "apt-get install dataset-fashion-mnist" in str(error.value)
    assert FASHION_MNIST_ENVIRONMENT_VARIABLE in str(error.value)
    assert str(tmp_path) in str(error.value)


# --- IDX ---


def test_idx_gzip_directory_loads(tmp_path: Path) -> None:
    images, labels = write_mnist_directory(tmp_path / "mnist")
    dataset = load_dataset(str(tmp_path / "mnist"))
    assert dataset.name == str(tmp_path / "mnist")
    assert dataset.images.shape == (16, 1, 6, 5)
    assert np.array_equal(dataset.images[:, 0], images)
    assert dataset.labels is not None
    assert dataset.labels.dtype == np.int64
    assert np.array_equal(dataset.labels, labels)
    assert dataset.output_type is OutputType.CATEGORICAL


def test_idx_t10k_is_test_split(tmp_path: Path) -> None:
    write_mnist_directory(tmp_path / "mnist")
    dataset = load_dataset(str(tmp_path / "mnist"))
    assert np.array_equal(dataset.indices[Split.TEST], np.arange(12, 16))
    assert len(dataset.indices[Split.VALIDATION]) == 1
    assert len(dataset.indices[Split.TRAIN]) == 11
    assert_splits_partition(dataset)


def test_idx_raw_file_with_labels(tmp_path: Path) -> None:
    images, labels = write_mnist_directory(tmp_path, suffix="")
    dataset = load_dataset(str(tmp_path / "train-images-idx3-ubyte"))
    assert dataset.images.shape == (12, 1, 6, 5)
    assert np.array_equal(dataset.images[:, 0], images[:12])
    assert dataset.labels is not None
    assert np.array_equal(dataset.labels, labels[:12])


def test_idx_file_without_labels(tmp_path: Path) -> None:
    images = random_images(10)
    path = write_idx(tmp_path / "digits-images-idx3-ubyte.gz", images)
    dataset = load_dataset(str(path))
    assert dataset.labels is None
    assert dataset.class_names is None
    assert np.array_equal(dataset.images[:, 0], images)
    assert_splits_partition(dataset)


def test_idx_image_size_resizes(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "train-images-idx3-ubyte", random_images(10))
    dataset = load_dataset(str(path), image_size=8)
    assert dataset.images.shape == (10, 1, 8, 8)


def test_idx_truncated_file_rejected(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "train-images-idx3-ubyte", random_images(10))
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(DatasetError, match="truncated") as error:
        load_dataset(str(path))
    assert str(path) in str(error.value)


def test_idx_wrong_magic_rejected(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"\x01\x02\x08\x03" + bytes(40))
    with pytest.raises(DatasetError, match="magic") as error:
        load_dataset(str(path))
    assert str(path) in str(error.value)


def test_idx_label_count_mismatch_rejected(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "train-images-idx3-ubyte", random_images(10))
    labels_path = write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(9))
    with pytest.raises(DatasetError, match="9 labels") as error:
        load_dataset(str(path))
    assert str(labels_path) in str(error.value)


def test_idx_corrupt_gzip_rejected(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(bytes(100))[:20])
    with pytest.raises(DatasetError) as error:
        load_dataset(str(path))
    assert str(path) in str(error.value)


# --- CIFAR-10 ---


def test_cifar_directory_loads(tmp_path: Path) -> None:
    write_cifar_directory(tmp_path)
    dataset = load_dataset(str(tmp_path))
    assert dataset.images.shape == (9, 3, 32, 32)
    assert dataset.image_shape == (3, 32, 32)
    assert dataset.images.dtype == np.uint8
    assert dataset.output_type is OutputType.CATEGORICAL
    assert dataset.labels is not None
    assert dataset.labels.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 9]
    assert dataset.class_names == [f"class{i}" for i in range(10)]


def test_cifar_channel_layout(tmp_path: Path) -> None:
    directory = write_cifar_directory(tmp_path)
    dataset = load_dataset(str(directory))
    first = cifar_images(4, seed=1)[0]
    assert np.array_equal(dataset.images[0, 0], first[0]), "red plane differs"
    assert np.array_equal(dataset.images[0, 2], first[2]), "blue plane differs"


def test_cifar_test_batch_split(tmp_path: Path) -> None:
    write_cifar_directory(tmp_path)
    dataset = load_dataset(str(tmp_path))
    assert np.array_equal(dataset.indices[Split.TEST], np.array([7, 8]))
    assert len(dataset.indices[Split.VALIDATION]) == 1
    assert_splits_partition(dataset)


def test_cifar_default_class_names(tmp_path: Path) -> None:
    write_cifar_directory(tmp_path, with_meta=False)
    dataset = load_dataset(str(tmp_path))
    assert dataset.class_names is not None
    assert dataset.class_names[0] == "airplane"
    assert dataset.class_names[9] == "truck"


def test_cifar_explicit_binarization(tmp_path: Path) -> None:
    write_cifar_directory(tmp_path)
    dataset = load_dataset(str(tmp_path), binarize=True)
    assert dataset.output_type is OutputType.BERNOULLI
    assert set(np.unique(dataset.images).tolist()) <= {0, 1}
    assert dataset.raw_images.max() > 1


class CreateDirectoryOnLoad:
    """Object whose unpickling would call os.mkdir, standing in for any code-running pickle."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return os.mkdir, (str(self.path),)


def test_cifar_forbidden_global_rejected(tmp_path: Path) -> None:
    directory = write_cifar_directory(tmp_path / "data")
    marker = tmp_path / "created-by-pickle"
    batch = {
        b"data": cifar_images(2, seed=4).reshape(2, -1),
        b"labels": [0, 1],
        b"hook": CreateDirectoryOnLoad(marker),
    }
    (directory / "data_batch_3").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(DatasetError, match="os") as error:
        load_dataset(str(directory))
    assert "data_batch_3" in str(error.value)
    assert not marker.exists(), "the pickle's os.mkdir ran"


def test_cifar_wrong_data_shape_rejected(tmp_path: Path) -> None:
    directory = tmp_path / "cifar"
    directory.mkdir()
    batch = {b"data": np.zeros((2, 100), dtype=np.uint8), b"labels": [0, 1]}
    (directory / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(DatasetError, match="3072") as error:
        load_dataset(str(directory))
    assert "data_batch_1" in str(error.value)


# --- image folders ---


def test_folder_class_subfolders_labelled(tmp_path: Path) -> None:
    write_class_folders(tmp_path)
    dataset = load_dataset(str(tmp_path))
    assert dataset.images.shape == (4, 3, 28, 28)
    assert dataset.class_names == ["cats", "dogs"]
    assert dataset.labels is not None
    assert dataset.labels.tolist() == [0, 0, 1, 1]
    assert dataset.output_type is OutputType.CATEGORICAL


def test_folder_colour_values_kept(tmp_path: Path) -> None:
    write_class_folders(tmp_path)
    dataset = load_dataset(str(tmp_path))
    assert dataset.images[0, :, 14, 14].tolist() == [200, 30, 10]


def test_folder_image_size(tmp_path: Path) -> None:
    write_class_folders(tmp_path)
    dataset = load_dataset(str(tmp_path), image_size=16)
    assert dataset.images.shape == (4, 3, 16, 16)


def test_folder_without_subfolders_unlabelled(tmp_path: Path) -> None:
    write_grey_folder(tmp_path)
    dataset = load_dataset(str(tmp_path))
    assert dataset.labels is None
    assert dataset.class_names is None
    assert_splits_partition(dataset)


def test_folder_grey_detected(tmp_path: Path) -> None:
    write_grey_folder(tmp_path)
    dataset = load_dataset(str(tmp_path))
    assert dataset.images.shape == (5, 1, 28, 28)
    assert dataset.images[:, 0, 0, 0].tolist() == [0, 40, 80, 120, 160]


def test_folder_one_colour_image_gives_rgb(tmp_path: Path) -> None:
    write_grey_folder(tmp_path)
    save_image(tmp_path / "colour.png", (1, 0, 0))
    dataset = load_dataset(str(tmp_path))
    assert dataset.image_shape == (3, 28, 28)


def test_folder_exif_orientation_applied(tmp_path: Path) -> None:
    # A 20x10 image, white on the left. EXIF orientation 6 means "rotate 90 degrees clockwise to
    # display", which puts the white half on top.
    image = Image.new("L", (20, 10), 0)
    image.paste(255, (0, 0, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6
    write_grey_folder(tmp_path / "photos", count=2)
    image.save(tmp_path / "photos" / "rotated.jpg", exif=exif, quality=95)
    dataset = load_dataset(str(tmp_path / "photos"))
    rotated = dataset.images[-1, 0].astype(int)
    assert rotated[:10].mean() > 200, "top half is not white"
    assert rotated[18:].mean() < 50, "bottom half is not black"


def test_folder_transparency_on_black(tmp_path: Path) -> None:
    write_grey_folder(tmp_path, count=2)
    Image.new("RGBA", (8, 8), (255, 255, 255, 0)).save(tmp_path / "transparent.png")
    dataset = load_dataset(str(tmp_path))
    assert dataset.images[-1].max() == 0


def test_folder_corrupt_image_rejected(tmp_path: Path) -> None:
    write_grey_folder(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(DatasetError, match="could not be decoded") as error:
        load_dataset(str(tmp_path))
    assert "broken.png" in str(error.value)


def test_folder_loose_image_rejected(tmp_path: Path) -> None:
    write_class_folders(tmp_path)
    save_image(tmp_path / "loose.png", (0, 0, 0))
    with pytest.raises(DatasetError, match="class sub-folder") as error:
        load_dataset(str(tmp_path))
    assert "loose.png" in str(error.value)


# --- splits and binarization on user data ---


def test_split_identical_across_loads(tmp_path: Path) -> None:
    write_grey_folder(tmp_path, count=30)
    first, second = load_dataset(str(tmp_path)), load_dataset(str(tmp_path))
    for split in Split:
        assert np.array_equal(first.indices[split], second.indices[split]), f"{split.value} split changed"


def test_split_fractions_without_test_part(tmp_path: Path) -> None:
    write_grey_folder(tmp_path, count=30)
    dataset = load_dataset(str(tmp_path))
    assert len(dataset.indices[Split.TEST]) == 6
    assert len(dataset.indices[Split.VALIDATION]) == 3
    assert len(dataset.indices[Split.TRAIN]) == 21


def test_too_small_dataset_rejected(tmp_path: Path) -> None:
    write_grey_folder(tmp_path, count=2)
    with pytest.raises(DatasetError, match="only 2 images"):
        load_dataset(str(tmp_path))


def test_binarize_user_data(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "train-images-idx3-ubyte", random_images(20))
    first = load_dataset(str(path), binarize=True)
    second = load_dataset(str(path), binarize=True)
    assert first.output_type is OutputType.BERNOULLI
    assert set(np.unique(first.images).tolist()) == {0, 1}
    assert np.array_equal(first.images, second.images)
    assert np.array_equal(first.raw_images[:, 0], random_images(20))


def test_binarize_extremes_exact(tmp_path: Path) -> None:
    images = np.zeros((10, 4, 4), dtype=np.uint8)
    images[:, :2] = 255
    path = write_idx(tmp_path / "train-images-idx3-ubyte", images)
    dataset = load_dataset(str(path), binarize=True)
    assert np.all(dataset.images[:, 0, :2] == 1), "white pixels must always give 1"
    assert np.all(dataset.images[:, 0, 2:] == 0), "black pixels must always give 0"


# --- errors for unusable sources ---


def test_missing_path_rejected(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetError) as error:
        load_dataset(str(missing))
    message = str(error.value)
    assert str(missing) in message
    assert "mnist-5k" in message
    assert "idx3-ubyte" in message
    assert "data_batch_1" in message
    assert "folder of image files" in message


def test_empty_directory_rejected(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="empty") as error:
        load_dataset(str(tmp_path))
    assert str(tmp_path) in str(error.value)


def test_unknown_format_rejected(tmp_path: Path) -> None:
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DatasetError, match="not recognised") as error:
        load_dataset(str(tmp_path))
    assert str(tmp_path) in str(error.value)


def test_unknown_file_rejected(tmp_path: Path) -> None:
    path = tmp_path / "table.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DatasetError, match="not recognised") as error:
        load_dataset(str(path))
    assert str(path) in str(error.value)


@pytest.mark.parametrize("image_size", [0, -3, 2.5, True])
def test_invalid_image_size_rejected(image_size: object) -> None:
    with pytest.raises(DatasetError, match="Image size"):
        load_dataset("digits", image_size=image_size)  # type: ignore[arg-type]
