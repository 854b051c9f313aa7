"""Nearest-neighbour search over a bundle's faiss index, with each query's own image removed by id."""

import faiss
import numpy as np


def search_excluding(
    index: faiss.Index, ids: np.ndarray, codes: np.ndarray, k: int, exclude_ids: list[int | None]
) -> tuple[np.ndarray, np.ndarray]:
    """Return the ids (B, k) and squared L2 distances (B, k) of the k nearest indexed codes to each query.

    Row r of the index is the image with id ids[r]. A query's exclude id, when not None, is removed
    by id rather than by dropping the first hit, because an exact duplicate code ties with it, so the
    result equals CodeTable.nearest on the same codes. Rows are padded with id -1 and distance inf when
    the index has fewer than k other codes.
    """
    searched = min(k + 1 if any(own is not None for own in exclude_ids) else k, index.ntotal)
    result_ids = np.full((len(codes), k), -1, dtype=np.int64)
    result_distances = np.full((len(codes), k), np.inf, dtype=np.float32)
    if searched == 0 or len(codes) == 0:
        return result_ids, result_distances

    distances, rows = index.search(np.ascontiguousarray(codes, dtype=np.float32), searched)  # (B, searched)
    for query, own_id in enumerate(exclude_ids):
        found = rows[query] >= 0
        hit_ids = ids[rows[query][found]]
        hit_distances = distances[query][found]
        keep = hit_ids != own_id if own_id is not None else np.ones(len(hit_ids), dtype=bool)
        count = min(k, int(keep.sum()))
        result_ids[query, :count] = hit_ids[keep][:count]
        result_distances[query, :count] = hit_distances[keep][:count]
    return result_ids, result_distances
