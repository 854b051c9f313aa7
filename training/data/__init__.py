"""Load image data sets, named or from user files, with a fixed train, validation and test split."""

from training.data.binarize import BINARIZE_SEED
from training.data.dataset import ImageDataset, Split
from training.data.errors import DatasetError
from training.data.loading import load_dataset
from training.data.named import NAMED_DATASETS
from training.data.splits import SPLIT_SEED

__all__ = [
    "BINARIZE_SEED",
    "NAMED_DATASETS",
    "SPLIT_SEED",
    "DatasetError",
    "ImageDataset",
    "Split",
    "load_dataset",
]
