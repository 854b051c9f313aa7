"""How much label information a representation exposes: linear probes and nearest-neighbour votes.

Every classifier is trained on the training split and scored on the test split.
"""

import dataclasses

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

PCA_COMPONENTS = 16
KNN_FIELDS = {"k1": 1, "k5": 5}
LINEAR_PROBE_FIELDS = ("codes", "pixels", "pca")
KNN_SOURCES = ("codes", "pixels")
# lbfgs on standardised pixels of 60,000 images can need thousands of iterations; the default 100 warns.
_MAX_ITERATIONS = 10_000


@dataclasses.dataclass(frozen=True)
class Features:
    """One representation of the training and test images, (N, F) each, with their labels (N,)."""

    train: np.ndarray
    test: np.ndarray
    train_labels: np.ndarray
    test_labels: np.ndarray


@dataclasses.dataclass(frozen=True)
class ProbeScores:
    """Test accuracies by report field. A field that does not apply is None, with the reason in `unavailable`."""

    linear_probe: dict[str, float | None]  # codes, pixels, pca
    knn_accuracy: dict[str, dict[str, float] | None]  # codes, pixels -> {k1, k5}
    pca_components: int | None
    unavailable: dict[str, str]


def linear_probe_accuracy(features: Features, pca_components: int | None = None) -> float:
    """Fit logistic regression on standardised training features and return its test accuracy.

    With pca_components, the features are first projected on that many principal components of the
    training features.
    """
    steps = [] if pca_components is None else [PCA(pca_components, random_state=0)]
    classifier = make_pipeline(*steps, StandardScaler(), LogisticRegression(max_iter=_MAX_ITERATIONS))
    classifier.fit(features.train, features.train_labels)
    return float(classifier.score(features.test, features.test_labels))


def knn_accuracy(features: Features) -> dict[str, float]:
    """Return the test accuracy of a vote among the 1 and 5 nearest training images (Euclidean).

    k1 checks that the nearest training image has the test image's label. k5 takes the majority of
    the five nearest, and a tie goes to the smallest label, as scikit-learn's KNeighborsClassifier does.
    """
    scores = {}
    for field, k in KNN_FIELDS.items():
        classifier = KNeighborsClassifier(n_neighbors=min(k, len(features.train)), algorithm="brute")
        classifier.fit(features.train, features.train_labels)
        scores[field] = float(classifier.score(features.test, features.test_labels))
    return scores


def probe_scores(codes: Features | None, pixels: Features, show_progress: bool = False) -> ProbeScores:
    """Score linear probes on codes, pixels and PCA of pixels, and nearest-neighbour votes on codes and pixels.

    codes is None for models without an encoder. Features with fewer than two training classes get no
    scores, since a classifier needs two classes to learn from.
    """
    unavailable: dict[str, str] = {}
    if codes is None:
        unavailable["linear_probe.codes"] = unavailable["knn_accuracy.codes"] = "the model has no codes"
    classes = len(np.unique(pixels.train_labels))
    if classes < 2:
        reason = f"the training split has {classes} label class, and a classifier needs at least 2"
        unavailable.update(dict.fromkeys(["linear_probe", "knn_accuracy"], reason))
        return ProbeScores(dict.fromkeys(LINEAR_PROBE_FIELDS), dict.fromkeys(KNN_SOURCES), None, unavailable)

    components = min(PCA_COMPONENTS, *pixels.train.shape)
    with tqdm(total=5, desc="probes", unit="classifier", disable=not show_progress, leave=False) as progress:
        linear = {"codes": None if codes is None else linear_probe_accuracy(codes)}
        progress.update()
        linear["pixels"] = linear_probe_accuracy(pixels)
        progress.update()
        linear["pca"] = linear_probe_accuracy(pixels, pca_components=components)
        progress.update()
        knn = {"codes": None if codes is None else knn_accuracy(codes)}
        progress.update()
        knn["pixels"] = knn_accuracy(pixels)
        progress.update()
    return ProbeScores(linear, knn, components, unavailable)
