"""Topic 07, regularization: the ridge explorer against scikit-learn's Ridge and its controls. (The lab's
dropout check is tested in tests/test_checks_labs_06_11.py.)"""

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from course_utils.widgets.regularization import DATA, LAMBDAS, _features, ridge, strength_curves, strength_explorer


@pytest.mark.parametrize("lam", [1e-6, 1e-2, 3.0])
def test_ridge_matches_scikit_learn(lam):
    phi = _features(DATA["x_train"], 9)[:, 1:]  # the constant column is sklearn's (unpenalized) intercept
    reference = Ridge(alpha=lam, solver="cholesky").fit(phi, DATA["y_train"])
    ours = ridge(DATA["x_train"], DATA["y_train"], 9, lam)
    np.testing.assert_allclose(ours[1:], reference.coef_, rtol=1e-5, atol=1e-7)
    assert ours[0] == pytest.approx(reference.intercept_, rel=1e-5, abs=1e-7)


def test_the_penalty_trades_training_for_validation_error():
    curves = strength_curves(15)
    assert np.all(np.diff(curves["train"]) >= -1e-9)  # a stronger penalty never fits the training set better
    best = int(np.argmin(curves["val"]))
    assert curves["val"][best] < 0.5 * curves["val"][0] and curves["val"][best] < curves["val"][-1]
    assert 1e-4 < LAMBDAS[best] < 10


def test_explorer_follows_its_controls():
    explorer = strength_explorer(lam=1e-9)
    memorizing = dict(explorer.result)
    images = {explorer.image.value}
    smooth = explorer.set(lam=0.3).result
    images.add(explorer.image.value)
    assert memorizing["train"] < smooth["train"] and memorizing["gap"] > smooth["gap"]
    explorer.set(degree=3)
    images.add(explorer.image.value)
    assert len(images) == 3 and explorer.state.startswith("lam=0.3")
