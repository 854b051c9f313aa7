"""Monte Carlo estimates of a test-set mean cost, sampled until their standard error is small enough."""

import dataclasses
import logging
import math
from collections.abc import Callable

import numpy as np
import torch
from tqdm import tqdm

logger = logging.getLogger(__name__)

# draw(ids, samples) returns `samples` independent draws of the cost of each image in ids: (samples, len(ids)).
Draw = Callable[[np.ndarray, int], torch.Tensor]


@dataclasses.dataclass(frozen=True)
class MonteCarloEstimate:
    """A test-set mean cost in nats per image with the Monte Carlo standard error of that mean."""

    mean: float
    standard_error: float
    samples_per_image: int
    per_image: np.ndarray  # float64 (N,): each image's sample mean


@dataclasses.dataclass(frozen=True)
class SamplingPlan:
    """How many samples to draw per image and in what pieces."""

    target_standard_error: float = 0.05
    first_samples: int = 16  # samples per image in the first round, at least 2 to measure the spread
    max_samples: int = 4096  # maximum samples per image; the estimate stops there even above the target error
    batch_size: int = 256  # images per draw call
    chunk_samples: int = 16  # samples per image per draw call

    def __post_init__(self) -> None:
        if self.target_standard_error <= 0:
            raise ValueError(f"target standard error must be positive, got {self.target_standard_error}")
        if self.first_samples < 2:
            raise ValueError(f"first_samples must be at least 2 to measure the spread, got {self.first_samples}")
        if self.max_samples < self.first_samples:
            raise ValueError(f"max_samples {self.max_samples} is below first_samples {self.first_samples}")


class _RunningMoments:
    """Per-image sample mean and sum of squared deviations, merged chunk by chunk by the pairwise update."""

    def __init__(self, count: int) -> None:
        self.samples = 0
        self.mean = np.zeros(count)
        self.squared_deviations = np.zeros(count)

    def add(self, ids: np.ndarray, values: np.ndarray, samples_before: int) -> None:
        """Merge values (S, n) for images ids, which had samples_before samples each until now."""
        chunk = values.shape[0]
        chunk_mean = values.mean(0)
        delta = chunk_mean - self.mean[ids]
        total = samples_before + chunk
        self.mean[ids] += delta * chunk / total
        self.squared_deviations[ids] += ((values - chunk_mean) ** 2).sum(0) + delta**2 * samples_before * chunk / total

    def standard_error(self) -> tuple[float, float]:
        """Return the standard error of the mean over images and the sum of the per-image variances."""
        variance_sum = float((self.squared_deviations / (self.samples - 1)).sum())
        return math.sqrt(variance_sum / self.samples) / len(self.mean), variance_sum


def estimate_mean(
    draw: Draw, count: int, plan: SamplingPlan, label: str, show_progress: bool = False
) -> MonteCarloEstimate:
    """Estimate the mean over `count` images of a sampled per-image cost.

    The images are fixed, so the only noise is the sampling: the standard error is
    sqrt(sum_i var_i / S) / N for N images, S samples each and per-image sample variances var_i. Rounds
    of samples are added, each sized from the variance seen so far, until that error is below the plan's
    target or every image has max_samples samples. In the second case a warning is logged and the
    estimate keeps the larger error.
    """
    if count < 1:
        raise ValueError(f"cannot estimate {label} over {count} images; the test split is empty")
    moments = _RunningMoments(count)
    round_samples = plan.first_samples
    progress = tqdm(
        total=count * round_samples, desc=label, unit="sample", unit_scale=True, disable=not show_progress, leave=False
    )
    while True:
        _sample_round(draw, moments, round_samples, plan, progress)
        standard_error, variance_sum = moments.standard_error()
        if standard_error < plan.target_standard_error or moments.samples >= plan.max_samples:
            break
        needed = variance_sum / (count * plan.target_standard_error) ** 2  # samples per image for the target
        # Aim 10% above the sample count computed from the variance, so one more round usually suffices.
        more = max(plan.first_samples, math.ceil(1.1 * needed) - moments.samples)
        round_samples = min(plan.max_samples - moments.samples, more)
        progress.total += count * round_samples
        progress.refresh()
    progress.close()
    if standard_error >= plan.target_standard_error:
        logger.warning(
            "%s: standard error %.3f nats is above the target %.3f after the maximum of %d samples per image",
            label, standard_error, plan.target_standard_error, plan.max_samples,
        )  # fmt: skip
    return MonteCarloEstimate(float(moments.mean.mean()), standard_error, moments.samples, moments.mean.copy())


def _sample_round(draw: Draw, moments: _RunningMoments, round_samples: int, plan: SamplingPlan, progress: tqdm) -> None:
    """Draw round_samples more samples for every image, batch by batch and chunk by chunk."""
    count = len(moments.mean)
    for start in range(0, count, plan.batch_size):
        ids = np.arange(start, min(start + plan.batch_size, count))
        done = 0
        while done < round_samples:
            chunk = min(plan.chunk_samples, round_samples - done)
            values = draw(ids, chunk).detach().double().cpu().numpy()  # (chunk, n)
            if values.shape != (chunk, len(ids)):
                raise ValueError(f"draw returned shape {values.shape} for {chunk} samples of {len(ids)} images")
            moments.add(ids, values, moments.samples + done)
            done += chunk
            progress.update(chunk * len(ids))
    moments.samples += round_samples
