"""Tests for turning uploaded images into encoder input."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.data.centering import center_like_mnist
from training.data.resize import resize_images
from training.models import ModelConfig, OutputType
from training.preprocess import BINARIZE_THRESHOLD, PreprocessSpec, preprocess_image

BINARY_DIGITS = PreprocessSpec(mode="L", size=12, digit_normalisation=True, binarize_threshold=BINARIZE_THRESHOLD)
GREY_DIGITS = PreprocessSpec(mode="L", size=28, digit_normalisation=True, binarize_threshold=None)
GREY_PLAIN = PreprocessSpec(mode="L", size=8, digit_normalisation=False, binarize_threshold=None)
COLOUR = PreprocessSpec(mode="RGB", size=8, digit_normalisation=False, binarize_threshold=None)


def reopen_png(image: Image.Image) -> Image.Image:
    """Save an image as PNG in memory and open it again, as an upload arrives."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    buffer.seek(0)
    return Image.open(buffer)


def small_digit() -> np.ndarray:
    """Return an 8x8 uint8 digit-like stroke, in the style of scikit-learn's digits."""
    digit = np.zeros((8, 8), dtype=np.uint8)
    digit[1:7, 3] = 255
    digit[1, 2] = 160
    digit[6, 2:5] = 200
    return digit


def centre_of_mass(levels: np.ndarray) -> tuple[float, float]:
    weights = levels.astype(np.float64)
    rows, columns = np.indices(levels.shape)
    return float((rows * weights).sum() / weights.sum()), float((columns * weights).sum() / weights.sum())


def test_binary_png_keeps_bits() -> None:
    bits = (np.random.default_rng(0).random((12, 12)) < 0.3).astype(np.uint8)
    bits[0, :] = 0
    levels = preprocess_image(reopen_png(Image.fromarray(bits * 255)), BINARY_DIGITS)
    np.testing.assert_array_equal(levels, bits[np.newaxis])


def test_threshold_at_128() -> None:
    grey = np.zeros((12, 12), dtype=np.uint8)
    grey[5, 5], grey[5, 6] = 127, 128
    levels = preprocess_image(Image.fromarray(grey), BINARY_DIGITS)
    assert levels[0, 5, 5] == 0
    assert levels[0, 5, 6] == 1


def test_grey_at_model_size_unchanged() -> None:
    grey = np.random.default_rng(1).integers(0, 256, size=(8, 8), dtype=np.uint8)
    levels = preprocess_image(reopen_png(Image.fromarray(grey)), GREY_PLAIN)
    np.testing.assert_array_equal(levels, grey[np.newaxis])


def test_colour_at_model_size_unchanged() -> None:
    pixels = np.random.default_rng(2).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    levels = preprocess_image(reopen_png(Image.fromarray(pixels)), COLOUR)
    np.testing.assert_array_equal(levels, pixels.transpose(2, 0, 1))


def test_small_digit_matches_digits_pipeline() -> None:
    digit = small_digit()
    levels = preprocess_image(reopen_png(Image.fromarray(digit)), GREY_DIGITS)
    np.testing.assert_array_equal(levels[0], center_like_mnist(digit))


def test_digit_resized_like_dataset() -> None:
    digit = small_digit()
    spec = PreprocessSpec(mode="L", size=12, digit_normalisation=True, binarize_threshold=None)
    levels = preprocess_image(Image.fromarray(digit), spec)
    expected = resize_images(center_like_mnist(digit)[np.newaxis, np.newaxis], 12)[0]
    np.testing.assert_array_equal(levels, expected)


def test_light_background_inverted() -> None:
    grey = np.full((40, 30), 255, dtype=np.uint8)
    grey[10:30, 12:16] = 0
    levels = preprocess_image(Image.fromarray(grey), GREY_DIGITS)[0]
    assert levels[0, 0] == 0
    assert levels.max() == 255


def test_light_digit_at_model_size_inverted() -> None:
    grey = np.full((12, 12), 255, dtype=np.uint8)
    grey[2:10, 5] = 0
    levels = preprocess_image(Image.fromarray(grey), BINARY_DIGITS)[0]
    assert levels.sum() == 8
    assert np.all(levels[2:10, 5] == 1)


def test_off_white_background_removed() -> None:
    grey = np.full((40, 30), 245, dtype=np.uint8)
    grey[10:30, 12:16] = 20
    levels = preprocess_image(Image.fromarray(grey), GREY_DIGITS)[0]
    rows, columns = np.nonzero(levels)
    assert rows.max() - rows.min() + 1 <= 20
    assert columns.max() - columns.min() + 1 <= 20


def test_large_digit_centred() -> None:
    grey = np.zeros((120, 90), dtype=np.uint8)
    grey[5:60, 60:75] = 255
    levels = preprocess_image(Image.fromarray(grey), GREY_DIGITS)[0]
    row, column = centre_of_mass(levels)
    assert abs(row - 13.5) <= 0.5
    assert abs(column - 13.5) <= 0.5
    assert np.count_nonzero(levels.any(axis=1)) == 20


