import numpy as np
import pytest

from training.config import TrainConfig, preset_config
from training.data import ImageDataset, Split
from training.models import OutputType


def make_dataset(
    count: int = 40, size: int = 8, channels: int = 1, output_type=OutputType.BERNOULLI, grey_raw: bool = False
) -> ImageDataset:
    """Synthetic labelled images: class k lights up column band k, with pixel noise.

    With grey_raw, the raw images of binary data hold grey levels (lit pixels 128..255, others 0..63)
    instead of exactly 0 and 255, so that drawing new bits from them gives different bits.
    """
    rng = np.random.default_rng(0)
    labels = np.arange(count) % 4
    levels = output_type.levels
    images = (rng.random((count, channels, size, size)) < 0.1).astype(np.uint8) * (levels - 1)
    for index, label in enumerate(labels):
        images[index, :, :, label * 2 : label * 2 + 2] = levels - 1
    order = np.arange(count)
    indices = {Split.TEST: order[: count // 5], Split.VALIDATION: order[count // 5 : count // 5 + count // 10]}
    indices[Split.TRAIN] = order[count // 5 + count // 10 :]
    raw = images * (255 // (levels - 1))
    if grey_raw:
        raw = np.where(images > 0, rng.integers(128, 256, images.shape), rng.integers(0, 64, images.shape))
    return ImageDataset("synthetic", images, raw.astype(np.uint8), labels.astype(np.int64), None, output_type, indices)


def tiny_config(**overrides) -> TrainConfig:
    config = preset_config("cpu")
    config.model.encoder_channels = (8, 8)
    config.model.encoder_strides = (2, 2)
    config.model.prior_hidden = 16
    config.model.decoder_blocks = 2
    config.model.decoder_filters = 8
    config.model.conditioning_channels = 4
    config.batch_size = 8
    config.steps = 6
    config.minutes = None
    config.kl_warmup_steps = 3
    config.log_every = 2
    config.checkpoint_every = 4
    for key, value in overrides.items():
        setattr(config, key, value)
    return TrainConfig.from_dict(config.to_dict())


@pytest.fixture
def dataset() -> ImageDataset:
    return make_dataset()
