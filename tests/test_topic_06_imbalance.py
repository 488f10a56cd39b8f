"""Topic 06, class imbalance: the threshold explorer, its confusion counts against scikit-learn, and the
SMOTE check's geometry (a correct SMOTE passes whatever its random draws, a wrong one does not)."""

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from course_utils.checks.imbalance import _minority_arguments, _smote_observe
from course_utils.widgets.imbalance import confusion_at, curves, demo_scores, threshold_explorer


def test_confusion_counts_match_scikit_learn():
    scores, y = demo_scores(n=1000, seed=3)
    for threshold in (0.01, 0.2, 0.5, 0.9):
        counts = confusion_at(scores, y, threshold)
        tn, fp, fn, tp = confusion_matrix(y, scores >= threshold, labels=[0, 1]).ravel()
        assert counts == {"tp": tp, "fp": fp, "fn": fn, "tn": tn}


def test_rare_positives_flatter_roc_but_not_pr():
    scores, y = demo_scores(positive_fraction=0.02)
    c = curves(scores, y)
    assert c["roc_auc"] > 0.9 and c["pr_auc"] < c["roc_auc"] - 0.2


def test_explorer_moves_the_operating_point():
    explorer = threshold_explorer(threshold=0.5)
    first = explorer.image.value
    high = dict(explorer.result)
    low = explorer.set(threshold=0.05).result
    assert explorer.image.value != first
    assert low["recall"] > high["recall"] and low["precision"] < high["precision"]
    assert low["tp"] + low["fn"] == high["tp"] + high["fn"]  # the positives do not change
    assert explorer.state == "threshold=0.05"
    # the smallest step of the slider is always visible, even when no score lies in between
    assert explorer.set(threshold=0.51).image.value != explorer.set(threshold=0.5).image.value


def _smote(X, n_new, k, rng, per_feature=False):
    distances = np.linalg.norm(X[:, None] - X[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    neighbours = np.argsort(distances, axis=1)[:, :k]
    base = rng.integers(0, len(X), n_new)
    partner = neighbours[base, rng.integers(0, k, n_new)]
    gap = rng.random((n_new, X.shape[1] if per_feature else 1))
    return X[base] + gap * (X[partner] - X[base])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_smote_check_accepts_any_correct_draw_and_rejects_boxes(seed):
    case = {"seed": 0, "n": 15, "d": 3, "n_new": 40, "k": 4}
    kwargs = _minority_arguments(case)
    rng = np.random.default_rng(100 + seed)  # another RNG than the reference's
    good = _smote_observe(_smote(kwargs["X_minority"], 40, 4, rng), kwargs)
    assert good == {"shape": [40, 3], "on_neighbour_segments": True, "on_minority_segments": True,
                    "copies_of_originals": False}
    boxed = _smote_observe(_smote(kwargs["X_minority"], 40, 4, rng, per_feature=True), kwargs)
    assert boxed["on_minority_segments"] is False
