"""The whole model: encoder, prior and decoder, for ACN and its two baselines."""

import torch
from torch import nn

from training.models.config import ModelConfig, ModelKind
from training.models.encoder import Encoder
from training.models.pixelcnn import GatedPixelCNN
from training.models.prior import LearnedMixturePrior, MixtureParams, PriorNetwork


class ACN(nn.Module):
    """Associative Compression Network: q(z|x) = N(encoder(x), I), p(z|ĉ), r(x|z).

    With kind VAE the prior ignores the neighbour code; with kind PIXELCNN there is no encoder, no prior
    and the decoder is unconditional.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config) if config.has_encoder else None
        if config.kind is ModelKind.ACN:
            self.prior = PriorNetwork(
                config.code_size, config.mixture_components, config.prior_hidden, config.prior_layers
            )
        elif config.kind is ModelKind.VAE:
            self.prior = LearnedMixturePrior(config.code_size, config.mixture_components)
        else:
            self.prior = None
        self.decoder = GatedPixelCNN(config, is_conditional=config.has_encoder)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Return codes c (B, D), the means of q(z|x), for images x (B, C, H, W) of pixel levels."""
        if self.encoder is None:
            raise ValueError(f"a {self.config.kind.value} model has no encoder and gives no codes")
        return self.encoder(self.decoder.scale_input(x))

    def prior_params(self, neighbour_codes: torch.Tensor) -> MixtureParams:
        """Return p(z|ĉ) for neighbour codes (B, D); the VAE prior ignores their values."""
        if isinstance(self.prior, PriorNetwork):
            return self.prior(neighbour_codes)
        if isinstance(self.prior, LearnedMixturePrior):
            return self.prior(neighbour_codes.shape[0])
        raise ValueError(f"a {self.config.kind.value} model has no prior over codes")

    def decode(self, x: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        """Return the decoder's logits for x given z (None for the PixelCNN baseline)."""
        return self.decoder(x, z)
