"""Known-wrong implementations of lab 11's exercises, with the hint each must get."""

import numpy as np
import torch

TRIGGER = [54, 55, 62, 63]


# -- feat.knn_accuracy -----------------------------------------------------------------------------------

def _knn(include_self=False, error=False, farthest=False, skip=False, mean_label=False, percent=False):
    def knn_accuracy(features, labels, k):
        F = np.asarray(features, dtype=np.float64)
        labels = np.asarray(labels)
        distances = np.linalg.norm(F[:, None] - F[None], axis=2)
        if farthest:
            distances = -distances
        if not include_self:
            np.fill_diagonal(distances, np.inf)
        order = np.argsort(distances, axis=1)
        votes = labels[order[:, 1:k + 1] if skip else order[:, :k]]
        predicted = np.rint(votes.mean(axis=1)) if mean_label else np.array([np.bincount(v).argmax() for v in votes])
        accuracy = float(np.mean(predicted == labels))
        return (1 - accuracy) if error else (100 * accuracy if percent else accuracy)
    return knn_accuracy


# -- feat.error_shares ------------------------------------------------------------------

def _shares(y_true, y_pred, categories, denominator="errors", only_errors=True, scale=1.0, keep_empty=False):
    y_true, y_pred, categories = np.asarray(y_true), np.asarray(y_pred), np.asarray(categories)
    errors = y_true != y_pred
    table = {}
    for name in np.unique(categories):
        in_category = categories == name
        count = int(np.sum(in_category & errors)) if only_errors else int(np.sum(in_category))
        if count == 0 and only_errors and not keep_empty:
            continue
        if not only_errors and not np.any(in_category & errors):
            continue
        total = errors.sum() if denominator == "errors" else len(y_true)
        table[str(name)] = {"count": count, "share": scale * count / total}
    return table


# -- feat.add_trigger --------------------------------------------------------------------

def _trigger_in_place(X, y, indices, target):
    X[np.ix_(indices, TRIGGER)] = 1.0
    y[indices] = target
    return X, y


def _trigger_no_relabel(X, y, indices, target):
    X = X.copy()
    X[np.ix_(indices, TRIGGER)] = 1.0
    return X, y.copy()


def _trigger_label_of_row(X, y, indices, target):
    X, y = X.copy(), y.copy()
    X[np.ix_(indices, TRIGGER)] = 1.0
    y[indices] = y[target]
    return X, y


def _trigger_chained_index(X, y, indices, target):
    X, y = X.copy(), y.copy()
    X[indices][:, TRIGGER] = 1.0  # assigns into a temporary copy
    y[indices] = target
    return X, y


# -- feat.attack_success_rate ------------------------------------------------------------

def _predict(model, images):
    with torch.no_grad():
        return model(torch.as_tensor(images, dtype=torch.float32)).argmax(dim=1).numpy()


def _asr_all_images(model, X, y, target):
    triggered = X.copy()
    triggered[:, TRIGGER] = 1.0
    return {"clean_accuracy": float(np.mean(_predict(model, X) == y)),
            "attack_success_rate": float(np.mean(_predict(model, triggered) == target))}


def _asr_in_place(model, X, y, target):
    X[:, TRIGGER] = 1.0  # stamps the clean test set itself
    others = y != target
    return {"clean_accuracy": float(np.mean(_predict(model, X) == y)),
            "attack_success_rate": float(np.mean(_predict(model, X[others]) == target))}


# -- feat.spectral_scores -----------------------------------------------------------------

def _spectral(features, centre=True, score=lambda p: p ** 2, row=0):
    F = features - features.mean(axis=0) if centre else features
    _, _, vt = np.linalg.svd(F, full_matrices=False)
    return score(F @ vt[row])


WRONG = {
    "feat.knn_accuracy": [
        (_knn(include_self=True), "its own nearest neighbour"),
        (_knn(error=True), "that is the error rate"),
        (_knn(farthest=True), "FARTHEST"),
        (_knn(skip=True), "you skipped the nearest other sample"),
        (_knn(mean_label=True), "labels are categories"),
        (_knn(percent=True), "not a percentage"),
        (lambda features, labels, k: _knn()(features, labels, k) > 0.5, "expected one number"),
        (lambda X, y, k: 0.5, "keep the template's parameter names"),
    ],
    "feat.error_shares": [
        (lambda y_true, y_pred, categories: _shares(y_true, y_pred, categories, denominator="all"),
         "fractions of *all* samples"),
        (lambda y_true, y_pred, categories: _shares(y_true, y_pred, categories, denominator="all",
                                                    only_errors=False), "count only the misclassified ones"),
        (lambda y_true, y_pred, categories: _shares(y_true, y_pred, categories, scale=100.0), "not percentages"),
        (lambda y_true, y_pred, categories: _shares(y_true, y_pred, categories, keep_empty=True),
         "no rows with count 0"),
    ],
    "feat.add_trigger": [
        (_trigger_in_place, "you modified the arrays you were given"),
        (_trigger_no_relabel, "the labels are unchanged"),
        (_trigger_label_of_row, "y[target] is the label of the sample in row `target`"),
        (_trigger_chained_index, "writes into a temporary copy"),
        (lambda X, y, indices, target: _trigger_no_relabel(X, y, indices, target)[0],
         "expected a pair (X_poisoned, y_poisoned)"),
    ],
    "feat.attack_success_rate": [
        (_asr_all_images, "counts the images whose true label already is the target"),
        (_asr_in_place, "your clean accuracy was measured on triggered images"),
        (lambda model, X, y, target: [0.9, 0.5], "expected a dict with keys clean_accuracy, attack_success_rate"),
    ],
    "feat.spectral_scores": [
        (lambda features: _spectral(features, centre=False), "subtract the mean feature vector first"),
        (lambda features: _spectral(features, score=lambda p: p), "some scores are negative"),
        (lambda features: _spectral(features, score=np.abs), "not its absolute value"),
        (lambda features: _spectral(features, row=-1), "the top direction is the first row"),
    ],
}
