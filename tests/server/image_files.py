"""Image files for upload tests, each made in memory with Pillow."""

import functools
import io
import struct
import zlib

import numpy as np
from PIL import Image

from training.data import ImageDataset, load_dataset

EXIF_ORIENTATION = 0x0112
ROTATE_90_CLOCKWISE = 6  # EXIF orientation value: display the stored pixels turned 90 degrees clockwise


def encoded(image: Image.Image, format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


@functools.cache
def digits() -> ImageDataset:
    return load_dataset("digits")


def digit_image(index: int = 0, scale: int = 4) -> tuple[Image.Image, int]:
    """Return a real 8x8 digit from scikit-learn, enlarged, as a grey image, and its label."""
    dataset = digits()
    grey = dataset.raw_images[index, 0]  # (8, 8) 0..255
    image = Image.fromarray(grey).resize((8 * scale, 8 * scale), Image.Resampling.NEAREST)
    return image, int(dataset.labels[index])


def digit_png(index: int = 0) -> bytes:
    return encoded(digit_image(index)[0], "PNG")


def text_named_png() -> bytes:
    return b"this is a text file, not an image\n"


def truncated_png() -> bytes:
    noise = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    data = encoded(Image.fromarray(noise), "PNG")
    return data[: len(data) // 2]


def bomb_png(side: int = 2000) -> bytes:
    """A small file that declares side x side pixels: a black PNG compresses about 1000 to 1."""
    return encoded(Image.new("L", (side, side), 0), "PNG")


def png_header_only(width: int, height: int) -> bytes:
    """A PNG signature, IHDR and IEND with no pixel data: it declares width x height and contains no pixels."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def noise_png(side: int) -> bytes:
    """A PNG of random grey pixels, which hardly compresses: about side * side bytes."""
    noise = np.random.default_rng(1).integers(0, 256, (side, side), dtype=np.uint8)
    return encoded(Image.fromarray(noise), "PNG")


def palette_png_with_transparency() -> bytes:
    image = digit_image()[0].convert("P")
    return encoded(image, "PNG", transparency=0)


def grey16_png() -> bytes:
    levels = np.asarray(digit_image()[0], dtype=np.uint16) * 257  # (32, 32) 0..65535
    image = Image.fromarray(levels)
    assert image.mode == "I;16"
    return encoded(image, "PNG")


def exif_rotated_jpeg(width: int = 40, height: int = 24) -> bytes:
    """A width x height JPEG whose EXIF orientation turns it 90 degrees, so it displays as height x width."""
    image = Image.new("L", (width, height), 0)
    image.paste(255, (0, 0, width // 2, height // 3))
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = ROTATE_90_CLOCKWISE
    return encoded(image, "JPEG", exif=exif.tobytes())


def cmyk_jpeg() -> bytes:
    image = digit_image()[0].convert("RGB").convert("CMYK")
    assert image.mode == "CMYK"
    return encoded(image, "JPEG")


def animated_gif() -> tuple[bytes, bytes]:
    """Return a two-frame GIF whose first frame is a digit, and that first frame alone as a PNG."""
    first = digit_image(0)[0].convert("P")
    second = Image.new("P", first.size, 0)
    data = encoded(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)
    with Image.open(io.BytesIO(data)) as check:
        assert check.n_frames == 2
    return data, encoded(first, "PNG")
