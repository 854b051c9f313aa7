"""Upload checks in front of pre-processing: size limits, pixel count before decoding, and decoding errors.

Pillow identifies the format from the bytes, never from the file name. Everything after decoding (first
frame, EXIF orientation, mode conversion, resizing, binarization) is preprocess_image's job.
"""

import base64
import binascii
import dataclasses
import hashlib
import io
import re
import struct
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from server.errors import ApiError, ErrorKind
from training.preprocess import PreprocessSpec, preprocess_image

DATA_URL_PREFIX = re.compile(r"^data:[\w/+.-]*(;[\w=.-]+)*;base64,", re.IGNORECASE)
# Exceptions that Pillow raises from open() and load() on damaged data, depending on the format plugin.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)
# Modes that PNG stores without conversion; "1" and "I;16" keep their bit depth.
PNG_MODES = frozenset({"1", "L", "LA", "RGB", "RGBA", "I;16"})


@dataclasses.dataclass(frozen=True)
class DecodedUpload:
    """An accepted upload: the normalised image that is stored and the encoder input made from it."""

    name: str
    size_bytes: int
    stored_image: Image.Image  # first frame, EXIF orientation applied, in the model's mode (L or RGB)
    model_input: np.ndarray  # uint8 (C, H, W) levels, as preprocess_image returns them
    sha256: str  # of the stored image's mode, size and pixels


def describe_item(index: int, name: str | None) -> str:
    """Name an image of a request for error messages: its file name when it has one, and its position."""
    return f"image {index} ({name!r})" if name else f"image {index}"


def install_pillow_limits(max_pixels: int) -> None:
    """Set Pillow's decompression-bomb limit for this process and make its warning an exception.

    Pillow warns between MAX_IMAGE_PIXELS and twice that, and raises above it. Turned into an exception,
    the warning rejects the upload at Image.open, before any pixel is decoded, and logs nothing.
    """
    Image.MAX_IMAGE_PIXELS = max_pixels
    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


def check_file_size(item: str, size: int, max_bytes: int) -> None:
    if size == 0:
        raise ApiError(ErrorKind.EMPTY_FILE, item=item)
    if size > max_bytes:
        raise ApiError(ErrorKind.FILE_TOO_LARGE, item=item, limit=max_bytes)


def decode_base64(item: str, text: str, max_bytes: int) -> bytes:
    """Decode base64 text, with or without a data: URL prefix, rejecting it before decoding when too long."""
    payload = DATA_URL_PREFIX.sub("", text.strip(), count=1)
    # Four base64 characters carry three bytes, so longer text cannot fit within max_bytes.
    if len(payload) > 4 * ((max_bytes + 2) // 3) + 4:
        raise ApiError(ErrorKind.FILE_TOO_LARGE, item=item, limit=max_bytes)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ApiError(ErrorKind.INVALID_BASE64, item=item, reason=str(error)) from None
    check_file_size(item, len(data), max_bytes)
    return data


def open_image(item: str, data: bytes, max_pixels: int) -> Image.Image:
    """Decode image bytes with Pillow after checking the pixel count that the header declares."""
    try:
        image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # Pillow's own check against Image.MAX_IMAGE_PIXELS; install_pillow_limits makes its warning an error.
        raise ApiError(ErrorKind.TOO_MANY_PIXELS, item=item, detail=str(error), limit=max_pixels) from None
    except UnidentifiedImageError:
        raise ApiError(ErrorKind.NOT_AN_IMAGE, item=item, reason="unknown format") from None
    except DECODE_ERRORS as error:
        raise ApiError(ErrorKind.NOT_AN_IMAGE, item=item, reason=_reason(error)) from None

    width, height = image.size
    if width * height > max_pixels:
        detail = f"{width}x{height} = {width * height} pixels"
        raise ApiError(ErrorKind.TOO_MANY_PIXELS, item=item, detail=detail, limit=max_pixels)
    if width == 0 or height == 0:
        raise ApiError(ErrorKind.CORRUPT_IMAGE, item=item, reason=f"the header declares a {width}x{height} image")
    try:
        image.load()
    except DECODE_ERRORS as error:
        raise ApiError(ErrorKind.CORRUPT_IMAGE, item=item, reason=_reason(error)) from None
    return image


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


def decode_upload(index: int, name: str | None, data: bytes, spec: PreprocessSpec, max_bytes: int, max_pixels: int) -> DecodedUpload:
    """Check, decode and pre-process one uploaded image, raising ApiError that names the image and the problem."""
    item = describe_item(index, name)
    check_file_size(item, len(data), max_bytes)
    image = open_image(item, data, max_pixels)
    try:
        stored = normalise(image)
        model_input = preprocess_image(stored, spec)  # (C, H, W)
    except ValueError as error:
        raise ApiError(ErrorKind.UNSUPPORTED_IMAGE, item=item, reason=_reason(error)) from None
    return DecodedUpload(name or "", len(data), stored, model_input, content_hash(stored))


def normalise(image: Image.Image) -> Image.Image:
    """Return the image stored for an upload: its first frame, EXIF orientation applied, in a PNG mode.

    Palette images become RGBA or RGB and CMYK, YCbCr, LAB and HSV become RGB, as preprocess_image
    would convert them, while 16-bit grey stays 16-bit. So pre-processing the stored image gives the same
    encoder input as pre-processing the upload itself.
    """
    # Image.open leaves an animation at frame 0 and load() decoded only that frame; copy() drops the rest.
    oriented = ImageOps.exif_transpose(image.copy())
    if oriented.mode in PNG_MODES:
        return oriented
    if oriented.mode == "P":
        return oriented.convert("RGBA" if "transparency" in oriented.info else "RGB")
    if oriented.mode == "PA":
        return oriented.convert("RGBA")
    if oriented.mode == "F":
        raise ValueError("32-bit floating-point images have no fixed grey scale; save the image with 8 or 16 bits")
    return oriented.convert("RGB")


def content_hash(image: Image.Image) -> str:
    digest = hashlib.sha256(f"{image.mode} {image.width}x{image.height}\n".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def levels_to_image(levels: np.ndarray, level_count: int) -> Image.Image:
    """Turn uint8 or float pixel levels (C, H, W) in 0..level_count-1 into an 8-bit grey or RGB image."""
    grey = (np.asarray(levels, dtype=np.int64) * 255 // (level_count - 1)).astype(np.uint8)  # (C, H, W)
    if grey.shape[0] == 1:
        return Image.fromarray(grey[0], mode="L")
    return Image.fromarray(grey.transpose(1, 2, 0), mode="RGB")


def data_url(image: Image.Image) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")
