"""Known-wrong implementations of lab 11's exercises, with the hint each must get."""

import numpy as np
import torch

from course_utils.experiments.features import CATEGORIES, DETECTORS

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


# -- feat.fix_first ----------------------------------------------------------------------

def _fix_first(mistake):
    def fix_first(vault, inspect, fixable):
        if mistake == "first":
            indices = np.arange(60)
        else:
            indices = np.random.default_rng(0).choice(len(vault.val), 60, replace=False)
        tags = inspect(indices)
        gain = {c: tags.count(c) * (1.0 if mistake == "largest share" else fixable[c]) for c in CATEGORIES}
        best = max(gain, key=gain.get)
        if mistake == "on test":
            after = {c: vault.test(c, candidate=c) for c in CATEGORIES}
            best = min(after, key=after.get)
            return {"category": best, "test_error": after[best]}
        if mistake == "peek":
            other = next(c for c in CATEGORIES if c != best)
            return {"category": best, "test_error": vault.test(other, candidate=other)}
        if mistake == "no report":
            return {"category": best}
        return {"category": best, "test_error": vault.test(best, candidate=best)}

    return fix_first


# -- feat.choose_detector -----------------------------------------------------------------

def _choose_detector(mistake):
    def choose_detector(vault, detect):
        F, planted = vault.val
        precision = {name: planted[np.argsort(-detect(name, F))[:30]].mean() for name in DETECTORS}
        best = "spectral" if mistake == "spectral" else max(precision, key=precision.get)
        if mistake == "on test":
            test = {name: vault.test(lambda X, name=name: detect(name, X), candidate=name) for name in DETECTORS}
            best = max(test, key=test.get)
            return {"detector": best, "precision": test[best]}
        if mistake == "no report":
            return {"detector": best}
        return {"detector": best, "precision": vault.test(lambda X: detect(best, X), candidate=best)}

    return choose_detector


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
    "feat.fix_first": [
        (_fix_first("first"), "the first 60 are no sample of the errors"),
        (_fix_first("largest share"), "the largest slice is not the largest gain"),
        (_fix_first("on test"), "choosing on test"),
        (_fix_first("peek"), "peeking"),
        (_fix_first("no report"), "reported no test score"),
        (lambda vault, inspect, fixable: {"category": "blurry"}, "expected the category, one of 'faint'"),
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
    "feat.choose_detector": [
        (_choose_detector("spectral"), "the spectral signature is the lesson's detector, not a law"),
        (_choose_detector("on test"), "choosing on test"),
        (_choose_detector("no report"), "reported no test score"),
        (lambda vault, detect: "norm", "reported no test score"),
    ],
}
