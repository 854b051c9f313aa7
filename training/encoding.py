"""Encode image arrays with a trained model in batches."""

import numpy as np
import torch

from training.data import ImageDataset, Split
from training.models import ACN, ModelConfig


def encoder_images(dataset: ImageDataset, split: Split, config: ModelConfig) -> np.ndarray:
    """Return one split's images (N, C, H, W) as the encoder reads them: grey levels or the modelled pixels."""
    index = dataset.indices[Split(split)]
    # Data with 256 levels is not binarized, so its raw images are its images.
    return dataset.raw_images[index] if config.encoder_reads_grey else dataset.images[index]


@torch.no_grad()
def encode_images(model: ACN, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Return the codes (N, D) float32 of images (N, C, H, W) given in the encoder's levels (see ACN.encode)."""
    model.eval()
    device = next(model.parameters()).device
    codes = [
        model.encode(torch.from_numpy(np.ascontiguousarray(images[start : start + batch_size])).to(device).float())
        for start in range(0, len(images), batch_size)
    ]
    return torch.cat(codes).cpu().numpy().astype(np.float32)
