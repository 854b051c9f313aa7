"""The evaluation report: report.json per run and report.md comparing runs."""

import math
from pathlib import Path
from typing import Any

from training.evaluate.costs import KL_FIELDS, KLCosts
from training.evaluate.montecarlo import MonteCarloEstimate
from training.fileio import atomic_write_json, atomic_write_text

REPORT_NAME = "report.json"
MARKDOWN_NAME = "report.md"
REPORT_FORMAT = 1

_KL_HEADINGS = {
    "k1": "KL K=1",
    "k5": "KL K=5",
    "k10": "KL K=10",
    "greedy_tour": "KL greedy tour",
    "unconditional": "KL unconditional",
}


def _combined_error(*errors: float) -> float:
    """Standard error of a sum of independently sampled estimates."""
    return math.sqrt(sum(error**2 for error in errors))


def cost_fields(kl: KLCosts, reconstruction: MonteCarloEstimate, has_code: bool) -> dict[str, Any]:
    """Return the report's cost fields in nats per image, each with its Monte Carlo standard error.

    ordered = greedy-tour KL + reconstruction and unordered = unconditional KL + reconstruction. A
    model without a code has only the reconstruction cost, which is then its unordered total. It has
    no ordered cost, because there are no codes to order.
    """
    estimates = kl.estimates

    def by_field(attribute: str) -> dict[str, Any]:
        return {
            field: None if estimates[field] is None else getattr(estimates[field], attribute) for field in KL_FIELDS
        }

    fields: dict[str, Any] = {
        "kl": by_field("mean"),
        "kl_standard_error": by_field("standard_error"),
        "kl_samples_per_image": by_field("samples_per_image"),
        "reconstruction": reconstruction.mean,
        "reconstruction_standard_error": reconstruction.standard_error,
        "reconstruction_samples_per_image": reconstruction.samples_per_image,
    }
    for total, part in (("ordered", "greedy_tour"), ("unordered", "unconditional")):
        estimate = estimates[part]
        if estimate is not None:
            fields[total] = estimate.mean + reconstruction.mean
            fields[f"{total}_standard_error"] = _combined_error(estimate.standard_error, reconstruction.standard_error)
        elif not has_code and total == "unordered":
            fields[total] = reconstruction.mean
            fields[f"{total}_standard_error"] = reconstruction.standard_error
        else:
            fields[total] = fields[f"{total}_standard_error"] = None
    return fields


def write_run_report(report: dict[str, Any], report_dir: Path, run_dir: Path) -> None:
    """Write report.json into report_dir/<run name>/ and into the run directory, atomically."""
    atomic_write_json(Path(report_dir) / report["run"] / REPORT_NAME, report)
    atomic_write_json(Path(run_dir) / REPORT_NAME, report)


def _number(value: float | None, error: float | None = None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}" if error is None else f"{value:.2f} ± {error:.2f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _table(headings: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headings) + " |", "|" + "---|" * len(headings)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _cost_row(report: dict[str, Any]) -> list[str]:
    kl, errors = report["kl"], report["kl_standard_error"]
    return [
        report["run"], report["kind"], report["dataset"], str(report["step"]), str(report["test_images"]),
        *(_number(kl[field], errors[field]) for field in KL_FIELDS),
        _number(report["reconstruction"], report["reconstruction_standard_error"]),
        _number(report["ordered"], report["ordered_standard_error"]),
        _number(report["unordered"], report["unordered_standard_error"]),
    ]  # fmt: skip


def _probe_row(report: dict[str, Any]) -> list[str]:
    linear, knn = report["linear_probe"], report["knn_accuracy"]
    neighbours = [
        _percent(None if knn[source] is None else knn[source][field])
        for source in ("codes", "pixels")
        for field in ("k1", "k5")
    ]
    return [report["run"], *(_percent(linear[source]) for source in ("codes", "pixels", "pca")), *neighbours]


_INTRODUCTION = [
    "# ACN evaluation",
    "",
    "Costs are in nats per test image, and ± gives the Monte Carlo standard error of each estimate.",
    "The test set is compressed as its own tour, with every neighbour drawn from the test codes.",
    "KL K=k averages the KL over the k nearest other test codes. The greedy tour starts at test image 0,",
    "which is charged its unconditional KL. The ordered cost is greedy tour KL + reconstruction, and the",
    "unordered cost is unconditional KL + reconstruction.",
]
_COST_HEADINGS = [
    "run", "kind", "data", "step", "test images", *_KL_HEADINGS.values(), "reconstruction", "ordered", "unordered",
]  # fmt: skip
_PROBE_HEADINGS = [
    "run", "linear probe: codes", "linear probe: pixels", "linear probe: PCA of pixels",
    "kNN codes k=1", "kNN codes k=5", "kNN pixels k=1", "kNN pixels k=5",
]  # fmt: skip


def render_markdown(reports: list[dict[str, Any]], comparison_figure: str | None) -> str:
    """Return report.md: tables of costs and probe accuracies with one row per run, then the figures."""
    lines = [*_INTRODUCTION, "", "## Compression costs", ""]
    lines += _table(_COST_HEADINGS, [_cost_row(report) for report in reports])

    lines += ["", "## Label information", ""]
    lines += ["Classifiers are trained on the training split and scored on the test split.", ""]
    lines += _table(_PROBE_HEADINGS, [_probe_row(report) for report in reports])
    lines += _unavailable_lines(reports)

    lines += ["", "## Figures", ""]
    if comparison_figure is not None:
        lines += [f"![compression costs per run]({comparison_figure})", ""]
    for report in reports:
        figures = [f"![{name}]({report['run']}/{name})" for name in report["figures"]]
        lines += [f"### {report['run']}", "", *(figures or ["no figures for this run"]), ""]
    return "\n".join(lines)


def _unavailable_lines(reports: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"- {report['run']}: {field}: {reason}"
        for report in reports
        for field, reason in sorted(report["unavailable"].items())
    ]
    return ["", "## Not available", "", *lines] if lines else []


def write_markdown(report_dir: Path, reports: list[dict[str, Any]], comparison_figure: str | None) -> None:
    atomic_write_text(Path(report_dir) / MARKDOWN_NAME, render_markdown(reports, comparison_figure))
