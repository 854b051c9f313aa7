"""Evaluate trained runs end to end: prior, costs, probes, figures and reports."""

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from training.data import ImageDataset, Split
from training.encoding import encode_images, encoder_images
from training.evaluate.costs import estimate_kl_costs, estimate_reconstruction_cost
from training.evaluate.montecarlo import SamplingPlan
from training.evaluate.figures import (
    NEIGHBOUR_QUERIES,
    NEIGHBOURS_SHOWN,
    nearest_rows,
    plot_code_pca,
    plot_cost_bars,
    plot_neighbours,
)
from training.evaluate.prior import PriorData, fit_run_prior
from training.evaluate.probes import Features, ProbeScores, probe_scores
from training.evaluate.report import REPORT_FORMAT, cost_fields, write_markdown, write_run_report
from training.evaluate.runs import TrainedRun, load_run
from training.models import ModelKind

logger = logging.getLogger(__name__)

COMPARISON_FIGURE = "costs.png"
_NOTES = {
    ModelKind.ACN: (
        "kK averages the KL over the K nearest other test codes. The greedy tour starts at test image 0 and "
        "always hops to the nearest unvisited test code; image 0 has no predecessor and is charged its "
        "unconditional KL."
    ),
    ModelKind.VAE: "Every KL field is the KL against the model's own learned prior, which ignores neighbours.",
    ModelKind.PIXELCNN: "The decoder alone has no code, so its reconstruction cost is its total cost.",
}


@dataclasses.dataclass(frozen=True)
class EvaluationOptions:
    """Settings shared by every run of one `acn evaluate`."""

    seed: int = 0  # seeds the prior fit and every sample of z
    target_standard_error: float = 0.05  # nats per image, for every sampled cost
    max_samples: int = 4096  # samples of z per test image for one cost, even above the target error
    prior_data: PriorData = PriorData.SAMPLES  # what the unconditional prior p(z) is fitted to
    device: str = "cpu"
    show_progress: bool = False


@dataclasses.dataclass(frozen=True)
class _Codes:
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray


def _encode_splits(run: TrainedRun) -> _Codes | None:
    if not run.config.model.has_encoder:
        return None
    dataset = run.dataset
    splits = (Split.TRAIN, Split.VALIDATION, Split.TEST)
    return _Codes(*(encode_images(run.model, encoder_images(dataset, split, run.config.model)) for split in splits))


def _probes(dataset: ImageDataset, codes: _Codes | None, show_progress: bool) -> ProbeScores:
    train_images, train_labels = dataset.part(Split.TRAIN)
    test_images, test_labels = dataset.part(Split.TEST)
    if train_labels is None or test_labels is None:
        reason = f"the data set {dataset.name!r} has no labels"
        empty = ProbeScores(dict.fromkeys(["codes", "pixels", "pca"]), dict.fromkeys(["codes", "pixels"]), None, {})
        return dataclasses.replace(empty, unavailable={"linear_probe": reason, "knn_accuracy": reason})
    # The pixel features are the images the model reads: binarized for binarized data.
    pixels = Features(
        train_images.reshape(len(train_images), -1).astype(np.float32),
        test_images.reshape(len(test_images), -1).astype(np.float32),
        train_labels,
        test_labels,
    )
    code_features = None if codes is None else Features(codes.train, codes.test, train_labels, test_labels)
    return probe_scores(code_features, pixels, show_progress)


