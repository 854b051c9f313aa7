"""Gated PixelCNN decoder r(x|z) with vertical and horizontal stacks and no blind spot.

Masking rules, with k = kernel and half = k // 2:
- the vertical stack at row i sees input rows i - half .. i (never rows below), all columns within
  half; it reaches the horizontal stack only after a one-row downward shift, so the horizontal stack
  at (i, j) gets only rows < i from it;
- the horizontal stack at (i, j) sees columns j - half .. j - 1 of the image in its first block and
  columns j - half .. j of its own features after that, always in row i only.
So the features at (i, j) depend on pixels before (i, j) in raster order and never on (i, j) itself.
Sub-pixels of one colour pixel come in order (red, green, blue): the output head for channel c also
sees the values of channels < c at the same pixel.
"""

import torch
import torch.nn.functional as F
from torch import nn

from training.models.config import Conditioning, ModelConfig
from training.models.outputs import OutputType


def _shift_down(x: torch.Tensor) -> torch.Tensor:
    """Move every row one down, filling the top row with zeros: (B, C, H, W) -> (B, C, H, W)."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1, :]


def _gate(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


class GatedBlock(nn.Module):
    """One gated layer of both stacks, with a residual and a skip output on the horizontal stack."""

    def __init__(self, in_channels: int, filters: int, kernel: int, is_first: bool) -> None:
        super().__init__()
        self.half = kernel // 2
        self.is_first = is_first
        self.vertical = nn.Conv2d(in_channels, 2 * filters, (self.half + 1, kernel))
        # The first horizontal layer must not see the current pixel, so its kernel stops one short.
        horizontal_width = self.half if is_first else self.half + 1
        self.horizontal = nn.Conv2d(in_channels, 2 * filters, (1, horizontal_width))
        self.vertical_to_horizontal = nn.Conv2d(2 * filters, 2 * filters, 1)
        self.horizontal_out = nn.Conv2d(filters, filters, 1)
        self.skip_out = nn.Conv2d(filters, filters, 1)

    def forward(
        self,
        v: torch.Tensor,
        h: torch.Tensor,
        condition_v: torch.Tensor | None,
        condition_h: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return the new vertical features, horizontal features and skip contribution, all (B, F, H, W)."""
        v_pre = self.vertical(F.pad(v, (self.half, self.half, self.half, 0)))  # (B, 2F, H, W), rows <= i
        h_pre = self.horizontal(F.pad(h, (self.half, 0, 0, 0)))  # (B, 2F, H, W[+1 when first])
        if self.is_first:
            h_pre = h_pre[:, :, :, :-1] if h_pre.shape[-1] > h.shape[-1] else h_pre
        h_pre = h_pre + self.vertical_to_horizontal(_shift_down(v_pre))  # rows < i only
        if condition_v is not None:
            v_pre = v_pre + condition_v
            h_pre = h_pre + condition_h
        v_out = _gate(v_pre)
        gated = _gate(h_pre)
        h_out = self.horizontal_out(gated)
        if not self.is_first:
            h_out = h_out + h
        return v_out, h_out, self.skip_out(gated)


