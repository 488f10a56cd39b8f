"""Experiment harnesses of lab 00 (warm-up): choose a model on validation, compare networks over seeds.

``model_lab(seed)`` draws a small 2-class problem (its shape, noise, class ratio and distractor
features from ``seed``) and returns ``(vault, fit)``: ``fit(candidate)`` trains one of
:data:`MODELS` on the training split. ``width_lab(seed)`` draws another problem and returns
``(vault, fit)`` where ``fit(width, seed)`` trains a one-hidden-layer network whose hidden layer is
random (its seed) and whose output layer is fitted by least squares, so that one training takes a
millisecond and two seeds give two different networks.

>>> vault, fit = model_lab(0)
>>> X, y = vault.val
>>> 0 <= accuracy(fit("linear"), X, y) <= 1, vault.spent
(True, 1)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from course_utils.vault import Vault

from .choices import paired_within_noise, within_noise

MODELS = ("majority", "linear", "neighbours")
WIDTHS = (6, 48)
SEEDS_NEEDED = 3
MODEL_BUDGET = 6
WIDTH_BUDGET = 10


def accuracy(model, X, y) -> float:
    """The vault's metric: the fraction of ``model.predict(X)`` equal to ``y``."""
    return float(np.mean(np.asarray(model.predict(X)) == np.asarray(y)))


def _splits(X, y, rng, parts=(0.5, 0.25)):
    """Shuffled train, validation and test splits (the rest)."""
    order = rng.permutation(len(y))
    a, b = int(parts[0] * len(y)), int((parts[0] + parts[1]) * len(y))
    return [(X[rows], y[rows]) for rows in (order[:a], order[a:b], order[b:])]


# -- start.choose_model ---------------------------------------------------------------------------------

def model_problem(seed: int) -> dict:
    """The drawn parameters of a ``model_lab`` problem (shape of the classes, noise, sizes)."""
    rng = np.random.default_rng(seed)
    return {"shape": str(rng.choice(["line", "ring", "none"], p=[0.4, 0.4, 0.2])), "n": int(rng.integers(240, 480)),
            "positives": float(rng.uniform(0.15, 0.5)), "flip": float(rng.uniform(0.0, 0.15)),
            "distractors": int(rng.integers(0, 7))}


def _model_data(seed: int):
    p = model_problem(seed)
    rng = np.random.default_rng([seed, 1])
    X = rng.normal(size=(p["n"], 2 + p["distractors"]))
    if p["shape"] == "line":
        score = X[:, 0] + 0.5 * X[:, 1]
    elif p["shape"] == "ring":
        score = -np.hypot(X[:, 0], X[:, 1])
    else:
        score = rng.normal(size=p["n"])
    y = (score > np.quantile(score, 1 - p["positives"])).astype(np.int64)
    flip = rng.random(p["n"]) < p["flip"]
    return X, np.where(flip, 1 - y, y), rng


class Majority:
    """Always predicts the most frequent training label (the baseline of exercise 2)."""

    def fit(self, X, y):
        labels, counts = np.unique(y, return_counts=True)
        self.label = labels[np.argmax(counts)]
        return self

    def predict(self, X):
        return np.full(len(X), self.label)


def _model(candidate: str):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    if candidate == "majority":
        return Majority()
    if candidate == "linear":
        return LogisticRegression()
    if candidate == "neighbours":
        return KNeighborsClassifier(n_neighbors=1)
    raise ValueError(f"unknown model {candidate!r}: choose one of {', '.join(map(repr, MODELS))}")


def model_lab(seed: int, budget: int = MODEL_BUDGET):
    """``(vault, fit)``: the splits of problem ``seed`` and ``fit(candidate)`` -> a fitted model."""
    X, y, rng = _model_data(seed)
    train, val, test = _splits(X, y, rng)
    vault = Vault(train, val, test, metric=accuracy, budget=budget)

    def fit(candidate):
        """Train the model ``candidate`` (one of "majority", "linear", "neighbours") on vault.train."""
        candidate = str(candidate)
        model = _model(candidate)
        vault.spend()
        vault.trained(candidate)
        return model.fit(*vault.train)

    return vault, fit


@lru_cache(maxsize=32)
def model_scores(seed: int) -> dict:
    """Per candidate: which validation items it gets right, and its training and test accuracy."""
    vault, fit = model_lab(seed, budget=None)
    scores = {}
    for candidate in MODELS:
        model = fit(candidate)
        scores[candidate] = {"right": np.asarray(model.predict(vault.val.X)) == vault.val.y,
                             "train": accuracy(model, *vault.train), "test": accuracy(model, *vault.sealed())}
    return scores


