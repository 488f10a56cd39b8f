"""Known-wrong implementations of lab 01's exercises, with the hint each must get."""

import numpy as np
from scipy.spatial.distance import cdist

from course_utils.vault import CHOSE_ON_TEST, NOT_REPORTED


# -- data.find_duplicates -----------------------------------------------------------

def _pairs(mask):
    i, j = np.nonzero(mask)
    return [(int(a), int(b)) for a, b in zip(i, j)]


def _duplicates_with_self(X, threshold):
    return _pairs(np.triu(cdist(X, X) <= threshold))


def _duplicates_both_orders(X, threshold):
    close = cdist(X, X) <= threshold
    np.fill_diagonal(close, False)
    return _pairs(close)


def _duplicates_strict(X, threshold):
    return _pairs(np.triu(cdist(X, X) < threshold, k=1))


def _duplicates_squared(X, threshold):
    return _pairs(np.triu(cdist(X, X, "sqeuclidean") <= threshold, k=1))


def _duplicates_by_j(X, threshold):
    return sorted(_pairs(np.triu(cdist(X, X) <= threshold, k=1)), key=lambda pair: (pair[1], pair[0]))


# -- data.overlap_report --------------------------------------------------------------

def _report(leaked, correct, n_test):
    return {"leaked": [int(i) for i in np.flatnonzero(leaked)], "fraction": float(leaked.sum() / n_test),
            "accuracy_all": float(correct.mean()), "accuracy_unseen": float(correct[~leaked].mean())}


def _overlap_train_indices(X_train, X_test, y_test, predicted, threshold):
    report = _overlap_right(X_train, X_test, y_test, predicted, threshold)
    report["leaked"] = [int(i) for i in np.flatnonzero(cdist(X_train, X_test).min(axis=1) <= threshold)]
    return report


def _overlap_train_fraction(X_train, X_test, y_test, predicted, threshold):
    report = _overlap_right(X_train, X_test, y_test, predicted, threshold)
    report["fraction"] = len(report["leaked"]) / len(X_train)
    return report


def _overlap_leaked_accuracy(X_train, X_test, y_test, predicted, threshold):
    leaked = cdist(X_test, X_train).min(axis=1) <= threshold
    correct = np.asarray(predicted) == np.asarray(y_test)
    return {**_report(leaked, correct, len(X_test)), "accuracy_unseen": float(correct[leaked].mean())}


def _overlap_test_too(X_train, X_test, y_test, predicted, threshold):
    within_test = cdist(X_test, X_test)
    np.fill_diagonal(within_test, np.inf)
    leaked = np.minimum(cdist(X_test, X_train).min(axis=1), within_test.min(axis=1)) <= threshold
    return _report(leaked, np.asarray(predicted) == np.asarray(y_test), len(X_test))


def _overlap_right(X_train, X_test, y_test, predicted, threshold):
    leaked = cdist(X_test, X_train).min(axis=1) <= threshold
    return _report(leaked, np.asarray(predicted) == np.asarray(y_test), len(X_test))


# -- data.conflicting_labels ------------------------------------------------------------

def _groups(X):
    groups = {}
    for index, row in enumerate(np.asarray(X)):
        groups.setdefault(row.tobytes(), []).append(index)
    return [members for members in groups.values() if len(members) > 1]


def _conflicts_all_duplicates(X, y):
    return sorted(i for members in _groups(X) for i in members)


def _conflicts_later_copies(X, y):
    return sorted(i for members in _groups(X) if len(set(y[members].tolist())) > 1 for i in members[1:])


def _conflicts_as_groups(X, y):
    return [members for members in _groups(X) if len(set(y[members].tolist())) > 1]


# -- data.out_of_fold_probs ---------------------------------------------------------------

def _oof_in_sample(make_model, X, y, folds):
    return make_model().fit(X, y).predict_proba(X)


def _oof_fold_order(make_model, X, y, folds):
    parts = []
    for fold in np.unique(folds):
        held_out = folds == fold
        parts.append(make_model().fit(X[~held_out], y[~held_out]).predict_proba(X[held_out]))
    return np.concatenate(parts)


def _oof_one_hot(make_model, X, y, folds):
    probs = np.zeros((len(y), len(np.unique(y))))
    for fold in np.unique(folds):
        held_out = folds == fold
        probs[held_out] = np.eye(probs.shape[1])[make_model().fit(X[~held_out], y[~held_out]).predict(X[held_out])]
    return probs


