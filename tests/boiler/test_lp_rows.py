"""The LP's constraint rows: the cached CSR pattern gives exactly the matrix scipy builds from the triplets."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import coo_matrix

from boiler.control.lp_store import Rows


def _rows(slope: float, coef: np.ndarray) -> Rows:
    rows = Rows(6)
    cols = np.array([0, 1, 2])
    rows.add([(cols + 3, 1.0), (np.array([-1, 0, 1]), -slope), (cols, coef)], np.zeros(3))
    rows.add([(np.array([5]), 2.0), (np.array([4]), np.array([0.0]))], np.ones(1))  # an explicit zero is kept
    return rows


def _reference(rows: Rows) -> np.ndarray:
    """The matrix from (row, column, value) triplets, dropping the -1 columns."""
    r, c, v = [], [], []
    for cols, coef, first in zip(rows.cols, rows.coefs, rows.first_row, strict=True):
        keep = cols >= 0
        r.append((first + np.arange(cols.size))[keep])
        c.append(cols[keep])
        v.append(np.broadcast_to(coef, cols.shape)[keep])
    return coo_matrix((np.concatenate(v), (np.concatenate(r), np.concatenate(c))), shape=(rows.n, rows.n_cols))


def test_the_pattern_matrix_is_the_triplets_matrix() -> None:
    rows = _rows(0.5, np.array([1.0, 2.0, 3.0]))
    m, rhs = rows.matrix()
    assert m is not None and rhs is not None
    ref = _reference(rows).tocsr()
    ref.sort_indices()
    assert np.array_equal(m.indptr, ref.indptr) and np.array_equal(m.indices, ref.indices)
    assert np.array_equal(m.data, ref.data)
    assert m.nnz == 10  # the -1 column is no entry; the explicit zero is one


def test_rows_of_the_same_structure_share_the_pattern_and_only_values_move() -> None:
    a, b = _rows(0.5, np.array([1.0, 2.0, 3.0])), _rows(0.7, np.array([4.0, 5.0, 6.0]))
    assert a.structure() == b.structure()
    pattern = a.pattern()
    m, _ = b.matrix()
    assert m is not None and np.array_equal(b.values(pattern), m.data)
    scalar_instead = Rows(6)
    scalar_instead.add([(np.array([3, 4, 5]), 1.0), (np.array([-1, 0, 1]), -0.5), (np.array([0, 1, 2]), 1.0)],
                       np.zeros(3))
    scalar_instead.add([(np.array([5]), 2.0), (np.array([4]), np.array([0.0]))], np.ones(1))
    assert scalar_instead.structure() != a.structure()  # its values are laid out differently


def test_a_column_twice_in_a_row_is_refused() -> None:
    rows = Rows(2)
    rows.add([(np.array([0]), 1.0), (np.array([0]), 2.0)], np.zeros(1))
    with pytest.raises(ValueError, match="twice"):
        rows.pattern()
