"""The PNG figures beside an evaluation report, drawn with matplotlib's object-oriented API (no pyplot state)."""

from pathlib import Path
from typing import Any

import faiss
import numpy as np
from matplotlib.figure import Figure
from sklearn.decomposition import PCA

from training.fileio import atomic_write
from training.sampling import image_grid

NEIGHBOUR_QUERIES = 8  # test images shown in the neighbours figure
NEIGHBOURS_SHOWN = 5
_MIN_WIDTH, _TITLE_HEIGHT = 640, 60  # pixels of the neighbours figure
# Bar colours of the ACN paper's Figure 2: reconstruction, unconditional KL, greedy-tour KL.
_RECONSTRUCTION_COLOUR, _UNCONDITIONAL_COLOUR, _TOUR_COLOUR = "#f2c14e", "#3b75af", "#c0392b"


def _save(figure: Figure, path: Path) -> None:
    atomic_write(Path(path), lambda temporary: figure.savefig(temporary, format="png", dpi=figure.dpi))


def plot_code_pca(
    path: Path, codes: np.ndarray, labels: np.ndarray | None, class_names: list[str] | None, title: str
) -> None:
    """Scatter the first two principal components of codes (N, D), coloured by label when there are labels."""
    points = PCA(2, random_state=0).fit_transform(codes) if codes.shape[1] >= 2 else np.c_[codes, np.zeros(len(codes))]
    figure = Figure(figsize=(6, 6), dpi=100)
    axes = figure.add_subplot()
    if labels is None:
        axes.scatter(points[:, 0], points[:, 1], s=4, alpha=0.6)
    else:
        for label in np.unique(labels):
            chosen = labels == label
            name = class_names[label] if class_names is not None and label < len(class_names) else str(label)
            axes.scatter(points[chosen, 0], points[chosen, 1], s=4, alpha=0.6, label=name, color=f"C{label % 10}")
        axes.legend(markerscale=3, fontsize="small", loc="best")
    axes.set_xlabel("principal component 1")
    axes.set_ylabel("principal component 2")
    axes.set_title(title)
    figure.tight_layout()
    _save(figure, path)


def nearest_rows(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Return the indices (Q, k) of the k nearest rows of base (N, F) to each query (Q, F), by Euclidean distance."""
    base = np.ascontiguousarray(base.reshape(len(base), -1), dtype=np.float32)
    queries = np.ascontiguousarray(queries.reshape(len(queries), -1), dtype=np.float32)
    _, hits = faiss.knn(queries, base, min(k, len(base)))  # (Q, k)
    return hits


def plot_neighbours(
    path: Path,
    queries: np.ndarray,
    by_code: np.ndarray,
    by_pixels: np.ndarray,
    levels: int,
    title: str,
) -> None:
    """Draw each test image (Q, C, H, W) beside its nearest training images in code space and pixel space.

    by_code and by_pixels are (Q, k, C, H, W) images, nearest first.
    """
    rows = np.concatenate([queries[:, np.newaxis], by_code, by_pixels], axis=1)  # (Q, 1 + 2k, C, H, W)
    grid = np.asarray(image_grid(rows, levels, scale=3, gap_after=(0, by_code.shape[1])))
    height, width = grid.shape[:2]
    # A page at least _MIN_WIDTH pixels wide, so the two title lines fit above small images.
    page_width, page_height = max(width, _MIN_WIDTH), height + _TITLE_HEIGHT
    figure = Figure(figsize=(page_width / 100, page_height / 100), dpi=100)
    left = (page_width - width) / 2 / page_width
    axes = figure.add_axes((left, 0, width / page_width, height / page_height))
    axes.imshow(grid, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    axes.set_axis_off()
    k = by_code.shape[1]
    legend = f"column 1: test image; next {k}: nearest training images by code; last {k}: by pixels"
    figure.suptitle(f"{title}\n{legend}", fontsize=8)
    _save(figure, path)


def plot_cost_bars(path: Path, reports: list[dict[str, Any]]) -> None:
    """Compare runs by stacked bars: reconstruction plus unconditional KL (unordered) and plus greedy-tour KL (ordered).

    Only ACN runs get the ordered bar, as in the ACN paper's Figure 2. A run without KL shows its
    reconstruction (total) cost alone.
    """
    figure = Figure(figsize=(max(4.0, 1.6 * len(reports) + 1.5), 4.5), dpi=100)
    axes = figure.add_subplot()
    width = 0.38
    labelled: set[str] = set()

    def bar(x: float, bottom: float, height: float, colour: str, label: str) -> None:
        axes.bar(x, height, width, bottom=bottom, color=colour, label=None if label in labelled else label)
        labelled.add(label)

    for position, report in enumerate(reports):
        reconstruction = report["reconstruction"]
        kl = report["kl"]
        bar(position - width / 2, 0, reconstruction, _RECONSTRUCTION_COLOUR, "reconstruction")
        if kl["unconditional"] is not None:
            bar(position - width / 2, reconstruction, kl["unconditional"], _UNCONDITIONAL_COLOUR, "KL, unconditional")
        if report["kind"] == "acn" and kl["greedy_tour"] is not None:
            bar(position + width / 2, 0, reconstruction, _RECONSTRUCTION_COLOUR, "reconstruction")
            bar(position + width / 2, reconstruction, kl["greedy_tour"], _TOUR_COLOUR, "KL, greedy tour")
    names = [f"{report['run']}\n({report['kind']})" for report in reports]
    axes.set_xticks(range(len(reports)), names, fontsize="small")
    axes.set_ylabel("nats per test image")
    axes.set_title("Test-set compression cost: left bar unordered, right bar ordered")
    axes.legend(fontsize="small", loc="lower right")
    figure.tight_layout()
    _save(figure, path)
