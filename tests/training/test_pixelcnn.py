import pytest
import torch

from training.models import Conditioning, GatedPixelCNN, ModelConfig, OutputType


def _decoder(output_type: OutputType, channels: int, size: int = 6) -> GatedPixelCNN:
    torch.manual_seed(0)
    config = ModelConfig(
        image_channels=channels,
        image_size=size,
        output_type=output_type,
        decoder_blocks=6,
        decoder_filters=8,
        decoder_kernel=3,
        conditioning=Conditioning.SPATIAL,
        conditioning_channels=4,
        code_size=3,
    )
    return GatedPixelCNN(config).double()


def _input_gradient(decoder: GatedPixelCNN, c: int, i: int, j: int) -> torch.Tensor:
    """Gradient of the logits at sub-pixel (c, i, j) with respect to the scaled input image."""
    size = decoder.spatial.image_size
    x = torch.randint(0, decoder.levels, (1, decoder.channels, size, size)).double()
    x.requires_grad_(True)
    logits = decoder(x, torch.randn(1, 3, dtype=torch.float64))
    if decoder.output_type is OutputType.BERNOULLI:
        target = logits[0, c, i, j]
    else:
        target = logits[0, c, :, i, j].sum()
    (gradient,) = torch.autograd.grad(target, x)
    return gradient[0]  # (C, H, W)


CASES = [(OutputType.BERNOULLI, 1), (OutputType.CATEGORICAL, 1), (OutputType.CATEGORICAL, 3)]


@pytest.mark.parametrize(("output_type", "channels"), CASES)
def test_logits_ignore_current_and_later_pixels(output_type, channels):
    decoder = _decoder(output_type, channels)
    size = 6
    for c in range(channels):
        for i, j in [(0, 0), (2, 3), (5, 5), (3, 0)]:
            gradient = _input_gradient(decoder, c, i, j)
            for cc in range(channels):
                for ii in range(size):
                    for jj in range(size):
                        is_later = (ii, jj) > (i, j) or ((ii, jj) == (i, j) and cc >= c)
                        if is_later:
                            assert gradient[cc, ii, jj] == 0, f"logit {(c, i, j)} sees later {(cc, ii, jj)}"


@pytest.mark.parametrize(("output_type", "channels"), CASES)
def test_logits_see_every_earlier_pixel(output_type, channels):
    decoder = _decoder(output_type, channels)
    size = 6
    for c in range(channels):
        i, j = 3, 2
        gradient = _input_gradient(decoder, c, i, j)
        for cc in range(channels):
            for ii in range(size):
                for jj in range(size):
                    is_earlier = (ii, jj) < (i, j) or ((ii, jj) == (i, j) and cc < c)
                    if is_earlier:
                        assert gradient[cc, ii, jj] != 0, f"logit {(c, i, j)} blind to {(cc, ii, jj)}"


@pytest.mark.parametrize(("output_type", "channels"), CASES)
def test_no_blind_spot_above_right(output_type, channels):
    decoder = _decoder(output_type, channels)
    gradient = _input_gradient(decoder, 0, 3, 2)
    assert gradient[:, 2, 3].abs().sum() > 0
    assert gradient[:, 2, 5].abs().sum() > 0
