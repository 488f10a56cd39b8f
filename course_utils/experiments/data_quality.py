"""Experiment harnesses of lab 01 (data quality): which labels to check first, and which test items
to remove before reporting.

``relabel_lab(seed)`` draws a noisy-label problem from the digits (its size, classes, noise rate and
the annotators' budget from ``seed``); ``relabel_yield`` counts how many wrong labels a list of
samples would send to the annotators, and ``relabel_needed`` how many the out-of-fold evidence
reaches, minus its uncertainty.

``leak_lab(seed)`` draws a scraped set with (near) copies split at random into train / validation /
test; the learner sees the test *inputs* (a leak scan needs nothing else) and
``report(threshold)`` removes the test items within ``threshold`` of a training sample, then opens
the sealed test labels once to score a fixed model on the rest.

>>> lab = relabel_lab(0)
>>> sorted(lab), lab["budget"] < len(lab["y"])
(['X', 'budget', 'make_model', 'y'], True)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from course_utils.vault import Vault

#: the thresholds a leak decision chooses from (pixels stored in [0, 1] or, raw, in [0, 16])
THRESHOLDS = tuple(sorted({round(0.1 * i, 1) for i in range(13)} | {round(1.6 * i, 1) for i in range(13)}))
FOLDS = 5


@lru_cache(maxsize=1)
def _digits():
    from course_utils.data import load_digits

    X, y = load_digits()
    return X.astype(np.float64), y


def make_model():
    """A fresh classifier: 10 nearest neighbours weighted by closeness (fast, and in-sample it vouches
    for every training label: a sample is its own nearest neighbour)."""
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=10, weights="distance", algorithm="brute")


# -- data.relabel_first ---------------------------------------------------------------------------------

def relabel_problem(seed: int) -> dict:
    """The drawn parameters: samples, classes, fraction of wrong labels, annotators' budget."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(300, 480))
    noise = float(rng.uniform(0.05, 0.25))
    return {"n": n, "classes": int(rng.integers(4, 11)), "noise": noise,
            "budget": int(round(n * noise * rng.uniform(0.5, 1.3)))}


@lru_cache(maxsize=32)
def _relabel_data(seed: int):
    from course_utils.data import add_label_noise

    p = relabel_problem(seed)
    X, y = _digits()
    rng = np.random.default_rng([seed, 1])
    rows = rng.choice(np.flatnonzero(y < p["classes"]), p["n"], replace=False)
    noisy, flipped = add_label_noise(y[rows], p["noise"], n_classes=p["classes"], seed=seed)
    return X[rows], noisy, flipped


def relabel_lab(seed: int) -> dict:
    """The learner's arguments: ``X``, noisy labels ``y``, the ``budget`` of relabellings, ``make_model``."""
    X, y, _ = _relabel_data(seed)
    return {"X": X.copy(), "y": y.copy(), "budget": relabel_problem(seed)["budget"], "make_model": make_model}


def relabel_yield(seed: int, indices) -> int:
    """How many of ``indices`` carry a wrong label (what the annotators would fix)."""
    flipped = _relabel_data(seed)[2]
    return int(flipped[np.asarray(indices, dtype=np.int64)].sum())


@lru_cache(maxsize=32)
def _probabilities(seed: int, out_of_fold: bool = True) -> np.ndarray:
    X, y, _ = _relabel_data(seed)
    if not out_of_fold:
        return make_model().fit(X, y).predict_proba(X)
    folds = np.random.default_rng([seed, 2]).permutation(np.arange(len(y)) % FOLDS)
    probs = np.zeros((len(y), len(np.unique(y))))
    for fold in range(FOLDS):
        held = folds == fold
        probs[held] = make_model().fit(X[~held], y[~held]).predict_proba(X[held])
    return probs


def ranked(seed: int, out_of_fold: bool = True) -> np.ndarray:
    """The samples from the least to the most probable given label (self-confidence)."""
    y = _relabel_data(seed)[1]
    probs = _probabilities(seed, out_of_fold)
    return np.argsort(probs[np.arange(len(y)), y], kind="stable")


