"""The greedy nearest-neighbour tour through a set of codes."""

import numpy as np


def greedy_tour(codes: np.ndarray, start: int = 0) -> np.ndarray:
    """Return the visiting order (N,) of a tour that starts at `start` and always hops to the nearest unvisited code.

    Distances are Euclidean; among equally near codes the lowest index wins. Every code appears
    exactly once, so each code except the last is the predecessor of exactly one other.
    """
    codes = np.asarray(codes, dtype=np.float64)
    count = len(codes)
    if not 0 <= start < count:
        raise ValueError(f"tour start {start} is outside the {count} codes")
    order = np.empty(count, dtype=np.int64)
    visited = np.zeros(count, dtype=bool)
    current = start
    for position in range(count):
        order[position] = current
        visited[current] = True
        if position == count - 1:
            break
        distances = ((codes - codes[current]) ** 2).sum(1)  # (N,)
        distances[visited] = np.inf
        current = int(np.argmin(distances))
    return order


def tour_predecessors(order: np.ndarray) -> np.ndarray:
    """Return for each code the code visited just before it (N,), with -1 for the first code of the tour."""
    predecessors = np.full(len(order), -1, dtype=np.int64)
    predecessors[order[1:]] = order[:-1]
    return predecessors
