"""Fit, save and reload a run's unconditional prior p(z), a Gaussian mixture fitted around its training codes."""

import enum
import logging

import numpy as np

from training.data import Split
from training.encoding import encode_images, encoder_images
from training.evaluate.runs import TrainedRun
from training.unconditional import (
    PRIOR_NAME,
    UnconditionalPrior,
    fit_unconditional_prior,
    load_unconditional_prior,
    save_unconditional_prior,
)

logger = logging.getLogger(__name__)


class PriorData(str, enum.Enum):
    """Data that the mixture p(z) is fitted to."""

    # z ~ q(z|x) = N(c, I) around each code: the "samples drawn from the codes" of the ACN paper, section 3.1.
    # This is the aggregate posterior that the unconditional KL compares q(z|x) with.
    SAMPLES = "samples"
    # The mean codes c alone. Where codes vary much less than the unit posterior noise in some direction,
    # the fitted covariance there is tiny, and the unconditional KL can grow by thousands of nats.
    CODES = "codes"


def prior_fit_points(codes: np.ndarray, data: PriorData, rng: np.random.Generator) -> np.ndarray:
    """Return the points (N, D) that p(z) is fitted to: the codes, or one z ~ q(z|x) around each code.

    One sample per code keeps the EM fit as fast as a fit to the codes themselves.
    """
    if PriorData(data) is PriorData.CODES:
        return codes
    return (codes + rng.standard_normal(codes.shape)).astype(np.float32)


def fit_run_prior(
    run: TrainedRun,
    train_codes: np.ndarray,
    validation_codes: np.ndarray,
    seed: int = 0,
    data: PriorData = PriorData.SAMPLES,
) -> tuple[UnconditionalPrior, dict[int, float]]:
    """Fit p(z) to the training points that `data` selects, choose the component count on validation, and save p(z).

    Returns the prior and the mean validation log-likelihood (nats per point) of each component count tried.
    """
    rng = np.random.default_rng(seed)
    train_points = prior_fit_points(train_codes, data, rng)
    validation_points = prior_fit_points(validation_codes, data, rng)
    logger.info(
        "fitting the unconditional prior of %s to %d training points (%s)",
        run.name, len(train_points), PriorData(data).value,
    )  # fmt: skip
    prior, scores = fit_unconditional_prior(train_points, validation_points, seed=seed)
    save_unconditional_prior(run.run_dir / PRIOR_NAME, prior)
    logger.info("saved a %d-component prior to %s", prior.components, run.run_dir / PRIOR_NAME)
    return prior, scores


def load_or_fit_run_prior(run: TrainedRun, seed: int = 0, data: PriorData = PriorData.SAMPLES) -> UnconditionalPrior:
    """Load the run's saved p(z), or fit and save it when it is missing or older than the checkpoint."""
    path = run.run_dir / PRIOR_NAME
    if path.is_file() and path.stat().st_mtime >= run.checkpoint_path.stat().st_mtime:
        return load_unconditional_prior(path)
    if path.is_file():
        logger.info("%s is older than the checkpoint, so it is fitted again", path)
    dataset = run.dataset
    train_codes = encode_images(run.model, encoder_images(dataset, Split.TRAIN, run.config.model))
    validation_codes = encode_images(run.model, encoder_images(dataset, Split.VALIDATION, run.config.model))
    prior, _ = fit_run_prior(run, train_codes, validation_codes, seed, data)
    return prior