def test_blank_upload_gives_black() -> None:
    levels = preprocess_image(Image.new("L", (50, 50), 255), BINARY_DIGITS)
    assert levels.shape == (1, 12, 12)
    assert not levels.any()


def test_alpha_composited_on_black() -> None:
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[..., :3] = 255
    rgba[:4, :, 3] = 255  # top half opaque white, bottom half transparent white
    levels = preprocess_image(Image.fromarray(rgba, mode="RGBA"), COLOUR)
    assert np.all(levels[:, :4] == 255)
    assert np.all(levels[:, 4:] == 0)


def test_sixteen_bit_scaled() -> None:
    grey = np.array([[0, 257 * 100], [65535, 257 * 200]], dtype=np.uint16)
    spec = PreprocessSpec(mode="L", size=2, digit_normalisation=False, binarize_threshold=None)
    levels = preprocess_image(reopen_png(Image.fromarray(grey)), spec)
    np.testing.assert_array_equal(levels[0], [[0, 100], [255, 200]])


def test_palette_converted() -> None:
    pixels = np.random.default_rng(3).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    palette = Image.fromarray(pixels).quantize(colors=16)
    levels = preprocess_image(reopen_png(palette), COLOUR)
    np.testing.assert_array_equal(levels, np.asarray(palette.convert("RGB")).transpose(2, 0, 1))


def test_cmyk_converted() -> None:
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # pure red
    levels = preprocess_image(cmyk, COLOUR)
    assert levels[:, 0, 0].tolist() == [255, 0, 0]


def test_exif_orientation_applied(tmp_path: Path) -> None:
    pixels = np.random.default_rng(4).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: rotate 90 degrees clockwise to display
    Image.fromarray(pixels).save(tmp_path / "photo.png", exif=exif)
    with Image.open(tmp_path / "photo.png") as upload:
        levels = preprocess_image(upload, COLOUR)
    np.testing.assert_array_equal(levels, np.rot90(pixels, k=-1).transpose(2, 0, 1))


def test_animation_uses_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("L", (8, 8), 10), Image.new("L", (8, 8), 200)]
    frames[0].save(tmp_path / "moving.gif", save_all=True, append_images=frames[1:])
    with Image.open(tmp_path / "moving.gif") as upload:
        upload.seek(1)
        levels = preprocess_image(upload, GREY_PLAIN)
    assert np.all(levels == 10)


def test_colour_resized_plainly() -> None:
    pixels = np.random.default_rng(5).integers(0, 256, size=(10, 20, 3), dtype=np.uint8)
    levels = preprocess_image(Image.fromarray(pixels), COLOUR)
    expected = np.asarray(Image.fromarray(pixels).resize((8, 8), Image.Resampling.LANCZOS))
    np.testing.assert_array_equal(levels, expected.transpose(2, 0, 1))


def test_float_image_rejected() -> None:
    with pytest.raises(ValueError, match="floating-point"):
        preprocess_image(Image.new("F", (8, 8), 0.5), GREY_PLAIN)


def test_spec_round_trip() -> None:
    manifest = {"preprocess": BINARY_DIGITS.to_dict()}
    assert PreprocessSpec.from_manifest(manifest) == BINARY_DIGITS


def test_spec_missing_from_manifest() -> None:
    with pytest.raises(ValueError, match="preprocess"):
        PreprocessSpec.from_manifest({})


def test_spec_unknown_key_rejected() -> None:
    with pytest.raises(ValueError, match="exactly the keys"):
        PreprocessSpec.from_dict({**BINARY_DIGITS.to_dict(), "gamma": 2.2})


def test_spec_for_binarized_digits() -> None:
    spec = PreprocessSpec.for_model(ModelConfig(output_type=OutputType.BERNOULLI), "digits")
    assert spec == PreprocessSpec(mode="L", size=28, digit_normalisation=True, binarize_threshold=128)


def test_spec_for_digits_read_grey() -> None:
    config = ModelConfig(output_type=OutputType.BERNOULLI, encoder_reads_grey=True)
    spec = PreprocessSpec.for_model(config, "mnist-5k")
    assert spec == PreprocessSpec(mode="L", size=28, digit_normalisation=True, binarize_threshold=None)


def test_spec_for_grey_clothes() -> None:
    spec = PreprocessSpec.for_model(ModelConfig(output_type=OutputType.CATEGORICAL), "fashion-mnist")
    assert spec == PreprocessSpec(mode="L", size=28, digit_normalisation=False, binarize_threshold=None)


def test_spec_for_grey_mnist() -> None:
    spec = PreprocessSpec.for_model(ModelConfig(output_type=OutputType.CATEGORICAL), "mnist-5k")
    assert spec.digit_normalisation
    assert spec.binarize_threshold is None


def test_spec_for_colour() -> None:
    config = ModelConfig(image_channels=3, image_size=32, output_type=OutputType.CATEGORICAL)
    spec = PreprocessSpec.for_model(config, "cifar")
    assert spec == PreprocessSpec(mode="RGB", size=32, digit_normalisation=False, binarize_threshold=None)
