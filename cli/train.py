"""`acn train`: train a run from the flags of training.train_options; the resolved config goes into the run directory."""

import argparse
import enum
import sys
from typing import Any

from training.config import TrainConfig
from training.data import DatasetError, load_dataset
from training.train import Trainer
from training.train_options import add_arguments, override_values, resolve_config

__all__ = ["add_arguments", "run"]


def _resumed_config(args: argparse.Namespace) -> TrainConfig:
    from training.checkpoint import load_checkpoint

    state = load_checkpoint(args.out / "checkpoint.pt")
    saved = state["config"]
    # Options that repeat the saved value are harmless; only changes are rejected.
    changed = {key for key, value in override_values(args).items() if not _repeats_saved(key, value, saved)}
    changed |= {key for key in ("data", "seed") if getattr(args, key) is not None and getattr(args, key) != saved[key]}
    if changed:
        flags = ", ".join(sorted("--" + key.removeprefix("model.").replace("_", "-") for key in changed))
        raise ValueError(
            f"--resume continues the saved config; drop {flags} (only --steps, --minutes and --device may change)"
        )
    config = TrainConfig.from_dict(state["config"])
    if args.steps is not None:
        config.steps, config.minutes = args.steps, None
    if args.minutes is not None:
        config.minutes = state["elapsed_seconds"] / 60 + args.minutes
    if args.device is not None:
        config.device = args.device
    return config


def _repeats_saved(key: str, value: Any, saved: dict[str, Any]) -> bool:
    """Tell whether an override flag's value equals the saved config's value for it."""
    section, name = (saved["model"], key.removeprefix("model.")) if key.startswith("model.") else (saved, key)
    current = section.get(name)
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, tuple):
        value = list(value)
    return value == current


def _check_out_is_free(args: argparse.Namespace) -> None:
    """Raise ValueError when --out contains a checkpoint and --overwrite is not given."""
    checkpoint = args.out / "checkpoint.pt"
    if checkpoint.exists() and not args.overwrite:
        raise ValueError(
            f"{args.out} already contains a training run ({checkpoint.name}); continue it with --resume, "
            f"start a new one with another --out, or pass --overwrite to replace it"
        )


def run(args: argparse.Namespace) -> int:
    try:
        if not args.resume:
            _check_out_is_free(args)
        config = _resumed_config(args) if args.resume else resolve_config(args)
        dataset = load_dataset(config.data, image_size=config.model.image_size, binarize=config.binarize)
        trainer = Trainer(config, dataset, args.out, resume=args.resume)
    except (ValueError, DatasetError) as error:
        print(f"acn train: {error}", file=sys.stderr)
        return 2
    print(
        f"training {config.model.kind.value} ({config.preset} preset) on {dataset.name}: "
        f"{len(trainer.images)} training images, "
        f"{config.model.output_type.value} pixels, run directory {args.out}",
        file=sys.stderr,
    )
    summary = trainer.run(show_progress=not args.quiet)
    print(
        f"finished at step {summary['step']} after {summary['elapsed_seconds'] / 60:.1f} min; "
        f"validation reconstruction {summary['validation_reconstruction']:.2f} nats"
        + (f", KL(K=1) {summary['validation_kl_k1']:.2f} nats" if "validation_kl_k1" in summary else ""),
        file=sys.stderr,
    )
    return 0
