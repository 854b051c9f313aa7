"""Encode image arrays with a trained model in batches."""

import numpy as np
import torch

from training.models import ACN


@torch.no_grad()
def encode_images(model: ACN, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Return the codes (N, D) float32 of images (N, C, H, W) given as pixel levels."""
    model.eval()
    device = next(model.parameters()).device
    codes = [
        model.encode(torch.from_numpy(np.ascontiguousarray(images[start : start + batch_size])).to(device).float())
        for start in range(0, len(images), batch_size)
    ]
    return torch.cat(codes).cpu().numpy().astype(np.float32)