def _draw_figures(run: TrainedRun, figure_dir: Path, codes: _Codes | None) -> list[str]:
    """Draw the per-run figures into figure_dir and return their file names."""
    if codes is None:
        return []
    dataset = run.dataset
    train_images, _ = dataset.part(Split.TRAIN)
    test_images, test_labels = dataset.part(Split.TEST)
    title = f"{run.name}: test codes, first two principal components"
    plot_code_pca(figure_dir / "codes_pca.png", codes.test, test_labels, dataset.class_names, title)
    queries = np.unique(np.linspace(0, len(test_images) - 1, min(NEIGHBOUR_QUERIES, len(test_images))).astype(np.int64))
    by_code = nearest_rows(codes.train, codes.test[queries], NEIGHBOURS_SHOWN)  # (Q, k)
    by_pixels = nearest_rows(train_images.astype(np.float32), test_images[queries].astype(np.float32), NEIGHBOURS_SHOWN)
    plot_neighbours(
        figure_dir / "neighbours.png",
        test_images[queries],
        train_images[by_code],
        train_images[by_pixels],
        run.config.model.output_type.levels,
        f"{run.name}: nearest training images of test images {', '.join(str(index) for index in queries)}",
    )
    return ["codes_pca.png", "neighbours.png"]


def evaluate_run(run: TrainedRun, report_dir: Path, options: EvaluationOptions) -> dict[str, Any]:
    """Evaluate one run, write its report.json into report_dir/<run name>/ and the run directory, and return it."""
    model, dataset, kind = run.model, run.dataset, run.config.model.kind
    test_images, _ = dataset.part(Split.TEST)
    generator = torch.Generator(device=run.device).manual_seed(options.seed)
    logger.info(
        "evaluating %s (%s, step %d) on %d test images of %s",
        run.name, kind.value, run.step, len(test_images), dataset.name,
    )  # fmt: skip

    codes = _encode_splits(run)
    prior, prior_summary = None, None
    if codes is not None:
        prior, scores = fit_run_prior(run, codes.train, codes.validation, options.seed, options.prior_data)
        log_likelihoods = {str(components): score for components, score in scores.items()}
        prior_summary = {
            "fitted_to": PriorData(options.prior_data).value,
            "components": prior.components,
            "validation_log_likelihood": log_likelihoods,
        }

    test_codes = None if codes is None else codes.test
    sampling = SamplingPlan(target_standard_error=options.target_standard_error, max_samples=options.max_samples)
    common = {"sampling": sampling, "show_progress": options.show_progress}
    kl = estimate_kl_costs(model, test_codes, prior, generator, **common)
    reconstruction = estimate_reconstruction_cost(model, test_images, test_codes, generator, **common)
    probes = _probes(dataset, codes, options.show_progress)
    figures = _draw_figures(run, Path(report_dir) / run.name, codes)

    report = {
        "format_version": REPORT_FORMAT,
        "run": run.name,
        "run_dir": str(run.run_dir.resolve()),
        "kind": kind.value,
        "dataset": dataset.name,
        "step": run.step,
        "test_images": len(test_images),
        "seed": options.seed,
        "units": "nats per image",
        "target_standard_error": options.target_standard_error,
        "max_samples_per_image": options.max_samples,
        **cost_fields(kl, reconstruction, has_code=codes is not None),
        "linear_probe": probes.linear_probe,
        "knn_accuracy": probes.knn_accuracy,
        "pca_components": probes.pca_components,
        "unconditional_prior": prior_summary,
        "figures": figures,
        "unavailable": {**{f"kl.{field}": reason for field, reason in kl.unavailable.items()}, **probes.unavailable},
        "notes": _NOTES[kind],
    }
    write_run_report(report, report_dir, run.run_dir)
    return report


def evaluate_runs(run_dirs: list[Path], report_dir: Path, options: EvaluationOptions) -> list[dict[str, Any]]:
    """Evaluate every run, then write report.md comparing them and, for several runs, the cost bar chart."""
    names = [Path(run_dir).resolve().name for run_dir in run_dirs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(
            f"several run directories are named {', '.join(repeated)}, and their reports would overwrite each "
            "other in the report directory. Rename or copy them to distinct names"
        )
    reports = [evaluate_run(load_run(run_dir, options.device), report_dir, options) for run_dir in run_dirs]
    comparison = None
    if len(reports) > 1:
        plot_cost_bars(Path(report_dir) / COMPARISON_FIGURE, reports)
        comparison = COMPARISON_FIGURE
    write_markdown(report_dir, reports, comparison)
    return reports
