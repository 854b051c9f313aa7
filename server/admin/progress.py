"""Progress of a training run, read from the files `acn train` writes into its run directory."""

import json
from pathlib import Path
from typing import Any

METRICS_NAME = "metrics.jsonl"  # training.train.METRICS_NAME
CONFIG_NAME = "config.json"
RECENT_METRICS = 200

# Share of the whole run that each step takes, for one progress number over all of them.
STAGE_SPANS = {"train": (0.0, 0.8), "evaluate": (0.8, 0.9), "export": (0.9, 0.98), "swap": (0.98, 1.0)}


def read_metrics(run_dir: Path, limit: int = RECENT_METRICS) -> list[dict[str, Any]]:
    """Return the last rows of metrics.jsonl; a half-written last line is skipped."""
    try:
        lines = (run_dir / METRICS_NAME).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    rows = []
    for line in lines[-limit:]:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def training_fraction(run_dir: Path, rows: list[dict[str, Any]]) -> float:
    """Return the finished share of training: the larger of steps done and budget minutes used."""
    if not rows:
        return 0.0
    try:
        config = json.loads((run_dir / CONFIG_NAME).read_text(encoding="utf-8"))["config"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return 0.0
    last = rows[-1]
    fractions = [0.0]
    if config.get("steps"):
        fractions.append(last.get("step", 0) / config["steps"])
    if config.get("minutes"):
        fractions.append(last.get("elapsed_seconds", 0.0) / (60 * config["minutes"]))
    return min(1.0, max(fractions))


def overall_progress(stage: str, fraction: float) -> float:
    start, end = STAGE_SPANS[stage]
    return start + (end - start) * min(1.0, max(0.0, fraction))
