"""Stochastic binarization, as used for binarized MNIST."""

import numpy as np

# Fixed so that every load of a data set gives identical bits.
BINARIZE_SEED = 0


def binarize(images: np.ndarray) -> np.ndarray:
    """Draw each pixel as 1 with probability intensity / 255, else 0, using BINARIZE_SEED."""
    generator = np.random.default_rng(BINARIZE_SEED)
    # Integers 0..254 compared with the uint8 intensity give P(1) = intensity / 255 exactly,
    # in one byte per pixel instead of a float array eight times the size of the images.
    thresholds = generator.integers(0, 255, size=images.shape, dtype=np.uint8)
    return (thresholds < images).astype(np.uint8)
