"""The associative code table C: one code per training image and its nearest-neighbour search."""

import faiss
import numpy as np


class CodeTable:
    """Codes (N, D) of the training images, initialised from N(0, 1) and overwritten as batches pass.

    Neighbour draws follow Algorithm 1 of the ACN paper: the K nearest codes to an image's code by
    Euclidean distance, its own entry removed, and one of them picked uniformly. In unique mode a code
    that has served as a neighbour is not offered again until the next pass through the data.
    """

    def __init__(self, size: int, code_size: int, rng: np.random.Generator) -> None:
        if size < 2:
            raise ValueError(f"a code table needs at least 2 codes to draw neighbours, got {size}")
        self.codes = rng.standard_normal((size, code_size)).astype(np.float32)
        self.used = np.zeros(size, dtype=bool)

    def __len__(self) -> int:
        return self.codes.shape[0]

    def update(self, ids: np.ndarray, codes: np.ndarray) -> None:
        self.codes[ids] = codes

    def start_pass(self) -> None:
        """Make every code available as a neighbour again (unique mode)."""
        self.used[:] = False

    def nearest(self, query_codes: np.ndarray, query_ids: np.ndarray, k: int) -> np.ndarray:
        """Return the ids (B, k) of the k nearest codes to each query, its own id excluded.

        The query's own entry is removed by id rather than by dropping the first hit, because an exact
        duplicate code ties with it. Rows are padded with -1 when the table has fewer than k other codes.
        """
        return _nearest_excluding(self.codes, query_codes.astype(np.float32), query_ids, k)

    def draw_neighbours(
        self, query_codes: np.ndarray, query_ids: np.ndarray, k: int, rng: np.random.Generator, unique: bool = False
    ) -> np.ndarray:
        """Return one neighbour id per query (B,), drawn uniformly from its k nearest codes."""
        if not unique:
            candidates = self.nearest(query_codes, query_ids, k)
            return np.array([rng.choice(row[row >= 0]) for row in candidates], dtype=np.int64)
        return self._draw_unique(query_codes.astype(np.float32), query_ids, k, rng)

    def _draw_unique(
        self, query_codes: np.ndarray, query_ids: np.ndarray, k: int, rng: np.random.Generator
    ) -> np.ndarray:
        neighbours = np.empty(len(query_ids), dtype=np.int64)
        for row, (code, own_id) in enumerate(zip(query_codes, query_ids)):
            available = np.flatnonzero(~self.used)
            available = available[available != own_id]
            if available.size == 0:
                # The last image of a pass finds every other code used; it starts the next pass's pool.
                self.start_pass()
                available = np.flatnonzero(np.arange(len(self)) != own_id)
            hits = _nearest_excluding(self.codes[available], code[None], np.array([-1]), k)[0]
            choice = available[rng.choice(hits[hits >= 0])]
            self.used[choice] = True
            neighbours[row] = choice
        return neighbours

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"codes": self.codes.copy(), "used": self.used.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.codes = np.asarray(state["codes"], dtype=np.float32).copy()
        self.used = np.asarray(state["used"], dtype=bool).copy()


def _nearest_excluding(base: np.ndarray, queries: np.ndarray, query_ids: np.ndarray, k: int) -> np.ndarray:
    """k nearest rows of base for each query, skipping the row whose index equals that query's id."""
    searched = min(k + 1, base.shape[0])
    _, hits = faiss.knn(np.ascontiguousarray(queries), np.ascontiguousarray(base), searched)  # (B, k + 1)
    result = np.full((len(queries), k), -1, dtype=np.int64)
    for row, own_id in enumerate(query_ids):
        others = hits[row][(hits[row] != own_id) & (hits[row] >= 0)][:k]
        result[row, : len(others)] = others
    return result
