"""Resize stacks of images with Pillow."""

import numpy as np
from PIL import Image


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Resize uint8 (N, C, H, W) images with 1 or 3 channels to (N, C, size, size) with a Lanczos filter."""
    if images.shape[2:] == (size, size):
        return images
    count, channels = images.shape[:2]
    resized = np.empty((count, channels, size, size), dtype=np.uint8)
    for i, image in enumerate(images):
        if channels == 1:
            picture = Image.fromarray(image[0])
        else:
            picture = Image.fromarray(np.ascontiguousarray(image.transpose(1, 2, 0)))
        array = np.asarray(picture.resize((size, size), Image.Resampling.LANCZOS))
        resized[i] = array[np.newaxis] if channels == 1 else array.transpose(2, 0, 1)
    return resized
