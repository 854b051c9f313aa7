"""Checkpoints: weights, Polyak averages, optimizer, code table, step, random state and the full config."""

from pathlib import Path
from typing import Any

import torch

from training.config import TrainConfig
from training.fileio import atomic_write
from training.models import ACN

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable or written by an incompatible version."""


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write state atomically: a crash mid-write leaves the previous checkpoint in place."""
    state = {"format_version": CHECKPOINT_FORMAT, **state}
    atomic_write(path, lambda temporary: torch.save(state, temporary))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint without running pickled code (weights_only)."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found; train a run first with `acn train --out DIR`")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or truncated files
        raise CheckpointError(f"checkpoint {path} could not be read ({error}); it may be truncated") from error
    version = state.get("format_version") if isinstance(state, dict) else None
    if version != CHECKPOINT_FORMAT:
        raise CheckpointError(f"checkpoint {path} has format version {version!r}; this acn reads {CHECKPOINT_FORMAT}")
    return state


def load_averaged_model(path: Path) -> tuple[ACN, TrainConfig, dict[str, Any]]:
    """Rebuild the model from a checkpoint alone and load its Polyak-averaged weights, in eval mode."""
    state = load_checkpoint(path)
    config = TrainConfig.from_dict(state["config"])
    model = ACN(config.model)
    model.load_state_dict(state["averaged_model"])
    model.eval()
    return model, config, state
