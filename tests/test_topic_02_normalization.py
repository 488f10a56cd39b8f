"""Topic 02, normalization: the scaling explorer's gradient descent against the theory (stable below
2/s², s² times slower), its controls, and the whitening check (any whitening matrix passes)."""

import numpy as np
import pytest

from course_utils.checks.normalization import _correlated_arguments, _whitened_covariance
from course_utils.widgets.normalization import MAX_STEPS, descend, scaling_explorer, steps_to_converge


@pytest.mark.parametrize("scale", [2.0, 5.0, 10.0])
def test_the_cliff_is_at_two_over_s_squared(scale):
    limit = 2 / scale ** 2
    assert 0 < steps_to_converge(scale, 0.95 * limit) <= MAX_STEPS
    assert steps_to_converge(scale, 1.05 * limit) == -1


def test_path_follows_the_closed_form():
    path = descend(scale=3.0, lr=0.1, steps=20)
    t = np.arange(21)
    expected = 1 + (path[0] - 1) * np.column_stack([(1 - 0.1) ** t, (1 - 0.1 * 9) ** t])
    np.testing.assert_allclose(path, expected, rtol=1e-12)


def test_badly_scaled_features_need_many_more_steps():
    best = {s: min(v for v in (steps_to_converge(s, lr) for lr in np.geomspace(1e-4, 2, 60)) if v > 0)
            for s in (1.0, 2.0, 5.0)}
    assert best[1.0] < best[2.0] < best[5.0]
    assert best[5.0] > 10 * best[2.0] / 4  # roughly s² growth


def test_explorer_follows_its_controls():
    explorer = scaling_explorer(scale=10.0, lr=0.015)
    images = {explorer.image.value}
    slow = explorer.result["steps"]
    assert explorer.set(lr=0.03).result["steps"] == -1
    images.add(explorer.image.value)
    fast = explorer.set(standardize=True, lr=1.0).result["steps"]
    images.add(explorer.image.value)
    assert fast < slow and len(images) == 3


def test_any_whitening_matrix_passes_the_check():
    kwargs = _correlated_arguments({"seed": 0, "n": 500, "d": 3, "spread": 10.0})
    X = kwargs["X"]
    values, vectors = np.linalg.eigh(np.cov(X, rowvar=False))
    zca = vectors @ np.diag(values ** -0.5) @ vectors.T
    for W in (vectors / np.sqrt(values), zca, -zca):
        np.testing.assert_allclose(_whitened_covariance(W, kwargs), np.eye(3), atol=1e-8)
