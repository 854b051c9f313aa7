"""Model work of the routes, run in worker threads on one snapshot: encode, search, draw z and decode."""

import threading
from collections.abc import Callable

import numpy as np
import torch

from server.metrics import Metrics
from server.registry import Snapshot
from training.models.cached_sampler import SamplingCancelled, sample_cached

RowCallback = Callable[[int], None]

__all__ = ["SamplingCancelled", "decode_latents", "draw_from_prior", "encode", "search"]


def encode(snapshot: Snapshot, model_inputs: np.ndarray, metrics: Metrics) -> np.ndarray:
    """Encode uint8 levels (N, C, H, W) into mean codes (N, D) float32."""
    with metrics.time_inference("encode"):
        return snapshot.bundle.encode(model_inputs)


def search(
    snapshot: Snapshot, codes: np.ndarray, k: int, exclude_ids: list[int | None], metrics: Metrics
) -> tuple[np.ndarray, np.ndarray]:
    """Return ids (B, k) and squared L2 distances (B, k), padded with -1 and inf, of the nearest indexed codes."""
    with metrics.time_inference("search"):
        return snapshot.bundle.neighbours(codes, k, exclude_ids)


def draw_from_prior(snapshot: Snapshot, codes: np.ndarray, rng: np.random.Generator, metrics: Metrics) -> np.ndarray:
    """Draw z (N, D) from p(z|c): per dimension a component by the softmax weights, then that Gaussian."""
    with metrics.time_inference("prior"):
        logits, means, scales = snapshot.bundle.prior_params(codes)  # each (N, D, M)
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    cumulative = np.cumsum(weights, axis=-1)  # (N, D, M)
    uniforms = rng.random(cumulative.shape[:2])[..., np.newaxis]  # (N, D, 1)
    # The last component also takes uniforms above a cumulative sum that rounding left just below 1.
    components = np.minimum((uniforms > cumulative).sum(axis=-1), weights.shape[-1] - 1)  # (N, D)
    chosen_means = np.take_along_axis(means, components[..., np.newaxis], axis=-1)[..., 0]  # (N, D)
    chosen_scales = np.take_along_axis(scales, components[..., np.newaxis], axis=-1)[..., 0]  # (N, D)
    return (chosen_means + chosen_scales * rng.standard_normal(chosen_means.shape)).astype(np.float32)


def decode_latents(
    snapshot: Snapshot,
    z: np.ndarray,
    rng: np.random.Generator,
    metrics: Metrics,
    cancel: threading.Event | None = None,
    on_row: RowCallback | None = None,
) -> np.ndarray:
    """Sample images from r(x|z) for z (N, D); return uint8 levels (N, C, H, W).

    Sampling runs row by row; when cancel is set, it stops after the current row and raises
    SamplingCancelled. on_row(i) is called after each finished row i.
    """
    bundle = snapshot.bundle
    device = bundle.device
    shape = (len(z), *bundle.image_shape)
    uniforms = torch.from_numpy(rng.random(shape, dtype=np.float32)).to(device)  # (N, C, H, W) in [0, 1)
    latents = torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32)).to(device)  # (N, D)

    def row_finished(row: int, _images: torch.Tensor) -> bool:
        metrics.sampled_rows.inc()
        if on_row is not None:
            on_row(row)
        return not (cancel is not None and cancel.is_set())

    with metrics.sampling(), metrics.time_inference("decode"):
        images = sample_cached(bundle.decoder, latents, uniforms, on_row=row_finished)
    return images.to(torch.uint8).cpu().numpy()
