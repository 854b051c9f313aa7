"""Turn any accepted image into exactly the pixel levels the encoder was trained on.

Export records a PreprocessSpec in the bundle's manifest and the server applies it to every upload, so
that an uploaded image and the same image from the data set get the same code.
"""

import dataclasses
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from training.data.centering import CANVAS_SIZE, center_like_mnist
from training.data.resize import resize_images
from training.models import ModelConfig, OutputType

MANIFEST_KEY = "preprocess"
MODES = ("L", "RGB")
# Data sets of dark digits on black, where uploads get MNIST-style size normalisation and centring.
DIGIT_DATASETS = frozenset({"mnist-5k", "digits"})
# Binarizing at 128 gives 1 exactly where the data set's stochastic binarization gives 1 with probability
# of at least a half, and it maps a binarized digit saved as a 0/255 PNG back to its own bits.
BINARIZE_THRESHOLD = 128
LIGHT_BACKGROUND = 127  # a border median above this marks dark ink on a light background
SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})


@dataclasses.dataclass(frozen=True)
class PreprocessSpec:
    """The rules that turn an uploaded image into encoder input, stored in manifest.json."""

    mode: str  # "L" for one channel, "RGB" for three
    size: int  # side of the square model input, in pixels
    digit_normalisation: bool  # invert light backgrounds, then crop, fit and centre like MNIST
    binarize_threshold: int | None  # levels at or above it become 1 and those below 0, None keeps 0..255

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"pre-processing mode {self.mode!r} is invalid; use one of {', '.join(MODES)}")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise ValueError(f"pre-processing size {self.size!r} is invalid; use a positive whole number of pixels")
        if self.binarize_threshold is not None and not 1 <= self.binarize_threshold <= 255:
            raise ValueError(f"binarize_threshold {self.binarize_threshold!r} is invalid; use 1..255 or None")
        if self.digit_normalisation and self.mode != "L":
            raise ValueError("digit_normalisation needs mode L; colour images are resized without it")

    @property
    def channels(self) -> int:
        return 1 if self.mode == "L" else 3

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """Shape (C, H, W) of the pre-processed image."""
        return self.channels, self.size, self.size

    @classmethod
    def for_model(cls, config: ModelConfig, dataset_name: str) -> "PreprocessSpec":
        """Build the rules for a model trained on the named data set (a name or a path)."""
        if config.image_channels not in (1, 3):
            raise ValueError(f"models with {config.image_channels} channels have no image mode; use 1 or 3 channels")
        mode = "L" if config.image_channels == 1 else "RGB"
        is_binarized = config.output_type is OutputType.BERNOULLI
        return cls(
            mode=mode,
            size=config.image_size,
            digit_normalisation=mode == "L" and (dataset_name in DIGIT_DATASETS or is_binarized),
            # An encoder that reads grey levels gets them from uploads too.
            binarize_threshold=BINARIZE_THRESHOLD if is_binarized and not config.encoder_reads_grey else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "PreprocessSpec":
        names = {field.name for field in dataclasses.fields(cls)}
        if not isinstance(values, dict) or set(values) != names:
            found = sorted(values) if isinstance(values, dict) else type(values).__name__
            raise ValueError(f"pre-processing rules must have exactly the keys {sorted(names)}, got {found}")
        return cls(**values)

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> "PreprocessSpec":
        """Read the rules stored under the "preprocess" key of a bundle's manifest.json."""
        if MANIFEST_KEY not in manifest:
            raise ValueError(f"the manifest has no {MANIFEST_KEY!r} entry; export the bundle again")
        return cls.from_dict(manifest[MANIFEST_KEY])


def preprocess_image(image: Image.Image, spec: PreprocessSpec) -> np.ndarray:
    """Convert one image to encoder input: uint8 (C, H, W) levels, 0/1 when spec binarizes, else 0..255.

    Steps: first frame of an animation, EXIF orientation, conversion to the model's mode (16-bit grey
    scaled to 8 bits, transparency composited on black as the folder loader does). Then digit
    normalisation when spec.digit_normalisation is set (see normalise_digit), or else a Lanczos resize to
    the model size unless the image already has it. Binarization at spec.binarize_threshold comes last.
    """
    picture = _first_frame(image)
    picture = ImageOps.exif_transpose(picture)
    levels = np.asarray(_convert_mode(picture, spec.mode))  # (H, W) or (H, W, 3) uint8
    if spec.digit_normalisation:
        levels = normalise_digit(levels, spec.size)
    elif levels.shape[:2] != (spec.size, spec.size):
        levels = _resize(levels, spec.size)

    channels_first = levels[np.newaxis] if levels.ndim == 2 else levels.transpose(2, 0, 1)  # (C, H, W)
    if spec.binarize_threshold is not None:
        channels_first = channels_first >= spec.binarize_threshold
    return np.ascontiguousarray(channels_first, dtype=np.uint8)


def normalise_digit(grey: np.ndarray, size: int) -> np.ndarray:
    """Turn a uint8 (H, W) digit into light ink on black, size-normalised and centred like MNIST.

    A light background (border median above LIGHT_BACKGROUND) is inverted first. An image that already
    has the model size is returned after that, so data set images pass through unchanged. Otherwise the
    background level (the border median) is subtracted so that only ink is left non-zero. The digit is
    then fitted into a 20x20 box with its centre of mass at the centre of a 28x28 canvas, exactly as the
    digits data set was built. The canvas is finally resized with Lanczos to the model size, as
    load_dataset resizes 28x28 data.
    """
    if _border_median(grey) > LIGHT_BACKGROUND:
        grey = 255 - grey
    if grey.shape == (size, size):
        return grey
    background = _border_median(grey)
    ink = np.clip(grey.astype(np.int16) - background, 0, 255).astype(np.uint8)
    canvas = center_like_mnist(ink)  # (28, 28)
    if size == CANVAS_SIZE:
        return canvas
    return resize_images(canvas[np.newaxis, np.newaxis], size)[0, 0]


def _border_median(grey: np.ndarray) -> float:
    border = np.concatenate([grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]])
    return float(np.median(border))


def _first_frame(image: Image.Image) -> Image.Image:
    """Return the first frame of an animated image (GIF, APNG, WebP), else the image itself."""
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
        return image.copy()
    return image


def _convert_mode(image: Image.Image, mode: str) -> Image.Image:
    """Convert any Pillow mode to L or RGB with 8 bits per channel, putting transparent parts on black."""
    if image.mode == "F":
        raise ValueError("32-bit floating-point images have no fixed grey scale; save the image with 8 or 16 bits")
    if image.mode in SIXTEEN_BIT_MODES:
        # Pillow's own conversion clips 16-bit grey at 255, which turns most such images white.
        grey = np.clip(np.asarray(image, dtype=np.int64) // 257, 0, 255).astype(np.uint8)
        image = Image.fromarray(grey)
    if image.mode == mode:
        return image
    has_alpha = "A" in image.getbands() or (image.mode == "P" and "transparency" in image.info)
    if not has_alpha:
        # Through RGB because Pillow has no direct conversion from some modes (CMYK, YCbCr) to L.
        return image.convert("RGB").convert(mode)
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
    return Image.alpha_composite(background, rgba).convert(mode)


def _resize(levels: np.ndarray, size: int) -> np.ndarray:
    """Resize (H, W) or (H, W, 3) uint8 levels to size x size with Lanczos, as load_dataset resizes data."""
    return np.asarray(Image.fromarray(levels).resize((size, size), Image.Resampling.LANCZOS))
