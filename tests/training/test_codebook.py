import numpy as np
import pytest

from training.codebook import CodeTable


def _table(codes: np.ndarray) -> CodeTable:
    table = CodeTable(len(codes), codes.shape[1], np.random.default_rng(0))
    table.update(np.arange(len(codes)), codes.astype(np.float32))
    return table


def test_nearest_excludes_own_entry():
    codes = np.random.default_rng(1).standard_normal((50, 4))
    table = _table(codes)
    hits = table.nearest(codes, np.arange(50), 5)
    for own_id, row in enumerate(hits):
        assert own_id not in row


def test_nearest_with_exact_duplicates_keeps_the_twin():
    codes = np.zeros((6, 2))
    codes[3:] = 10.0
    table = _table(codes)
    hits = table.nearest(codes[:1], np.array([0]), 2)
    assert 0 not in hits[0]
    assert set(hits[0]) == {1, 2}


def test_nearest_all_duplicates_never_returns_self():
    codes = np.ones((8, 3))
    table = _table(codes)
    hits = table.nearest(codes, np.arange(8), 3)
    for own_id, row in enumerate(hits):
        assert own_id not in row
        assert (row >= 0).all()


def test_nearest_pads_when_fewer_codes_than_k():
    codes = np.arange(6, dtype=float).reshape(3, 2)
    table = _table(codes)
    hits = table.nearest(codes, np.arange(3), 5)
    assert hits.shape == (3, 5)
    assert sorted(hits[0][hits[0] >= 0]) == [1, 2]
    assert (hits[0][2:] == -1).all()


def test_nearest_matches_brute_force():
    codes = np.random.default_rng(2).standard_normal((40, 3)).astype(np.float32)
    table = _table(codes)
    hits = table.nearest(codes, np.arange(40), 4)
    distances = ((codes[:, None] - codes[None]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    expected = np.argsort(distances, axis=1)[:, :4]
    assert (np.sort(hits, axis=1) == np.sort(expected, axis=1)).all()


def test_draw_neighbours_never_self_and_within_k():
    codes = np.random.default_rng(3).standard_normal((30, 2))
    table = _table(codes)
    rng = np.random.default_rng(0)
    nearest = table.nearest(codes, np.arange(30), 3)
    for _ in range(20):
        drawn = table.draw_neighbours(codes, np.arange(30), 3, rng)
        for own_id, neighbour in enumerate(drawn):
            assert neighbour != own_id
            assert neighbour in nearest[own_id]


def test_unique_neighbours_not_reused_within_a_pass():
    codes = np.random.default_rng(4).standard_normal((20, 2))
    table = _table(codes)
    table.start_pass()
    drawn = table.draw_neighbours(codes[:10], np.arange(10), 3, np.random.default_rng(0), unique=True)
    assert len(set(drawn.tolist())) == 10
    for own_id, neighbour in enumerate(drawn):
        assert neighbour != own_id


def test_unique_mode_with_k1_is_greedy_nearest_unused():
    codes = np.array([[0.0], [1.0], [1.1], [5.0]])
    table = _table(codes)
    table.start_pass()
    first = table.draw_neighbours(codes[1:2], np.array([1]), 1, np.random.default_rng(0), unique=True)
    second = table.draw_neighbours(codes[2:3], np.array([2]), 1, np.random.default_rng(0), unique=True)
    assert first[0] == 2
    assert second[0] == 1


def test_code_table_needs_two_codes():
    with pytest.raises(ValueError, match="at least 2"):
        CodeTable(1, 4, np.random.default_rng(0))
