"""Size-normalise and centre digits the way MNIST was built from NIST."""

import numpy as np
from PIL import Image

CANVAS_SIZE = 28
BOX_SIZE = 20


def center_like_mnist(image: np.ndarray) -> np.ndarray:
    """Fit a uint8 (H, W) digit into a 20x20 box and centre its mass on a 28x28 black canvas.

    The steps are those used for MNIST's digits. Crop to the ink, then resize with anti-aliasing
    so that the longer side is 20 pixels while keeping the aspect ratio. Finally translate by whole
    pixels so that the centre of mass lands at the canvas centre (13.5, 13.5), clipping any ink
    pushed past the border.
    """
    rows, columns = np.nonzero(image)
    if len(rows) == 0:
        return np.zeros((CANVAS_SIZE, CANVAS_SIZE), dtype=np.uint8)
    ink = image[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]

    height, width = ink.shape
    scale = BOX_SIZE / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    box = np.asarray(Image.fromarray(ink).resize(new_size, Image.Resampling.BILINEAR))
    if not box.any():
        return np.zeros((CANVAS_SIZE, CANVAS_SIZE), dtype=np.uint8)

    center = (CANVAS_SIZE - 1) / 2
    row_mass, column_mass = _center_of_mass(box)
    return _paste(box, top=round(center - row_mass), left=round(center - column_mass))


def _center_of_mass(image: np.ndarray) -> tuple[float, float]:
    weights = image.astype(np.float64)
    total = weights.sum()
    rows, columns = np.indices(image.shape)
    return float((rows * weights).sum() / total), float((columns * weights).sum() / total)


def _paste(box: np.ndarray, top: int, left: int) -> np.ndarray:
    """Place box on a black canvas with its corner at (top, left), clipping what falls outside."""
    canvas = np.zeros((CANVAS_SIZE, CANVAS_SIZE), dtype=np.uint8)
    height, width = box.shape
    canvas_top, canvas_left = max(top, 0), max(left, 0)
    canvas_bottom, canvas_right = min(top + height, CANVAS_SIZE), min(left + width, CANVAS_SIZE)
    canvas[canvas_top:canvas_bottom, canvas_left:canvas_right] = box[
        canvas_top - top : canvas_bottom - top, canvas_left - left : canvas_right - left
    ]
    return canvas