def acceptable_models(case: dict) -> list[str]:
    """The models within one standard error (paired, on the validation items) of the best one."""
    scores = model_scores(case["seed"])
    return paired_within_noise({c: s["right"] for c, s in scores.items()})


def best_on(seed: int, split: str) -> str:
    """The candidate with the best accuracy on ``split`` ("train" or "test"): typical wrong choices."""
    scores = model_scores(seed)
    return max(MODELS, key=lambda c: scores[c][split])


# -- start.compare_seeds --------------------------------------------------------------------------------

def width_problem(seed: int) -> dict:
    """The drawn parameters of a ``width_lab`` problem: training size, label noise, boundary wiggle."""
    rng = np.random.default_rng(seed)
    return {"n_train": int(np.exp(rng.uniform(np.log(20), np.log(1000)))), "flip": float(rng.uniform(0.0, 0.2)),
            "wiggle": float(rng.uniform(0.5, 3.0))}


class RandomFeatures:
    """A one-hidden-layer network: random ReLU features (fixed by ``seed``), output layer by least squares."""

    def __init__(self, width: int, seed: int):
        self.width, self.seed = int(width), seed

    def _hidden(self, X):
        return np.maximum(X @ self.weights + self.bias, 0.0)

    def fit(self, X, y):
        rng = np.random.default_rng([self.seed, self.width])
        self.weights = rng.normal(0.0, 1.5, (X.shape[1], self.width))
        self.bias = rng.uniform(-2.0, 2.0, self.width)
        H = np.column_stack([self._hidden(X), np.ones(len(X))])
        target = 2.0 * y - 1.0
        self.out = np.linalg.solve(H.T @ H + 1e-6 * np.eye(H.shape[1]), H.T @ target)
        return self

    def predict(self, X):
        return (np.column_stack([self._hidden(X), np.ones(len(X))]) @ self.out > 0).astype(np.int64)


def _width_data(seed: int):
    p = width_problem(seed)
    rng = np.random.default_rng([seed, 2])
    n = p["n_train"] + 400
    X = rng.uniform(-1.5, 1.5, (n, 2))
    y = (X[:, 1] > 0.6 * np.sin(p["wiggle"] * np.pi * X[:, 0])).astype(np.int64)
    y = np.where(rng.random(n) < p["flip"], 1 - y, y)
    fractions = (p["n_train"] / n, 200 / n)
    return X, y, rng, fractions


def width_lab(seed: int, budget: int = WIDTH_BUDGET):
    """``(vault, fit)``: the splits of problem ``seed`` and ``fit(width, seed)`` -> a fitted network."""
    X, y, rng, fractions = _width_data(seed)
    train, val, test = _splits(X, y, rng, fractions)
    vault = Vault(train, val, test, metric=accuracy, budget=budget)

    def fit(width, seed):
        """Train a network with ``width`` hidden units (6 or 48), its random layer drawn from ``seed``."""
        if int(width) not in WIDTHS:
            raise ValueError(f"unknown width {width!r}: choose one of {', '.join(map(str, WIDTHS))}")
        vault.spend()
        vault.trained(int(width), seed)
        return RandomFeatures(int(width), seed).fit(*vault.train)

    return vault, fit


@lru_cache(maxsize=32)
def width_scores(seed: int, seeds: int = 40) -> dict:
    """Per width: validation and training accuracy of ``seeds`` networks."""
    vault, fit = width_lab(seed, budget=None)
    scores = {}
    for width in WIDTHS:
        models = [fit(width, s) for s in range(seeds)]
        scores[width] = {"val": np.array([accuracy(m, *vault.val) for m in models]),
                         "train": np.array([accuracy(m, *vault.train) for m in models])}
    return scores


def acceptable_widths(case: dict) -> list[int]:
    """The widths whose mean validation accuracy is within two standard errors of a 3-seed comparison of
    the best one's (what three seeds per candidate can tell apart)."""
    scores = width_scores(case["seed"])
    means = {w: float(s["val"].mean()) for w, s in scores.items()}
    errors = {w: float(s["val"].std(ddof=1) / np.sqrt(SEEDS_NEEDED)) for w, s in scores.items()}
    return within_noise(means, errors, z=2.0)


def best_on_training(seed: int) -> int:
    """The width with the best mean *training* accuracy: a typical wrong choice."""
    scores = width_scores(seed)
    return max(WIDTHS, key=lambda w: scores[w]["train"].mean())
