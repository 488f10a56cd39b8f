"""Known-wrong implementations of lab 01's exercises, with the hint each must get."""

import numpy as np
from scipy.spatial.distance import cdist


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


# -- data.label_issues ---------------------------------------------------------------------

def _issues(labels, pred_probs, thresholds=None, empty_guess=-np.inf):
    labels = np.asarray(labels)
    if thresholds is None:
        thresholds = np.array([pred_probs[labels == j, j].mean() for j in range(pred_probs.shape[1])])
    confident = pred_probs >= thresholds
    guess = np.where(confident, pred_probs, empty_guess).argmax(axis=1)
    if empty_guess == 0.0:
        return guess != labels
    return confident.any(axis=1) & (guess != labels)


def _issues_any_other(labels, pred_probs):
    labels = np.asarray(labels)
    thresholds = np.array([pred_probs[labels == j, j].mean() for j in range(pred_probs.shape[1])])
    others = pred_probs >= thresholds
    others[np.arange(len(labels)), labels] = False
    return others.any(axis=1)


# -- data.sample_problems --------------------------------------------------------------------

def _problems(images, shape=(8, 8), order=("shape", "finite", "range", "constant"), names=None,
              same_shape=lambda image, shape: image.shape == tuple(shape),
              out_of_range=lambda image: image.min() < 0 or image.max() > 1,
              constant=lambda image: image.max() == image.min()):
    names = names or {"shape": "wrong shape", "finite": "not finite", "range": "out of range", "constant": "constant"}
    tests = {"shape": lambda image: not same_shape(image, shape),
             "finite": lambda image: not np.isfinite(image).all(),
             "range": out_of_range,
             "constant": constant}
    problems = []
    for image in images:
        image = np.asarray(image)
        failed = next((test for test in order if tests[test](image)), None)
        problems.append(names[failed] if failed else "ok")
    return problems


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
    "data.label_issues": [
        (lambda labels, pred_probs: pred_probs.argmax(axis=1) != np.asarray(labels),
         "the most probable class is not the label"),
        (lambda labels, pred_probs: _issues(labels, pred_probs, thresholds=pred_probs.mean(axis=0)),
         "thresholds averaged over all samples"),
        (lambda labels, pred_probs: _issues(labels, pred_probs, thresholds=0.5), "a fixed threshold"),
        (lambda labels, pred_probs: _issues(labels, pred_probs, empty_guess=0.0), "no class reaches its threshold"),
        (_issues_any_other, "the guess is the most probable of them"),
        (lambda labels, pred_probs: np.flatnonzero(_issues(labels, pred_probs)), "not the indices"),
    ],
    "data.sample_problems": [
        (lambda images, shape=(8, 8): _problems(images, shape, names={
            "shape": "bad shape", "finite": "nan", "range": "range", "constant": "blank"}), "use exactly the labels"),
        (lambda images, shape=(8, 8): _problems(images, shape, order=("shape", "range", "constant")),
         "every comparison with NaN is False"),
        (lambda images, shape=(8, 8): _problems(images, shape, order=("finite", "shape", "range", "constant")),
         "check the shape first"),
        (lambda images, shape=(8, 8): _problems(images, shape, same_shape=lambda image, s: image.size == np.prod(s)),
         "compare image.shape with shape, not image.size"),
        (lambda images, shape=(8, 8): _problems(images, shape, constant=lambda image: image.max() == 0),
         "not only an all-zero image"),
        (lambda images, shape=(8, 8): _problems(images, shape, out_of_range=lambda image: image.max() > 1),
         "a value below 0 is out of range too"),
    ],
}
