"""A trained run loaded for evaluation or sampling: its averaged model, config and data."""

import dataclasses
from pathlib import Path

import torch

from training.checkpoint import CHECKPOINT_NAME, load_averaged_model
from training.config import TrainConfig
from training.data import ImageDataset, load_dataset
from training.models import ACN


@dataclasses.dataclass
class TrainedRun:
    """A run directory with its Polyak-averaged model in eval mode. The data set loads on first use."""

    run_dir: Path
    model: ACN
    config: TrainConfig
    step: int
    loaded_dataset: ImageDataset | None = None

    @property
    def name(self) -> str:
        """Name of the run directory, used to label it in reports."""
        return self.run_dir.resolve().name

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / CHECKPOINT_NAME

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dataset(self) -> ImageDataset:
        """Return the run's data set with its fixed split, reloading it from config.data the first time."""
        if self.loaded_dataset is None:
            config = self.config
            dataset = load_dataset(config.data, image_size=config.model.image_size, binarize=config.binarize)
            check_dataset_matches(dataset, config)
            self.loaded_dataset = dataset
        return self.loaded_dataset


def check_dataset_matches(dataset: ImageDataset, config: TrainConfig) -> None:
    """Raise ValueError when the data no longer has the image shape or pixel type the model was trained on."""
    model = config.model
    expected = (model.image_channels, model.image_size, model.image_size)
    if dataset.image_shape != expected or dataset.output_type is not model.output_type:
        raise ValueError(
            f"data set {dataset.name!r} now gives {dataset.output_type.value} images of shape {dataset.image_shape}, "
            f"but the run was trained on {model.output_type.value} images of shape {expected}; "
            "restore the data the run was trained on"
        )


def load_run(run_dir: Path, device: str = "cpu", dataset: ImageDataset | None = None) -> TrainedRun:
    """Load a run directory's averaged model onto device. Pass dataset to skip reloading the data."""
    run_dir = Path(run_dir)
    model, config, state = load_averaged_model(run_dir)
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was given but CUDA is not available here; use --device cpu")
    if dataset is not None:
        check_dataset_matches(dataset, config)
    return TrainedRun(run_dir, model.to(device), config, int(state["step"]), dataset)
