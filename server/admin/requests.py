"""Check a training-run request: its data inside the allowed root, and overrides turned into `acn train` flags."""

import argparse
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from server.errors import ApiError, ErrorKind
from training.config import PRESETS
from training.data import NAMED_DATASETS
from training.train_options import add_arguments

# Flags the runner sets itself, so a request may not pass them as overrides.
RESERVED_OPTIONS = {"data", "out", "preset", "steps", "minutes", "resume", "overwrite", "quiet", "help"}


class TrainingRunRequest(BaseModel):
    data: str = Field(description="named data set, or a path inside the allowed data root (ACN_DATA_ROOT)")
    preset: str = Field("cpu", description=f"starting configuration: {', '.join(sorted(PRESETS))}")
    overrides: dict[str, Any] = Field(
        default_factory=dict, description='`acn train` options without the dashes, e.g. {"decoder-blocks": 1, "encoder-channels": "8,8"}'
    )
    steps: int | None = Field(None, ge=1, description="training steps; default: the preset's")
    minutes: float | None = Field(None, gt=0, description="training wall-clock budget in minutes; default: the preset's")
    evaluate: bool = Field(True, description="run `acn evaluate`; without it, deployment thresholds count as not met")


class _ParserError(Exception):
    pass


class _RaisingParser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse otherwise exits the process
        raise _ParserError(message)


def resolve_data(data: str, root: Path) -> str:
    """Return a named data set as is, or the resolved path of data, which must exist inside root."""
    if data in NAMED_DATASETS:
        return data
    candidate = Path(data)
    path = (candidate if candidate.is_absolute() else root / candidate).resolve()
    # resolve() follows symbolic links before the check, so a link inside the root that points outside is rejected.
    if not path.is_relative_to(root):
        raise ApiError(ErrorKind.DATA_OUTSIDE_ROOT, path=data, root=root)
    if not path.exists():
        raise ApiError(ErrorKind.DATA_NOT_FOUND, data=data, names=", ".join(NAMED_DATASETS), root=root)
    return str(path)


def override_arguments(overrides: dict[str, Any]) -> list[str]:
    """Turn {"decoder-blocks": 1, "binarize": False} into ["--decoder-blocks", "1", "--no-binarize"], checked by `acn train`'s parser."""
    arguments: list[str] = []
    for name, value in overrides.items():
        option = name.removeprefix("--").replace("_", "-")
        if option in RESERVED_OPTIONS:
            raise ApiError(ErrorKind.INVALID_OVERRIDES, reason=f"{name!r} is set by the request fields or the server, not by overrides")
        if isinstance(value, bool):
            arguments.append(f"--{option}" if value else f"--no-{option}")
        elif isinstance(value, list):
            arguments += [f"--{option}", ",".join(str(item) for item in value)]
        elif isinstance(value, (int, float, str)):
            arguments += [f"--{option}", str(value)]
        else:
            raise ApiError(ErrorKind.INVALID_OVERRIDES, reason=f"{name!r} has value {value!r}; use a number, string, boolean or list")
    _check_with_parser(arguments)
    return arguments


def _check_with_parser(arguments: list[str]) -> None:
    parser = _RaisingParser(prog="acn train", add_help=False, allow_abbrev=False)
    add_arguments(parser)
    try:
        parser.parse_args(["--out", "unused", *arguments])
    except _ParserError as error:
        raise ApiError(ErrorKind.INVALID_OVERRIDES, reason=str(error)) from None


def train_arguments(request: TrainingRunRequest, data: str, run_dir: Path) -> list[str]:
    """Return the `acn train` arguments of a checked request."""
    if request.preset not in PRESETS:
        raise ApiError(ErrorKind.INVALID_OVERRIDES, reason=f"preset {request.preset!r} is unknown; use one of {', '.join(sorted(PRESETS))}")
    if request.steps is not None and request.minutes is not None:
        raise ApiError(ErrorKind.INVALID_OVERRIDES, reason="give steps or minutes, not both")
    arguments = ["--data", data, "--out", str(run_dir), "--preset", request.preset, "--quiet"]
    if request.steps is not None:
        arguments += ["--steps", str(request.steps)]
    if request.minutes is not None:
        arguments += ["--minutes", str(request.minutes)]
    return arguments + override_arguments(request.overrides)