# -- data.relabel_first ---------------------------------------------------------------------

def _relabel_in_sample(X, y, budget, make_model):
    probs = make_model().fit(X, y).predict_proba(X)
    return np.argsort(probs[np.arange(len(y)), y], kind="stable")[:budget].tolist()


def _relabel_most_confident(X, y, budget, make_model):
    from sklearn.model_selection import cross_val_predict

    probs = cross_val_predict(make_model(), X, y, cv=5, method="predict_proba")
    return np.argsort(-probs[np.arange(len(y)), y])[:budget].tolist()


# -- data.leak_threshold -----------------------------------------------------------------------

def _leak_fixed(threshold):
    def leak_threshold(vault, X_test, report, thresholds):
        return {"threshold": threshold, "test": report(threshold)}
    return leak_threshold


def _leak_best_test(vault, X_test, report, thresholds):
    """Reports every threshold and keeps the best score: choosing on test."""
    scores = {t: report(t) for t in thresholds[:8]}
    best = max(scores, key=scores.get)
    return {"threshold": best, "test": scores[best]}


def _leak_no_report(vault, X_test, report, thresholds):
    return {"threshold": 0.5}


WRONG = {
    "data.find_duplicates": [
        (_duplicates_with_self, "every sample is at distance 0 from itself"),
        (_duplicates_both_orders, "each pair must appear once"),
        (_duplicates_strict, "`distance < 0` finds none"),
        (_duplicates_squared, "squared distances"),
        (_duplicates_by_j, "sort them by i, then by j"),
        (lambda X, threshold: zip(*np.nonzero(np.triu(cdist(X, X) <= threshold, k=1))), "a generator"),
        (lambda X, threshold: np.flatnonzero(np.triu(cdist(X, X) <= threshold, k=1)), "each item must be one pair"),
    ],
    "data.overlap_report": [
        (_overlap_train_indices, "`leaked` lists training samples"),
        (_overlap_train_fraction, "divide by len(X_test)"),
        (_overlap_leaked_accuracy, "yours is the accuracy on the leaked ones"),
        (_overlap_test_too, "compare each test item with the training set only"),
        (lambda X_train, X_test, y_test, predicted, threshold:
         list(_overlap_right(X_train, X_test, y_test, predicted, threshold).values()),
         "expected a dict with keys 'leaked', 'fraction', 'accuracy_all', 'accuracy_unseen', got a list"),
        (lambda X_train, X_test, y_test, predicted, threshold:
         {**_overlap_right(X_train, X_test, y_test, predicted, threshold), "fraction": None},
         "did the function forget to `return`?"),
    ],
    "data.conflicting_labels": [
        (_conflicts_all_duplicates, "you listed every duplicated row"),
        (_conflicts_later_copies, "the first occurrence included"),
        (_conflicts_as_groups, "not a list of groups"),
        (lambda X, y: {"rows": []}, "expected a sorted list of row indices, got a dict"),
    ],
    "data.out_of_fold_probs": [
        (_oof_in_sample, "in-sample probabilities"),
        (_oof_fold_order, "the rows are in fold order"),
        (_oof_one_hot, "use the model's predict_proba"),
        (lambda model, X, y, folds: np.zeros((len(y), 2)), "keep the template's parameter names"),
    ],
    "data.relabel_first": [
        (_relabel_in_sample, "not even half the wrong labels within reach"),
        (_relabel_most_confident, "not even half the wrong labels within reach"),
        (lambda X, y, budget, make_model: list(range(budget + 1)), "the annotators check exactly"),
        (lambda X, y, budget, make_model: [0] * budget, "a sample appears twice"),
        (lambda X, y, budget, make_model: np.arange(len(y)) < budget, "each item must be one integer index"),
    ],
    "data.leak_threshold": [
        (_leak_fixed(0.0), "a threshold of 0 removes exact copies only"),
        (_leak_fixed(0.1), "your threshold keeps some near copies"),
        (_leak_fixed(1.2), "also removes genuine test items"),
        (_leak_best_test, CHOSE_ON_TEST),
        (_leak_no_report, NOT_REPORTED),
        (lambda vault, X_test, report, thresholds: {"threshold": 0.45, "test": report(0.45)},
         "expected the threshold, one of"),
    ],
}