def relabel_needed(seed: int) -> int:
    """The yield the out-of-fold evidence supports: the yield of its ranking's first ``budget`` samples,
    less two binomial standard errors or 15 % of it, whichever is larger (another honest ranking, by
    margin or by confident learning, may differ by that much)."""
    budget = relabel_problem(seed)["budget"]
    found = relabel_yield(seed, ranked(seed)[:budget])
    rate = found / budget
    return int(np.ceil(found - max(2 * np.sqrt(budget * rate * (1 - rate)), 0.15 * found)))


# -- data.leak_threshold --------------------------------------------------------------------------------

def leak_problem(seed: int) -> dict:
    """The drawn parameters: samples, fraction copied, re-scan noise of the copies (0: exact copies), and
    the pixel scale (1: stored in [0, 1]; 16: the raw digits, in [0, 16])."""
    rng = np.random.default_rng(seed)
    noise = 0.0 if rng.random() < 0.2 else float(rng.uniform(0.01, 0.06))
    return {"n": int(rng.integers(300, 450)), "copies": float(rng.uniform(0.15, 0.4)), "noise": noise,
            "scale": int(rng.choice([1, 16]))}


@lru_cache(maxsize=32)
def _leak_data(seed: int):
    from course_utils.data import duplicate_samples

    p = leak_problem(seed)
    X, y = _digits()
    rng = np.random.default_rng([seed, 3])
    rows = rng.choice(len(X), p["n"], replace=False)
    copies, labels, source = duplicate_samples(X[rows], y[rows], p["copies"], noise=p["noise"], seed=seed)
    X_all = p["scale"] * np.concatenate([X[rows], copies.astype(np.float64)])
    y_all = np.concatenate([y[rows], labels])
    group = np.concatenate([np.arange(p["n"]), source])
    order = rng.permutation(len(y_all))
    parts = np.split(order, [int(0.6 * len(order)), int(0.75 * len(order))])
    train, val, test = parts
    leaked = np.isin(group[test], group[train])
    return X_all, y_all, train, val, test, leaked


def nearest_train_distance(seed: int) -> np.ndarray:
    """Each test item's distance to its nearest training sample (the leak scan)."""
    from scipy.spatial.distance import cdist

    X, _, train, _, test, _ = _leak_data(seed)
    return cdist(X[test], X[train]).min(axis=1)


def leak_lab(seed: int):
    """``(vault, X_test, report)``: train and validation free, the test inputs for a leak scan, and
    ``report(threshold)``, which scores a logistic regression on the test items farther than
    ``threshold`` from every training sample (the test labels opened once, logged)."""
    X, y, train, val, test, _ = _leak_data(seed)
    vault = Vault((X[train], y[train]), (X[val], y[val]), (X[test], y[test]))
    distance = nearest_train_distance(seed)

    def report(threshold):
        """Remove the test items within ``threshold`` of a training sample; the accuracy on the rest."""
        threshold = float(threshold)
        kept = distance > threshold
        if not kept.any():
            raise ValueError(f"a threshold of {threshold:g} removes every test item")
        model = make_model().fit(*vault.train)
        X_test, y_test = vault.sealed()
        score = float(np.mean(model.predict(X_test[kept]) == y_test[kept]))
        vault.log_opening(threshold, score)
        return score

    return vault, X[test].copy(), report


def leak_errors(seed: int, threshold: float) -> int:
    """Test items a threshold gets wrong: leaked copies kept plus genuine items removed."""
    removed = nearest_train_distance(seed) <= threshold
    leaked = _leak_data(seed)[5]
    return int((leaked & ~removed).sum() + (~leaked & removed).sum())


def acceptable_thresholds(case: dict) -> list[float]:
    """The thresholds within one or 1 % of the test items of the fewest errors."""
    errors = {t: leak_errors(case["seed"], t) for t in THRESHOLDS}
    slack = max(1, int(0.01 * len(nearest_train_distance(case["seed"]))))
    return [t for t in THRESHOLDS if errors[t] <= min(errors.values()) + slack]
