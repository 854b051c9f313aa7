"""Tests for unconditional, reconstruction and daydream sampling and the PNG grids."""

import numpy as np
import pytest
import torch

from cli.sample import MODES
from training.models import ACN, Conditioning, ModelConfig, ModelKind, OutputType
from training.sampling import (
    SamplingMode,
    daydream,
    draw_images,
    image_grid,
    reconstruct,
    sample_unconditional,
    square_rows,
)
from training.unconditional import UnconditionalPrior

SIZE = 6  # image side: the plain sampler reruns the decoder once per sub-pixel


def tiny_model(
    kind: ModelKind = ModelKind.ACN,
    output_type: OutputType = OutputType.BERNOULLI,
    channels: int = 1,
    encoder_reads_grey: bool = False,
) -> ACN:
    torch.manual_seed(0)
    config = ModelConfig(
        kind=kind,
        image_channels=channels,
        image_size=SIZE,
        output_type=output_type,
        code_size=3,
        mixture_components=2,
        encoder_channels=(4,),
        encoder_strides=(2,),
        prior_hidden=8,
        decoder_blocks=1,
        decoder_filters=4,
        decoder_kernel=3,
        conditioning=Conditioning.SPATIAL,
        conditioning_channels=2,
        encoder_reads_grey=encoder_reads_grey,
    )
    return ACN(config).eval()


def gaussian_prior(code_size: int = 3) -> UnconditionalPrior:
    return UnconditionalPrior(np.ones(1), np.zeros((1, code_size)), np.eye(code_size)[np.newaxis])


def real_images(count: int = 3, levels: int = 2, channels: int = 1) -> np.ndarray:
    return np.random.default_rng(0).integers(0, levels, size=(count, channels, SIZE, SIZE)).astype(np.uint8)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_draw_images_repeats_under_seed():
    model = tiny_model()
    z = torch.randn(4, 3)
    first = draw_images(model.decoder, z, (4, 1, SIZE, SIZE), seeded(1))
    second = draw_images(model.decoder, z, (4, 1, SIZE, SIZE), seeded(1))
    other = draw_images(model.decoder, z, (4, 1, SIZE, SIZE), seeded(2))
    assert torch.equal(first, second)
    assert not torch.equal(first, other)


def test_draw_images_feeds_decoder_uniforms():
    model = tiny_model()
    z = torch.randn(2, 3)
    expected = model.decoder.sample(z, torch.rand((2, 1, SIZE, SIZE), generator=seeded(5)))
    assert torch.equal(draw_images(model.decoder, z, (2, 1, SIZE, SIZE), seeded(5)), expected)


def test_draw_images_rejects_row_mismatch():
    model = tiny_model()
    with pytest.raises(ValueError, match="3 rows but 2 images"):
        draw_images(model.decoder, torch.randn(3, 3), (2, 1, SIZE, SIZE), seeded(0))


@pytest.mark.parametrize("kind", list(ModelKind))
def test_unconditional_repeats_under_seed(kind):
    model = tiny_model(kind)
    first, first_z = sample_unconditional(model, gaussian_prior(), 3, seeded(4))
    second, second_z = sample_unconditional(model, gaussian_prior(), 3, seeded(4))
    assert first.shape == (3, 1, SIZE, SIZE)
    assert first.dtype == np.uint8
    assert np.array_equal(first, second)
    assert (first_z is None) == (kind is ModelKind.PIXELCNN)
    if first_z is not None:
        assert np.array_equal(first_z, second_z)


def test_unconditional_acn_needs_prior():
    with pytest.raises(ValueError, match="fitted prior"):
        sample_unconditional(tiny_model(), None, 2, seeded(0))


def test_reconstruct_decodes_mean_code():
    model = tiny_model()
    images = real_images(2)
    rows = reconstruct(model, images, 3, seeded(7))
    with torch.no_grad():
        codes = model.encode(torch.from_numpy(images).float()).repeat_interleave(3, dim=0)  # (6, D)
        uniforms = torch.rand((6, 1, SIZE, SIZE), generator=seeded(7))
        expected = model.decoder.sample(codes, uniforms).numpy().reshape(2, 3, 1, SIZE, SIZE)
    assert rows.shape == (2, 4, 1, SIZE, SIZE)
    assert np.array_equal(rows[:, 0], images)
    assert np.array_equal(rows[:, 1:], expected)


def test_daydream_starts_from_real():
    images = real_images(2)
    chains = daydream(tiny_model(), images, 3, seeded(0))
    assert chains.images.shape == (2, 4, 1, SIZE, SIZE)
    assert np.array_equal(chains.images[:, 0], images)


