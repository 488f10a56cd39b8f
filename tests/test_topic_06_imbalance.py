"""Topic 06, class imbalance: the threshold explorer and its confusion counts against scikit-learn. (The
lab's SMOTE check is tested in tests/test_checks_labs_06_11.py.)"""

from sklearn.metrics import confusion_matrix

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
