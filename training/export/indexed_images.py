"""The images a bundle makes searchable: by default the run's training split, else a whole other collection."""

import dataclasses

import numpy as np

from training.config import TrainConfig
from training.data import DatasetError, ImageDataset, Split, load_dataset
from training.encoding import encoder_images
from training.export.errors import ExportError
from training.models import OutputType


@dataclasses.dataclass(frozen=True, eq=False)
class IndexedImages:
    """Images to index, in id order: image i gets the stable id i."""

    name: str  # data set name or path
    part: str  # "train" for the run's training split, "all" for a whole --images collection
    model_inputs: np.ndarray  # uint8 (N, C, H, W), levels as the encoder reads them
    display_images: np.ndarray  # uint8 (N, C, H, W), grey levels 0..255
    labels: np.ndarray | None  # int64 (N,)
    class_names: list[str] | None
    source_indices: np.ndarray  # int64 (N,), index of each image in its data set

    @property
    def ids(self) -> np.ndarray:
        return np.arange(len(self.model_inputs), dtype=np.int64)


def training_split(dataset: ImageDataset, config: TrainConfig) -> IndexedImages:
    """Select the training split of the run's data set, in ascending data set index."""
    index = dataset.indices[Split.TRAIN]
    return IndexedImages(
        name=dataset.name,
        part=Split.TRAIN.value,
        model_inputs=encoder_images(dataset, Split.TRAIN, config.model),
        display_images=dataset.raw_images[index],
        labels=None if dataset.labels is None else dataset.labels[index],
        class_names=dataset.class_names,
        source_indices=index.astype(np.int64),
    )


def other_collection(source: str, config: TrainConfig) -> IndexedImages:
    """Load every image of another collection, resized and binarized the way the run's data was."""
    model = config.model
    try:
        dataset = load_dataset(source, image_size=model.image_size, binarize=model.output_type is OutputType.BERNOULLI)
    except DatasetError as error:
        raise ExportError(f"--images {source!r} could not be loaded: {error}") from error
    channels = dataset.image_shape[0]
    if channels != model.image_channels:
        raise ExportError(
            f"--images {source!r} has {channels}-channel images but the model reads {model.image_channels} "
            "channels; pass a collection of the same kind (grey or colour)"
        )
    return IndexedImages(
        name=source,
        part="all",
        model_inputs=dataset.raw_images if model.encoder_reads_grey else dataset.images,
        display_images=dataset.raw_images,
        labels=dataset.labels,
        class_names=dataset.class_names,
        source_indices=np.arange(len(dataset.images), dtype=np.int64),
    )