def test_daydream_reencodes_each_image():
    model = tiny_model()
    chains = daydream(model, real_images(2), 3, seeded(0))
    with torch.no_grad():
        for step in range(4):
            expected = model.encode(torch.from_numpy(chains.images[:, step]).float()).numpy()
            assert np.allclose(chains.codes[:, step], expected, atol=1e-6)


def test_grey_encoder_reads_bits_as_0_and_255():
    model = tiny_model(encoder_reads_grey=True)
    chains = daydream(model, real_images(2), 3, seeded(0))
    with torch.no_grad():
        for step in range(1, 4):
            bits = torch.from_numpy(chains.images[:, step]).float()
            expected = model.encode(bits * 255).numpy()
            assert np.allclose(chains.codes[:, step], expected, atol=1e-6)


def test_grey_encoder_gets_given_inputs():
    model = tiny_model(encoder_reads_grey=True)
    images = real_images(2)
    grey = np.where(images > 0, 200, 30).astype(np.uint8)  # other levels than 0/255, as a grey image has
    chains = daydream(model, images, 1, seeded(0), encoder_inputs=grey)
    rows = reconstruct(model, images, 2, seeded(0), encoder_inputs=grey)
    with torch.no_grad():
        expected = model.encode(torch.from_numpy(grey).float()).numpy()
    assert np.allclose(chains.codes[:, 0], expected, atol=1e-6)
    assert np.array_equal(chains.images[:, 0], images)  # the chain shows the modelled bits
    assert np.array_equal(rows[:, 0], images)


def test_encoder_inputs_must_match_images():
    with pytest.raises(ValueError, match="encoder_inputs have shape"):
        reconstruct(tiny_model(encoder_reads_grey=True), real_images(2), 1, seeded(0), encoder_inputs=real_images(3))


def test_daydream_prior_sees_previous_code():
    model = tiny_model()
    seen = []
    original = model.prior_params

    def recording_prior(codes):
        seen.append(codes.clone())
        return original(codes)

    model.prior_params = recording_prior
    chains = daydream(model, real_images(2), 3, seeded(0))
    assert len(seen) == 3
    for step, codes in enumerate(seen):
        assert np.allclose(codes.numpy(), chains.codes[:, step])


def test_daydream_repeats_under_seed():
    model = tiny_model()
    first = daydream(model, real_images(2), 2, seeded(9))
    second = daydream(model, real_images(2), 2, seeded(9))
    assert np.array_equal(first.images, second.images)
    assert np.array_equal(first.latents, second.latents)


def test_categorical_colour_daydream():
    model = tiny_model(output_type=OutputType.CATEGORICAL, channels=3)
    chains = daydream(model, real_images(1, levels=256, channels=3), 1, seeded(0))
    assert chains.images.shape == (1, 2, 3, SIZE, SIZE)


@pytest.mark.parametrize("mode", [reconstruct, daydream])
def test_pixelcnn_needs_encoder(mode):
    with pytest.raises(ValueError, match="only unconditional"):
        mode(tiny_model(ModelKind.PIXELCNN), real_images(1), 1, seeded(0))


def test_grid_size_and_gaps():
    rows = np.zeros((2, 3, 1, 4, 5), dtype=np.uint8)
    grid = image_grid(rows, levels=2, scale=2, separator=1, gap_after=(0,))
    # Width: three cells of 10 pixels, a 3-pixel gap after column 0 and a 1-pixel separator after column 1.
    assert grid.size == (3 * 10 + 3 + 1, 2 * 8 + 1)
    assert grid.mode == "L"


def test_grid_white_on_black():
    rows = np.zeros((1, 2, 1, 2, 2), dtype=np.uint8)
    rows[0, 0, 0, 0, 0] = 1
    pixels = np.asarray(image_grid(rows, levels=2, scale=1, separator=1))
    assert pixels[0, 0] == 255
    assert pixels[0, 1] == 0
    assert pixels[0, 2] == 128  # the separator


def test_grid_colour_levels():
    rows = np.full((1, 1, 3, 2, 2), 255, dtype=np.uint8)
    grid = image_grid(rows, levels=256, scale=1)
    assert grid.mode == "RGB"
    assert grid.getpixel((0, 0)) == (255, 255, 255)


def test_square_rows_pads():
    images = np.ones((5, 1, 2, 2), dtype=np.uint8)
    rows = square_rows(images)
    assert rows.shape == (2, 3, 1, 2, 2)
    assert rows[1, 2].max() == 0


def test_cli_modes_match_enum():
    assert MODES == tuple(mode.value for mode in SamplingMode)
