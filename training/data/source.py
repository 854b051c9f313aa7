"""The common result of every format reader, before resizing, binarization and splitting."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class SourceImages:
    """Grey-level images read from one source, with the source's own labels and test part."""

    images: np.ndarray  # uint8 (N, C, H, W), 0..255
    labels: np.ndarray | None  # int64 (N,)
    class_names: list[str] | None
    test_mask: np.ndarray | None  # bool (N,): True for the source's official test images; None without one
    binarize_by_default: bool