class SpatialConditioning(nn.Module):
    """Decode z (B, D) into a feature map (B, Cc, H, W) by a linear layer and two transposed convolutions."""

    def __init__(self, code_size: int, channels: int, image_size: int) -> None:
        super().__init__()
        self.image_size = image_size
        self.base = -(-image_size // 4)
        self.channels = channels
        self.linear = nn.Linear(code_size, channels * self.base * self.base)
        self.upsample = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1),
            nn.ReLU(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.linear(z).view(-1, self.channels, self.base, self.base)
        h = self.upsample(h)  # (B, Cc, 4 * base, 4 * base)
        return h[:, :, : self.image_size, : self.image_size]


class GatedPixelCNN(nn.Module):
    """Autoregressive decoder over pixels in raster order, optionally conditioned on a latent z."""

    def __init__(self, config: ModelConfig, is_conditional: bool = True) -> None:
        super().__init__()
        self.channels = config.image_channels
        self.output_type = config.output_type
        self.levels = config.output_type.levels
        self.conditioning = config.conditioning if is_conditional else None
        filters = config.decoder_filters
        blocks = config.decoder_blocks

        self.blocks = nn.ModuleList(
            GatedBlock(self.channels if i == 0 else filters, filters, config.decoder_kernel, is_first=i == 0)
            for i in range(blocks)
        )
        if self.conditioning is Conditioning.GLOBAL:
            self.condition_layers = nn.ModuleList(nn.Linear(config.code_size, 4 * filters) for _ in range(blocks))
        elif self.conditioning is Conditioning.SPATIAL:
            self.spatial = SpatialConditioning(config.code_size, config.conditioning_channels, config.image_size)
            self.condition_layers = nn.ModuleList(
                nn.Conv2d(config.conditioning_channels, 4 * filters, 1) for _ in range(blocks)
            )

        self.output_hidden = nn.Conv2d(filters, filters, 1)
        # Earlier sub-pixels of the same pixel enter each channel's head through a masked 1x1 map.
        self.previous_channels = nn.Conv2d(self.channels, self.channels * filters, 1, bias=False)
        mask = torch.zeros(self.channels * filters, self.channels, 1, 1)
        for c in range(self.channels):
            mask[c * filters : (c + 1) * filters, :c] = 1.0
        self.register_buffer("previous_mask", mask, persistent=False)
        logits_per_channel = 1 if self.output_type is OutputType.BERNOULLI else self.levels
        self.heads = nn.Conv2d(self.channels * filters, self.channels * logits_per_channel, 1, groups=self.channels)
        self.filters = filters

    def scale_input(self, x: torch.Tensor) -> torch.Tensor:
        """Map pixel levels 0 .. levels-1 to [-1, 1]."""
        return x.to(self.heads.weight.dtype) * (2.0 / (self.levels - 1)) - 1.0

    def _conditions(self, z: torch.Tensor | None) -> list[tuple[torch.Tensor, torch.Tensor] | None]:
        if self.conditioning is None or z is None:
            return [None] * len(self.blocks)
        if self.conditioning is Conditioning.GLOBAL:
            terms = [layer(z)[:, :, None, None] for layer in self.condition_layers]  # (B, 4F, 1, 1)
        else:
            feature_map = self.spatial(z)
            terms = [layer(feature_map) for layer in self.condition_layers]  # (B, 4F, H, W)
        return [tuple(term.chunk(2, dim=1)) for term in terms]

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """Return logits for every sub-pixel of x given z.

        x: (B, C, H, W) pixel levels. Output: (B, C, H, W) for Bernoulli data, (B, C, 256, H, W) for
        categorical data; the logits at (c, i, j) depend only on pixels before (i, j) in raster order and on
        channels < c at (i, j).
        """
        scaled = self.scale_input(x)
        v, h = scaled, scaled
        skip = torch.zeros(())
        for block, condition in zip(self.blocks, self._conditions(z)):
            condition_v, condition_h = condition if condition is not None else (None, None)
            v, h, block_skip = block(v, h, condition_v, condition_h)
            skip = skip + block_skip
        features = self.output_hidden(F.relu(skip))  # (B, F, H, W)
        return self._head(features, scaled)

    def _head(self, features: torch.Tensor, scaled: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = features.shape
        weight = self.previous_channels.weight * self.previous_mask
        previous = F.conv2d(scaled, weight).view(batch, self.channels, self.filters, height, width)
        hidden = F.relu(features.unsqueeze(1) + previous).view(batch, self.channels * self.filters, height, width)
        logits = self.heads(hidden)
        if self.output_type is OutputType.BERNOULLI:
            return logits  # (B, C, H, W)
        return logits.view(batch, self.channels, self.levels, height, width)

    @torch.no_grad()
    def sample(self, z: torch.Tensor | None, uniforms: torch.Tensor) -> torch.Tensor:
        """Draw images pixel by pixel, rerunning the whole network for each sub-pixel.

        uniforms (B, C, H, W) in [0, 1) fix the randomness: each sub-pixel takes the smallest level whose
        cumulative probability exceeds its uniform, so any sampler fed the same uniforms draws the same image.
        """
        batch, channels, height, width = uniforms.shape
        x = torch.zeros(batch, channels, height, width, device=uniforms.device)
        for i in range(height):
            for j in range(width):
                for c in range(channels):
                    logits = self.forward(x, z)
                    x[:, c, i, j] = self.draw_level(logits, c, i, j, uniforms[:, c, i, j])
        return x

    def draw_level(self, logits: torch.Tensor, c: int, i: int, j: int, uniform: torch.Tensor) -> torch.Tensor:
        """Pick the level of sub-pixel (c, i, j) from full logits by inverting its CDF at `uniform` (B,)."""
        if self.output_type is OutputType.BERNOULLI:
            return (uniform < torch.sigmoid(logits[:, c, i, j])).float()
        return levels_from_uniform(logits[:, c, :, i, j], uniform)


def levels_from_uniform(logits: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """Invert the categorical CDF: logits (B, L), uniform (B,) -> levels (B,) as floats."""
    cdf = torch.softmax(logits.double(), dim=-1).cumsum(-1)
    level = (cdf <= uniform.double().unsqueeze(-1)).sum(-1).clamp(max=logits.shape[-1] - 1)
    return level.float()
