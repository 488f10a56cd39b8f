"""Experiment harnesses of lab 02 (normalization & representation): which scaling for a nearest-neighbour
classifier, and which coordinates for a linear model.

``scaling_lab(seed)`` draws a tabular problem whose informative and uninformative features have scales
(and, sometimes, outliers) drawn from ``seed``; ``fit(scaling)`` scales the inputs with statistics of
the training split (``"none"``, ``"minmax"`` or ``"standard"``) and fits 5 nearest neighbours. The
scaling decides which features the distances listen to: equalizing the scales helps when the large
features are noise, and hurts when the scales carry the information. The fitted model scales raw
inputs itself, as a pipeline does at inference.

``representation_lab(seed)`` draws 2-D points whose class depends on the radius (rings), on a line,
or on a bit of both, and hands out raw points; the learner builds the features.

>>> vault, fit = scaling_lab(0)
>>> model = fit("standard")
>>> 0 <= accuracy(model, *vault.val) <= 1, vault.spent
(True, 1)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from course_utils.vault import Vault

from .choices import paired_within_noise
from .start import _splits, accuracy

SCALINGS = ("none", "minmax", "standard")
REPRESENTATIONS = ("cartesian", "polar")
SCALING_BUDGET = 6


# -- norm.choose_scaling --------------------------------------------------------------------------------

def scaling_problem(seed: int) -> dict:
    """The drawn parameters: noise features, the scales of the informative and the noise features (powers
    of ten), and whether an informative feature has a few huge outliers."""
    rng = np.random.default_rng(seed)
    return {"n": int(rng.integers(300, 480)), "noise_features": int(rng.integers(2, 6)),
            "informative_scale": float(rng.choice([-1.0, 0.0, 1.0])),
            "noise_scale": float(rng.choice([-1.0, 0.0, 1.0])), "outliers": bool(rng.random() < 0.4)}


def _scaling_data(seed: int):
    p = scaling_problem(seed)
    rng = np.random.default_rng([seed, 4])
    informative = rng.normal(size=(p["n"], 2))
    y = (np.hypot(informative[:, 0] - 0.3, informative[:, 1]) + 0.3 * rng.normal(size=p["n"]) > 1.1).astype(np.int64)
    noise = rng.normal(size=(p["n"], p["noise_features"]))
    X = np.column_stack([informative * 10 ** p["informative_scale"], noise * 10 ** p["noise_scale"]])
    if p["outliers"]:  # a sensor glitch: a few values fifty times too large in the first feature
        glitch = rng.random(p["n"]) < 0.02
        X[glitch, 0] += 50 * 10 ** p["informative_scale"] * np.sign(rng.normal(size=glitch.sum()))
    return X, y, rng


def scaler(scaling: str):
    """The scikit-learn transform of ``scaling``."""
    from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, StandardScaler

    options = {"none": FunctionTransformer, "minmax": MinMaxScaler, "standard": StandardScaler}
    if scaling not in options:
        raise ValueError(f"unknown scaling {scaling!r}: choose one of {', '.join(map(repr, SCALINGS))}")
    return options[scaling]()


def scaling_lab(seed: int, budget: int = SCALING_BUDGET):
    """``(vault, fit)``: the splits of problem ``seed`` and ``fit(scaling)`` -> a fitted pipeline."""
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline

    X, y, rng = _scaling_data(seed)
    train, val, test = _splits(X, y, rng)
    vault = Vault(train, val, test, metric=accuracy, budget=budget)

    def fit(scaling):
        """Scale with the training split's statistics ("none", "minmax" or "standard"), then 5 neighbours."""
        model = make_pipeline(scaler(str(scaling)), KNeighborsClassifier(5, algorithm="brute"))
        vault.spend()
        vault.trained(str(scaling))
        return model.fit(*vault.train)

    return vault, fit


@lru_cache(maxsize=32)
def scaling_right(seed: int) -> dict:
    """Per scaling: which validation items the fitted neighbours get right."""
    vault, fit = scaling_lab(seed, budget=None)
    return {s: fit(s).predict(vault.val.X) == vault.val.y for s in SCALINGS}


def acceptable_scalings(case: dict) -> list[str]:
    """The scalings within one standard error (paired, on the validation items) of the best one."""
    return paired_within_noise(scaling_right(case["seed"]))


# -- norm.representation --------------------------------------------------------------------------------

def representation_problem(seed: int) -> dict:
    """The drawn parameters: how much of the class is the radius (1: rings) and how much a line (0)."""
    rng = np.random.default_rng(seed)
    return {"n": int(rng.integers(240, 400)), "radial": float(rng.choice([0.0, 0.5, 1.0])),
            "noise": float(rng.uniform(0.1, 0.4))}


def _representation_data(seed: int):
    p = representation_problem(seed)
    rng = np.random.default_rng([seed, 6])
    X = rng.normal(size=(p["n"], 2)) * 1.5
    direction = rng.normal(size=2)
    radius = np.hypot(X[:, 0], X[:, 1])
    score = p["radial"] * (radius - np.median(radius)) + (1 - p["radial"]) * (X @ direction) / np.linalg.norm(direction)
    y = (score + p["noise"] * rng.normal(size=p["n"]) > 0).astype(np.int64)
    return X, y, rng


def polar(X) -> np.ndarray:
    """Columns r and θ (radians) of 2-D points."""
    X = np.asarray(X, dtype=np.float64)
    return np.column_stack([np.hypot(X[:, 0], X[:, 1]), np.arctan2(X[:, 1], X[:, 0])])


def representation_lab(seed: int) -> Vault:
    """The vault of problem ``seed``: raw 2-D points; the model handed to ``vault.test`` takes raw points."""
    X, y, rng = _representation_data(seed)
    train, val, test = _splits(X, y, rng)
    return Vault(train, val, test, metric=accuracy)


def linear_model(representation: str):
    """A logistic regression on ``representation`` of raw points (a pipeline: the transform travels with it)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    features = FunctionTransformer(polar if representation == "polar" else None)
    return make_pipeline(features, StandardScaler(), LogisticRegression())


@lru_cache(maxsize=32)
def representation_right(seed: int) -> dict:
    """Per representation: which validation points a linear model on it gets right."""
    vault = representation_lab(seed)
    X_val, y_val = vault.val
    return {r: linear_model(r).fit(*vault.train).predict(X_val) == y_val for r in REPRESENTATIONS}


def acceptable_representations(case: dict) -> list[str]:
    """The representations within one standard error (paired, on the validation points) of the best one."""
    return paired_within_noise(representation_right(case["seed"]))
