"""Training configuration and the named presets; the resolved config is saved with every run."""

import dataclasses
import enum
from typing import Any

from training.models import Conditioning, ModelConfig, ModelKind


class OptimizerKind(str, enum.Enum):
    RMSPROP = "rmsprop"  # the ACN paper's choice, with momentum
    ADAM = "adam"


class LearningRateSchedule(str, enum.Enum):
    CONSTANT = "constant"
    # Cosine decay from learning_rate to 0 over the budget: steps, or minutes when those run out first.
    COSINE = "cosine"


@dataclasses.dataclass
class TrainConfig:
    """Everything that decides a training run besides the data's own shape."""

    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    preset: str = "cpu"
    data: str = "mnist-5k"
    binarize: bool | None = None  # None: the dataset's default (digits binarized, others 256 levels)
    batch_size: int = 64
    optimizer: OptimizerKind = OptimizerKind.RMSPROP
    learning_rate: float = 1e-5
    momentum: float = 0.9  # RMSprop momentum; Adam's beta1
    polyak_decay: float = 0.9999
    neighbours: int = 5  # K, the number of nearest codes a neighbour is drawn from
    unique_neighbours: bool = False  # no code is a neighbour twice in one pass
    kl_warmup_steps: int = 0  # KL weight rises linearly from 0 to 1 over this many steps; 0 = off
    learning_rate_schedule: LearningRateSchedule = LearningRateSchedule.CONSTANT
    shift_pixels: int = 0  # training images move by up to this many pixels in x and y; 0 = off
    # Binarized data only: draw fresh bits from the grey levels each time an image is in a batch.
    rebinarize: bool = False
    steps: int = 100_000
    minutes: float | None = None  # wall-clock budget; training stops at steps or minutes, whichever comes first
    seed: int = 0
    device: str = "cpu"
    checkpoint_every: int = 1000  # steps between checkpoints (one is always written at the end)
    log_every: int = 50  # steps between rows of metrics.jsonl

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):
            self.model = ModelConfig.from_dict(self.model)
        self.optimizer = OptimizerKind(self.optimizer)
        self.learning_rate_schedule = LearningRateSchedule(self.learning_rate_schedule)
        for name in ("batch_size", "neighbours", "steps", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.polyak_decay < 1.0:
            raise ValueError(f"polyak_decay must be in [0, 1), got {self.polyak_decay}")
        if self.shift_pixels < 0:
            raise ValueError(f"shift_pixels must be 0 or more, got {self.shift_pixels}")
        if self.minutes is not None and self.minutes <= 0:
            raise ValueError(f"minutes must be positive, got {self.minutes}")

    def to_dict(self) -> dict[str, Any]:
        values = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        values["model"] = self.model.to_dict()
        values["optimizer"] = self.optimizer.value
        values["learning_rate_schedule"] = LearningRateSchedule(self.learning_rate_schedule).value
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown training config keys {unknown}; this run needs a newer acn")
        return cls(**values)


def _paper_mnist() -> TrainConfig:
    """Binarized MNIST settings of the ACN paper (Graves, Menick and van den Oord, 2018, section 4)."""
    return TrainConfig(
        model=ModelConfig(
            code_size=16,
            mixture_components=8,
            encoder_channels=(32, 32, 64, 64, 128),
            encoder_strides=(1, 2, 1, 2, 1),
            decoder_blocks=10,
            decoder_filters=64,
            decoder_kernel=5,
            conditioning=Conditioning.GLOBAL,
        ),
        preset="paper-mnist",
        batch_size=64,
        optimizer=OptimizerKind.RMSPROP,
        learning_rate=1e-5,
        momentum=0.9,
        polyak_decay=0.9999,
        neighbours=5,
        steps=1_000_000,
    )


def _paper_cifar() -> TrainConfig:
    """CIFAR-10 settings of the ACN paper: 128-D codes, 16 components, a deeper encoder and decoder."""
    return TrainConfig(
        model=ModelConfig(
            image_channels=3,
            image_size=32,
            code_size=128,
            mixture_components=16,
            encoder_channels=(64, 64, 64, 128, 128, 128, 256, 256, 256, 512, 512),
            encoder_strides=(1, 1, 2, 1, 1, 2, 1, 1, 2, 1, 1),
            decoder_blocks=15,
            decoder_filters=128,
            decoder_kernel=5,
            conditioning=Conditioning.GLOBAL,
        ),
        preset="paper-cifar",
        data="cifar-10",
        batch_size=64,
        optimizer=OptimizerKind.RMSPROP,
        learning_rate=1e-5,
        momentum=0.9,
        polyak_decay=0.9999,
        neighbours=5,
        steps=1_000_000,
    )


def _cpu() -> TrainConfig:
    """Small enough for `acn train --data mnist-5k` on 2 CPU cores in under 20 minutes.

    It departs from the paper where measurements showed more informative codes in that budget. The decoder
    has one gated block conditioned on a spatial map decoded from z, because a weak decoder leaves the
    image's shape to the code. Codes are scaled by 30, Adam runs at 1e-3 on batches of 16, and the KL
    weight warms up over the first 2,000 steps. Training images move by up to 2 pixels, which raised the
    linear probe on codes by about 2 points on mnist-5k. Codes have 32 dimensions and the encoder reads
    grey levels. In 18-minute trials on mnist-5k with D=32, reading grey levels raised the share of test
    digits whose nearest training code has the same label from 94.3% to 95.0%. With grey levels, D=16
    gave 94.1%. The Polyak decay is 0.999 because 0.9999 would average over more steps
    than the run takes.
    """
    return TrainConfig(
        model=ModelConfig(
            code_size=32,
            mixture_components=8,
            code_scale=30.0,
            encoder_channels=(32, 32, 64, 64, 128),
            encoder_strides=(1, 2, 1, 2, 1),
            decoder_blocks=1,
            decoder_filters=16,
            decoder_kernel=3,
            conditioning=Conditioning.SPATIAL,
            conditioning_channels=16,
            encoder_reads_grey=True,
        ),
        preset="cpu",
        batch_size=16,
        optimizer=OptimizerKind.ADAM,
        learning_rate=1e-3,
        momentum=0.9,
        polyak_decay=0.999,
        neighbours=5,
        kl_warmup_steps=2000,
        shift_pixels=2,
        steps=100_000,
        minutes=18.0,
    )


PRESETS = {"cpu": _cpu, "paper-mnist": _paper_mnist, "paper-cifar": _paper_cifar}


def preset_config(name: str) -> TrainConfig:
    """Return a fresh copy of the named preset."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]()
