"""Shape hyperparameters of an ACN, saved inside every checkpoint so any tool can rebuild the model."""

import dataclasses
import enum
from typing import Any

from training.models.outputs import OutputType


class ModelKind(str, enum.Enum):
    """Model family: ACN, or one of the two baselines that the ACN paper (Graves et al., 2018) compares it with."""

    ACN = "acn"  # prior conditioned on a neighbouring code
    VAE = "vae"  # same encoder and decoder, unconditional learned mixture prior ("Gated PixelVAE")
    PIXELCNN = "pixelcnn"  # the decoder alone, with no code ("Gated PixelCNN")


class Conditioning(str, enum.Enum):
    """Conditioning of the gated PixelCNN on the latent z."""

    GLOBAL = "global"  # a per-layer bias computed from z, as in conditional Gated PixelCNN
    SPATIAL = "spatial"  # z decoded by transposed convolutions into a feature map for every block


@dataclasses.dataclass
class ModelConfig:
    """Every number needed to build the encoder, prior network and decoder."""

    kind: ModelKind = ModelKind.ACN
    image_channels: int = 1
    image_size: int = 28
    output_type: OutputType = OutputType.BERNOULLI
    code_size: int = 16  # D, dimensions of the code c and the latent z
    # Fixed factor on the encoder's output. q(z|x) has unit variance, so codes must spread over several
    # units to carry information; a factor above 1 lets Adam's size-independent steps spread them sooner.
    code_scale: float = 1.0
    mixture_components: int = 8  # M, Gaussians per latent dimension in the prior
    encoder_channels: tuple[int, ...] = (32, 32, 64, 64, 128)
    encoder_strides: tuple[int, ...] = (1, 2, 1, 2, 1)
    prior_hidden: int = 512
    prior_layers: int = 3
    decoder_blocks: int = 10
    decoder_filters: int = 64
    decoder_kernel: int = 5  # odd, because the vertical stack reaches kernel // 2 rows further up per block
    conditioning: Conditioning = Conditioning.GLOBAL
    conditioning_channels: int = 32  # feature maps of the spatial conditioning network
    # The encoder reads grey levels 0..255. For binarized data these are the levels the bits were drawn
    # from, so the codes do not carry the noise of one draw. Data with 256 levels is read as it is either way.
    encoder_reads_grey: bool = False

    def __post_init__(self) -> None:
        self.kind = ModelKind(self.kind)
        self.output_type = OutputType(self.output_type)
        self.conditioning = Conditioning(self.conditioning)
        self.encoder_channels = tuple(int(c) for c in self.encoder_channels)
        self.encoder_strides = tuple(int(s) for s in self.encoder_strides)
        if len(self.encoder_channels) != len(self.encoder_strides):
            raise ValueError(
                f"encoder_channels has {len(self.encoder_channels)} entries but encoder_strides has "
                f"{len(self.encoder_strides)}; give one stride per encoder layer"
            )
        if self.decoder_kernel < 3 or self.decoder_kernel % 2 == 0:
            raise ValueError(f"decoder_kernel must be odd and at least 3, got {self.decoder_kernel}")
        if self.code_scale <= 0:
            raise ValueError(f"code_scale must be positive, got {self.code_scale}")
        for name in ("code_size", "mixture_components", "decoder_blocks", "decoder_filters", "image_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")

    @property
    def has_encoder(self) -> bool:
        return self.kind is not ModelKind.PIXELCNN

    @property
    def encoder_levels(self) -> int:
        """Number of pixel levels the encoder reads: 256 for grey levels, else the decoder's."""
        return 256 if self.encoder_reads_grey else self.output_type.levels

    def to_dict(self) -> dict[str, Any]:
        """Return plain JSON-ready values: enums as strings, tuples as lists."""
        values = dataclasses.asdict(self)
        for key, value in values.items():
            if isinstance(value, enum.Enum):
                values[key] = value.value
            elif isinstance(value, tuple):
                values[key] = list(value)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ModelConfig":
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown model config keys {unknown}; this checkpoint needs a newer acn")
        return cls(**values)
