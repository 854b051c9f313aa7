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
        """Return codes c (B, D), the means of q(z|x), for images x (B, C, H, W) of encoder levels.

        The encoder levels are 0 .. config.encoder_levels - 1: grey levels when the encoder reads grey,
        else the levels the decoder models. encoder_input turns decoded images into them.
        """
        if self.encoder is None:
            raise ValueError(f"a {self.config.kind.value} model has no encoder and gives no codes")
        scale = 2.0 / (self.config.encoder_levels - 1)
        dtype = next(self.encoder.parameters()).dtype
        return self.encoder(x.to(dtype) * scale - 1.0)

    def encoder_input(self, x: torch.Tensor) -> torch.Tensor:
        """Turn images x of the decoder's levels (such as samples) into encoder levels: bits 0/1 become 0/255."""
        if self.config.encoder_levels == self.config.output_type.levels:
            return x
        return x * ((self.config.encoder_levels - 1) // (self.config.output_type.levels - 1))

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
