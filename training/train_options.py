"""`acn train`'s options: the command-line form of TrainConfig, shared by the CLI and the server's run requests.

Every preset option is a flag with its unit in the help; resolve_config applies the flags to a preset.
"""

import argparse
import dataclasses
import enum
from pathlib import Path
from typing import Any

from training.config import PRESETS, TrainConfig, preset_config
from training.data import NAMED_DATASETS
from training.models import ModelConfig

# Options whose value comes from the data, not from the user.
_DATA_DERIVED = {"image_channels", "output_type"}

_HELP = {
    "kind": "model kind: acn, or a baseline: vae (unconditional learned mixture prior), pixelcnn (decoder alone)",
    "image_size": "side in pixels that folder images are resized to",
    "code_size": "dimensions D of the code and latent z",
    "mixture_components": "Gaussians M per latent dimension in the prior",
    "code_scale": "fixed factor on the encoder output (q(z|x) has unit variance, so larger codes carry more information)",
    "encoder_channels": "channels of each 3x3 encoder convolution, comma-separated",
    "encoder_strides": "stride of each encoder convolution, comma-separated",
    "prior_hidden": "tanh units per hidden layer of the prior network",
    "prior_layers": "hidden layers of the prior network",
    "decoder_blocks": "gated PixelCNN blocks",
    "decoder_filters": "feature maps per gated block",
    "decoder_kernel": "side in pixels of the gated blocks' kernels (odd)",
    "conditioning": "how z enters the decoder: global (per-layer bias) or spatial (decoded feature map)",
    "conditioning_channels": "feature maps of the spatial conditioning network",
    "encoder_reads_grey": "the encoder reads grey levels 0..255; for binarized data, the levels the bits were drawn from (the decoder still models the bits)",
    "binarize": "binarize the pixels (default: yes for digit datasets, no otherwise)",
    "batch_size": "images per step",
    "optimizer": "rmsprop or adam",
    "learning_rate": "optimizer learning rate",
    "momentum": "RMSprop momentum, or Adam's beta1",
    "polyak_decay": "per-step decay of the Polyak (exponential moving) average of the weights",
    "neighbours": "K, the number of nearest codes the neighbour code is drawn from",
    "unique_neighbours": "never use a code as a neighbour twice in one pass over the data",
    "kl_warmup_steps": "steps over which the KL weight rises from 0 to 1 (0 turns warm-up off)",
    "learning_rate_schedule": "constant, or cosine: decay from --learning-rate to 0 over --steps, or over --minutes when time runs out first",
    "shift_pixels": "move each training image by a random 0 to N pixels in x and y, filling with background (0 turns it off)",
    "rebinarize": "binarized data only: draw new bits from each training image's grey levels every time it is in a batch (dynamic binarization)",
    "checkpoint_every": "steps between checkpoints",
    "log_every": "steps between rows of metrics.jsonl",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    names = ", ".join(NAMED_DATASETS)
    parser.add_argument("--data", help=f"named dataset ({names}) or a path to MNIST IDX files, CIFAR-10 python batches or a folder of images (default: the preset's, mnist-5k for cpu and paper-mnist)")
    parser.add_argument("--out", required=True, type=Path, help="run directory for checkpoints, config and metrics")
    parser.add_argument("--preset", default="cpu", choices=sorted(PRESETS), help="starting configuration (default: cpu)")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, help="stop after this many optimizer steps in total")
    budget.add_argument("--minutes", type=float, help="stop after this many minutes of training (wall clock)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--overwrite", action="store_true", help="start a new run in --out even if it contains one (its checkpoint and metrics are replaced)")
    parser.add_argument("--seed", type=int, help="random seed for initialisation, batches, neighbours and z (default: 0)")
    parser.add_argument("--device", choices=["cpu", "cuda"], help="device to train on (default: cpu)")
    parser.add_argument("--quiet", action="store_true", help="hide the progress bar")
    overrides = parser.add_argument_group("preset overrides", "each default comes from --preset; see training/config.py")
    cpu = preset_config("cpu")
    for field in dataclasses.fields(ModelConfig):
        if field.name not in _DATA_DERIVED:
            _add_override(overrides, field, "model.", getattr(cpu.model, field.name))
    for field in dataclasses.fields(TrainConfig):
        if field.name in _HELP:
            _add_override(overrides, field, "", getattr(cpu, field.name))


def _add_override(group: argparse._ArgumentGroup, field: dataclasses.Field, prefix: str, cpu_value: Any) -> None:
    flag = "--" + field.name.replace("_", "-")
    help_text = f"{_HELP[field.name]} (cpu preset: {_shown(cpu_value)})" if field.name in _HELP else None
    kwargs: dict[str, Any] = {"dest": prefix + field.name, "default": None, "help": help_text}
    if not isinstance(field.default, bool):
        kwargs["metavar"] = field.name.upper()
    default = field.default if field.default is not dataclasses.MISSING else None
    if isinstance(default, bool) or field.name == "binarize":
        kwargs["action"] = argparse.BooleanOptionalAction
    elif isinstance(default, enum.Enum):
        kwargs["choices"] = [member.value for member in type(default)]
    elif isinstance(default, tuple):
        kwargs["type"] = _int_tuple
        kwargs["metavar"] = "N,N,..."
    elif isinstance(default, (int, float)):
        kwargs["type"] = type(default)
    group.add_argument(flag, **kwargs)


def _shown(value: Any) -> str:
    """Write a preset value as a user would type it: 32,64 for a tuple, adam for an enum, the dataset's choice for None."""
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, tuple):
        return ",".join(str(item) for item in value)
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "the data set's choice"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _int_tuple(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 32,64, got {text!r}") from None


def override_values(args: argparse.Namespace) -> dict[str, Any]:
    return {
        key: value for key, value in vars(args).items() if ("." in key or key in _HELP) and value is not None
    }


def resolve_config(args: argparse.Namespace) -> TrainConfig:
    """Start from the preset, then apply --data, --seed, --device, the budget and every override flag."""
    config = preset_config(args.preset)
    for key, value in override_values(args).items():
        if key.startswith("model."):
            setattr(config.model, key.removeprefix("model."), value)
        else:
            setattr(config, key, value)
    for key in ("data", "seed", "device"):
        if getattr(args, key) is not None:
            setattr(config, key, getattr(args, key))
    if args.steps is not None:
        config.steps, config.minutes = args.steps, None
    if args.minutes is not None:
        config.minutes = args.minutes
        config.steps = 10**9 if args.minutes else config.steps
    # Re-validate after the overrides.
    try:
        return TrainConfig.from_dict(config.to_dict())
    except ValueError as error:
        raise ValueError(_name_flags(str(error))) from None


def _name_flags(message: str) -> str:
    """Write a config validation message with the flag the user typed in place of the config field."""
    fields = [field.name for field in dataclasses.fields(ModelConfig) + dataclasses.fields(TrainConfig)]
    first_word = message.split(" ", 1)[0]
    if first_word in fields:
        return "--" + first_word.replace("_", "-") + message[len(first_word) :]
    return message
