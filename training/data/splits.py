"""The fixed, seeded split of a data set into train, validation and test."""

import numpy as np

from training.data.dataset import Split
from training.data.errors import DatasetError

# Independent of any training seed, so that training, evaluation and export all reuse one split.
SPLIT_SEED = 0
TEST_FRACTION = 0.2  # used only when the source has no official test part
VALIDATION_FRACTION = 0.1


def make_splits(count: int, test_mask: np.ndarray | None) -> dict[Split, np.ndarray]:
    """Split indices 0..count-1 into sorted, disjoint train, validation and test index arrays.

    The test split is the source's official test part when test_mask marks one, else a seeded
    TEST_FRACTION of all images. Validation is a seeded VALIDATION_FRACTION of the training part,
    or of all images when the source has no official test part.
    """
    generator = np.random.default_rng(SPLIT_SEED)
    if test_mask is not None and test_mask.any():
        test = np.flatnonzero(test_mask)
        pool = generator.permutation(np.flatnonzero(~test_mask))
        validation_count = max(1, round(VALIDATION_FRACTION * len(pool)))
    else:
        shuffled = generator.permutation(count)
        test_count = max(1, round(TEST_FRACTION * count))
        test, pool = shuffled[:test_count], shuffled[test_count:]
        validation_count = max(1, round(VALIDATION_FRACTION * count))

    if len(pool) - validation_count < 1:
        raise DatasetError(
            f"The data set has only {count} images ({len(test)} of them for test), too few to give "
            "at least one image to each of train, validation and test. Add more images."
        )
    splits = {
        Split.TRAIN: pool[validation_count:],
        Split.VALIDATION: pool[:validation_count],
        Split.TEST: test,
    }
    return {split: np.sort(index).astype(np.int64) for split, index in splits.items()}
