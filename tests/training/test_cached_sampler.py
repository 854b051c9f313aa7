import pytest
import torch

from training.models import Conditioning, GatedPixelCNN, ModelConfig, OutputType
from training.models.cached_sampler import SamplingCancelled, sample_cached

CODE_SIZE = 3


def _decoder(
    output_type: OutputType,
    channels: int,
    conditioning: Conditioning = Conditioning.SPATIAL,
    kernel: int = 3,
    blocks: int = 3,
    size: int = 6,
    is_conditional: bool = True,
    dtype: torch.dtype = torch.float64,
) -> GatedPixelCNN:
    torch.manual_seed(0)
    config = ModelConfig(
        image_channels=channels,
        image_size=size,
        output_type=output_type,
        decoder_blocks=blocks,
        decoder_filters=8,
        decoder_kernel=kernel,
        conditioning=conditioning,
        conditioning_channels=4,
        code_size=CODE_SIZE,
    )
    decoder = GatedPixelCNN(config, is_conditional=is_conditional).to(dtype)
    with torch.no_grad():
        # Larger weights than at initialization make every logit depend strongly on its context, so a
        # sampler that feeds any layer a wrong value draws different images.
        for parameter in decoder.parameters():
            parameter.mul_(3.0)
    return decoder


def _inputs(
    decoder: GatedPixelCNN, batch: int, height: int, width: int, seed: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    dtype = decoder.heads.weight.dtype
    z = torch.randn(batch, CODE_SIZE, generator=generator).to(dtype)  # (B, D)
    uniforms = torch.rand(batch, decoder.channels, height, width, generator=generator)  # (B, C, H, W)
    return z, uniforms


# (output type, channels, conditioning, kernel, blocks, conditional, batch, height, width)
CASES = [
    (OutputType.BERNOULLI, 1, Conditioning.SPATIAL, 3, 3, True, 2, 6, 6),
    (OutputType.BERNOULLI, 1, Conditioning.GLOBAL, 5, 4, True, 1, 7, 7),
    (OutputType.BERNOULLI, 1, Conditioning.GLOBAL, 7, 2, False, 2, 5, 9),
    (OutputType.CATEGORICAL, 1, Conditioning.SPATIAL, 3, 2, True, 2, 6, 6),
    (OutputType.CATEGORICAL, 3, Conditioning.GLOBAL, 5, 3, True, 2, 5, 5),
    (OutputType.CATEGORICAL, 3, Conditioning.SPATIAL, 3, 1, True, 1, 5, 5),
    (OutputType.CATEGORICAL, 3, Conditioning.GLOBAL, 3, 2, False, 2, 4, 6),
]


@pytest.mark.parametrize(
    ("output_type", "channels", "conditioning", "kernel", "blocks", "conditional", "batch", "height", "width"),
    CASES,
)
def test_cached_equals_plain_float64(
    output_type, channels, conditioning, kernel, blocks, conditional, batch, height, width
):
    decoder = _decoder(output_type, channels, conditioning, kernel, blocks, height, conditional)
    z, uniforms = _inputs(decoder, batch, height, width)
    z = z if conditional else None

    expected = decoder.sample(z, uniforms)
    images = sample_cached(decoder, z, uniforms)

    assert images.dtype == expected.dtype
    assert images.shape == expected.shape
    assert torch.equal(images, expected), f"{int((images != expected).sum())} sub-pixels differ"


def test_samples_are_not_trivial():
    # The equality tests mean something only if the images vary, with both Bernoulli outcomes and many levels.
    decoder = _decoder(OutputType.CATEGORICAL, 3, Conditioning.GLOBAL, size=5)
    z, uniforms = _inputs(decoder, 2, 5, 5)
    images = sample_cached(decoder, z, uniforms)
    assert images.unique().numel() > 20
    binary = _decoder(OutputType.BERNOULLI, 1)
    z, uniforms = _inputs(binary, 2, 6, 6)
    assert sample_cached(binary, z, uniforms).unique().tolist() == [0.0, 1.0]


def test_unconditional_decoder_ignores_z():
    decoder = _decoder(OutputType.BERNOULLI, 1, Conditioning.GLOBAL, is_conditional=False, size=5)
    z, uniforms = _inputs(decoder, 2, 5, 5)
    assert torch.equal(sample_cached(decoder, z, uniforms), sample_cached(decoder, None, uniforms))


def test_conditional_decoder_without_z():
    decoder = _decoder(OutputType.BERNOULLI, 1, Conditioning.SPATIAL, size=5)
    _, uniforms = _inputs(decoder, 2, 5, 5)
    assert torch.equal(sample_cached(decoder, None, uniforms), decoder.sample(None, uniforms))


@pytest.mark.parametrize(
    ("output_type", "channels", "size"), [(OutputType.BERNOULLI, 1, 12), (OutputType.CATEGORICAL, 3, 6)]
)
def test_float32_agrees_with_plain(output_type, channels, size):
    # These cases compare 288 and 216 sub-pixels. In float32 a sample flips only if a uniform falls within
    # about 1e-6 of a CDF boundary, and these fixed seeds do not come that close.
    decoder = _decoder(output_type, channels, Conditioning.SPATIAL, size=size, dtype=torch.float32)
    z, uniforms = _inputs(decoder, 2, size, size)
    assert torch.equal(sample_cached(decoder, z, uniforms), decoder.sample(z, uniforms))


def test_on_row_sees_finished_rows():
    decoder = _decoder(OutputType.CATEGORICAL, 1, size=5)
    z, uniforms = _inputs(decoder, 2, 5, 5)
    calls = []
    images = sample_cached(decoder, z, uniforms, on_row=lambda i, so_far: calls.append((i, so_far)))
    assert [i for i, _ in calls] == [0, 1, 2, 3, 4]
    for i, so_far in calls:
        assert torch.equal(so_far[:, :, : i + 1], images[:, :, : i + 1]), f"row {i} differs from the final image"
        assert not so_far[:, :, i + 1 :].any(), f"rows after {i} are not zero"


def test_on_row_false_cancels():
    decoder = _decoder(OutputType.BERNOULLI, 1, size=6)
    z, uniforms = _inputs(decoder, 2, 6, 6)
    rows = []

    def stop_after_second_row(i: int, images: torch.Tensor) -> bool:
        rows.append(i)
        return i < 1

    with pytest.raises(SamplingCancelled) as caught:
        sample_cached(decoder, z, uniforms, on_row=stop_after_second_row)
    assert rows == [0, 1]
    assert caught.value.rows_finished == 2
    assert torch.equal(caught.value.images[:, :, :2], decoder.sample(z, uniforms)[:, :, :2])


def test_rejects_wrong_channel_count():
    decoder = _decoder(OutputType.CATEGORICAL, 3, Conditioning.GLOBAL, size=4)
    with pytest.raises(ValueError, match="uniforms must have shape"):
        sample_cached(decoder, None, torch.rand(1, 1, 4, 4))


def test_rejects_uniforms_outside_unit_interval():
    decoder = _decoder(OutputType.BERNOULLI, 1, Conditioning.GLOBAL, size=4)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        sample_cached(decoder, None, torch.ones(1, 1, 4, 4))


def test_rejects_size_unlike_spatial_map():
    decoder = _decoder(OutputType.BERNOULLI, 1, Conditioning.SPATIAL, size=6)
    z, uniforms = _inputs(decoder, 1, 5, 5)
    with pytest.raises(ValueError, match="6x6 maps"):
        sample_cached(decoder, z, uniforms)


def test_rejects_z_batch_mismatch():
    decoder = _decoder(OutputType.BERNOULLI, 1, Conditioning.GLOBAL, size=4)
    z, uniforms = _inputs(decoder, 2, 4, 4)
    with pytest.raises(ValueError, match="z must have shape"):
        sample_cached(decoder, z[:1], uniforms)
