"""VGG-style convolutional encoder: image -> code c, the mean of the unit-variance q(z|x)."""

import torch
from torch import nn

from training.models.config import ModelConfig


class Encoder(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = config.image_channels
        size = config.image_size
        for out_channels, stride in zip(config.encoder_channels, config.encoder_strides):
            layers += [nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1), nn.ReLU()]
            in_channels = out_channels
            size = (size - 1) // stride + 1
        self.features = nn.Sequential(*layers)
        self.to_code = nn.Linear(in_channels * size * size, config.code_size)
        self.code_scale = config.code_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map images scaled to [-1, 1], (B, C, H, W), to codes (B, D)."""
        h = self.features(x)  # (B, C_last, H', W')
        return self.to_code(h.flatten(1)) * self.code_scale  # (B, D)
