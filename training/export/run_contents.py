"""Run contents that export reads: the averaged model, its data, the unconditional prior and the report."""

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from training.checkpoint import CHECKPOINT_NAME, load_averaged_model
from training.config import TrainConfig
from training.data import DatasetError, ImageDataset, Split, load_dataset
from training.encoding import encode_images, encoder_images
from training.export.errors import ExportError
from training.models import ACN
from training.unconditional import (
    PRIOR_NAME,
    UnconditionalPrior,
    fit_unconditional_prior,
    load_unconditional_prior,
    save_unconditional_prior,
)

logger = logging.getLogger(__name__)

REPORT_NAME = "report.json"  # written by `acn evaluate`


@dataclasses.dataclass(frozen=True, eq=False)
class RunContents:
    """A trained run, loaded for export."""

    run_dir: Path
    model: ACN  # Polyak-averaged weights, eval mode, on the CPU
    config: TrainConfig
    checkpoint_step: int
    dataset: ImageDataset


def load_run(run_dir: Path) -> RunContents:
    """Load the averaged model and reload the run's data set, rejecting runs that export cannot serve."""
    model, config, state = load_averaged_model(run_dir)
    if not config.model.has_encoder:
        raise ExportError(
            f"run {run_dir} trained a {config.model.kind.value} model, which has no encoder and gives no codes "
            "to search; export an acn or vae run"
        )
    try:
        dataset = load_dataset(config.data, image_size=config.model.image_size, binarize=config.binarize)
    except DatasetError as error:
        raise ExportError(f"the data set of run {run_dir} could not be reloaded: {error}") from error
    _check_same_data(run_dir, config, state, dataset)
    return RunContents(run_dir, model, config, int(state["step"]), dataset)


def _check_same_data(run_dir: Path, config: TrainConfig, state: dict[str, Any], dataset: ImageDataset) -> None:
    """Reject a data set that changed since training, because its split and images would no longer match."""
    trained_size = state.get("dataset", {}).get("size")
    if trained_size != len(dataset.images):
        raise ExportError(
            f"data set {config.data!r} now has {len(dataset.images)} images but run {run_dir} was trained on "
            f"{trained_size}; restore the original data or export with --images"
        )
    expected_shape = (config.model.image_channels, config.model.image_size, config.model.image_size)
    if dataset.image_shape != expected_shape or dataset.output_type is not config.model.output_type:
        raise ExportError(
            f"data set {config.data!r} now loads as {dataset.output_type.value} {dataset.image_shape} images but "
            f"run {run_dir} was trained on {config.model.output_type.value} {expected_shape}; restore the original data"
        )


def ensure_unconditional_prior(run: RunContents) -> UnconditionalPrior:
    """Load the run's unconditional prior, or fit it to the training and validation codes and save it in the run.

    A saved prior older than the checkpoint describes earlier weights, so it is fitted again, as
    `acn evaluate` does.
    """
    path = run.run_dir / PRIOR_NAME
    if path.is_file() and not _is_older_than_checkpoint(path, run.run_dir):
        prior = load_unconditional_prior(path)
        if prior.means.shape[1] != run.config.model.code_size:
            raise ExportError(
                f"{path} is over {prior.means.shape[1]}-dimensional codes but the model's codes have "
                f"{run.config.model.code_size}; delete the file so that export fits it again"
            )
        return prior

    if path.is_file():
        logger.info("%s is older than the checkpoint, so it is fitted again", path)
    logger.info("fitting the unconditional prior of %s to its training and validation codes", run.run_dir)
    train_codes = encode_images(run.model, encoder_images(run.dataset, Split.TRAIN, run.config.model))
    validation_codes = encode_images(run.model, encoder_images(run.dataset, Split.VALIDATION, run.config.model))
    prior, scores = fit_unconditional_prior(train_codes, validation_codes, seed=run.config.seed)
    logger.info("chose %d components; validation log-likelihood by component count: %s", prior.components, scores)
    save_unconditional_prior(path, prior)
    return prior


def read_report(run_dir: Path) -> dict[str, Any] | None:
    """Return the run's evaluation report (report.json from `acn evaluate`), or None when it has none."""
    path = run_dir / REPORT_NAME
    if not path.is_file():
        return None
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ExportError(f"{path} is not valid JSON ({error}); run `acn evaluate` again or delete it") from error
    if not isinstance(report, dict):
        raise ExportError(f"{path} must contain a JSON object, got {type(report).__name__}; run `acn evaluate` again")
    if _is_older_than_checkpoint(path, run_dir):
        logger.warning("%s is older than the checkpoint, so its numbers may describe earlier weights; run `acn evaluate` again", path)
    return report


def _is_older_than_checkpoint(path: Path, run_dir: Path) -> bool:
    """Tell whether a file derived from the model predates the checkpoint, as after resumed training."""
    checkpoint = run_dir / CHECKPOINT_NAME
    return checkpoint.is_file() and path.stat().st_mtime < checkpoint.stat().st_mtime
