"""The loaded image data set and its fixed train, validation and test splits."""

import enum
from dataclasses import dataclass

import numpy as np

from training.models.outputs import OutputType


class Split(str, enum.Enum):
    """Part of a data set."""

    TRAIN = "train"
    VALIDATION = "validation"
    TEST = "test"


# eq=False because comparing numpy arrays field by field has no single truth value.
@dataclass(frozen=True, eq=False)
class ImageDataset:
    """Images in the form the model reads, their labels and the fixed split into train, validation and test."""

    name: str
    images: np.ndarray  # uint8 (N, C, H, W): 0/1 when binarized, else 0..255
    raw_images: np.ndarray  # uint8 (N, C, H, W), 0..255 before binarization
    labels: np.ndarray | None  # int64 (N,), None when the source has no labels
    class_names: list[str] | None  # label index -> name
    output_type: OutputType
    indices: dict[Split, np.ndarray]  # sorted int64 indices into images, disjoint, covering all N

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} {self.images.shape}")
        if self.raw_images.shape != self.images.shape:
            raise ValueError(f"raw_images shape {self.raw_images.shape} differs from images {self.images.shape}")
        if self.labels is not None and self.labels.shape != (len(self.images),):
            raise ValueError(f"labels shape {self.labels.shape} does not match {len(self.images)} images")
        if set(self.indices) != set(Split):
            raise ValueError(f"indices must have one entry per Split, got {sorted(self.indices)}")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """Shape (C, H, W) of one image."""
        channels, height, width = self.images.shape[1:]
        return channels, height, width

    def part(self, split: Split) -> tuple[np.ndarray, np.ndarray | None]:
        """Return the images and labels (None without labels) of one split."""
        index = self.indices[Split(split)]
        labels = None if self.labels is None else self.labels[index]
        return self.images[index], labels
