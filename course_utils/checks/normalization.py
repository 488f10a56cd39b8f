"""Exercises of lab 02, normalization & input representation (``solutions/02_normalization.ipynb``).

Ids: ``norm.standardize``, ``norm.whitening``, ``norm.polar``, ``norm.one_hot``, ``norm.relative_contrast``.

Cases are seeds and sizes; ``arguments`` builds the arrays. A whitening matrix is right in many ways
(any rotation of a whitening matrix whitens too), so it is judged by what it does: the covariance of
the whitened data. The hint rules compute typical *wrong* answers; the reference answers come from the
solution notebook.
"""

from __future__ import annotations

import numpy as np

from .compare import close
from .engine import Exercise
from .hints import like, when
from .values import AnswerError, as_array, as_float, describe, to_plain


def _arrays(value) -> list:
    return np.asarray(value, dtype=np.float64).tolist()


def _matrix(value, what: str, shape: tuple[int, ...] | None = None) -> list:
    """A learner's array (list, array, tensor, sparse matrix, DataFrame) as nested lists; ``shape`` only
    where the check computes with it (elsewhere the validation step compares shapes, after the hints)."""
    if hasattr(value, "toarray"):  # a scipy sparse matrix, as OneHotEncoder returns by default
        value = value.toarray()
    if isinstance(value, (str, dict)) or (np.ndim(value) == 0 and not hasattr(value, "__len__")):
        raise AnswerError(f"expected {what}, got {describe(to_plain(value))}")
    array = as_array(value)
    if shape is not None and array.shape != shape:
        raise AnswerError(f"expected {what} of shape {shape}, got {describe(to_plain(value))}")
    return array.tolist()


# -- norm.standardize ----------------------------------------------------------------------------------

def _split_arguments(case: dict) -> dict:
    rng = np.random.default_rng(case["seed"])
    scales = 10.0 ** rng.uniform(-2, 3, case["d"])
    X = rng.normal(rng.uniform(-5, 5, case["d"]), scales, (case["n_train"] + case["n_test"], case["d"]))
    X[case["n_train"]:] += case.get("shift", 0.0) * scales  # the test data may drift
    if case.get("constant"):
        X[:, 0] = 7.0  # a constant feature: its standard deviation is 0
    return {"X_train": X[:case["n_train"]], "X_test": X[case["n_train"]:]}


PAIR = "a pair (train_scaled, test_scaled) of arrays shaped like X_train and X_test"


def _pair_observe(result, kwargs) -> dict:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise AnswerError(f"expected {PAIR}, got {describe(to_plain(result))}")
    return {"train": _matrix(result[0], "train_scaled, an array"), "test": _matrix(result[1], "test_scaled, an array")}


def _standardized(case: dict, stats_from: str = "train", ddof: int = 0, divide_by_variance: bool = False) -> dict:
    a = _split_arguments(case)
    train, test = a["X_train"], a["X_test"]

    def scale(data, reference):
        sd = reference.std(axis=0, ddof=ddof)
        sd = sd ** 2 if divide_by_variance else sd
        return (data - reference.mean(axis=0)) / np.where(sd == 0, 1.0, sd)

    if stats_from == "all":
        both = np.vstack([train, test])
        return {"train": _arrays(scale(train, both)), "test": _arrays(scale(test, both))}
    if stats_from == "own":
        return {"train": _arrays(scale(train, train)), "test": _arrays(scale(test, test))}
    return {"train": _arrays(scale(train, train)), "test": _arrays(scale(test, train))}


def _has_nan(got, want, case) -> bool:
    return any(bool(np.isnan(np.asarray(part, dtype=float)).any()) for part in got.values())


# -- norm.whitening ------------------------------------------------------------------------------------

def _correlated_arguments(case: dict) -> dict:
    rng = np.random.default_rng(case["seed"])
    mixing = rng.standard_normal((case["d"], case["d"])) * np.geomspace(1, case["spread"], case["d"])
    return {"X": rng.standard_normal((case["n"], case["d"])) @ mixing + rng.uniform(-3, 3, case["d"])}


def _whitened_covariance(result, kwargs) -> list:
    X = np.asarray(kwargs["X"], dtype=np.float64)
    d = X.shape[1]
    W = np.asarray(_matrix(result, "W, a d × d array", (d, d)))
    return _arrays(np.cov((X - X.mean(axis=0)) @ W, rowvar=False))


def _eigen(case: dict):
    X = _correlated_arguments(case)["X"]
    return np.linalg.eigh(np.cov(X, rowvar=False)), X


def _whitening_like(case: dict, slip: str) -> list:
    (values, vectors), X = _eigen(case)
    W = {"rotation only": vectors, "divided by eigenvalues": vectors / values,
         "transposed": (vectors / np.sqrt(values)).T}[slip]
    return _whitened_covariance(W, {"X": X})


# -- norm.polar ----------------------------------------------------------------------------------------

def _points_arguments(case: dict) -> dict:
    rng = np.random.default_rng(case["seed"])
    angle = rng.uniform(-np.pi, np.pi, case["n"])
    radius = rng.uniform(0.5, 3, case["n"])
    return {"X": np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])}


def _polar_like(case: dict, slip: str) -> list:
    X = _points_arguments(case)["X"]
    r = np.hypot(X[:, 0], X[:, 1])
    theta = np.arctan2(X[:, 1], X[:, 0])
    if slip == "atan":
        with np.errstate(divide="ignore"):
            theta = np.arctan(X[:, 1] / X[:, 0])
    elif slip == "degrees":
        theta = np.degrees(theta)
    elif slip == "swapped":
        return _arrays(np.column_stack([theta, r]))
    elif slip == "squared radius":
        r = r ** 2
    return _arrays(np.column_stack([r, theta]))


# -- norm.one_hot --------------------------------------------------------------------------------------

def _categories_arguments(case: dict) -> dict:
    rng = np.random.default_rng(case["seed"])
    return {"values": rng.choice(case["categories"], case["n"]).tolist()}


def _one_hot_like(case: dict, slip: str):
    values = _categories_arguments(case)["values"]
    if slip == "appearance":
        order = list(dict.fromkeys(values))
    else:
        order = sorted(set(values))
    codes = np.array([order.index(v) for v in values])
    if slip == "ordinal":
        return codes.tolist()
    return _arrays(np.eye(len(order))[codes])


# -- norm.relative_contrast ----------------------------------------------------------------------------

def _cloud_arguments(case: dict) -> dict:
    rng = np.random.default_rng(case["seed"])
    return {"X": rng.uniform(0, 1, (case["n"], case["d"])), "query": rng.uniform(0, 1, case["d"])}


def _contrast_like(case: dict, slip: str) -> float:
    a = _cloud_arguments(case)
    d = np.linalg.norm(a["X"] - a["query"], axis=1)
    if slip == "squared":
        d = d ** 2
    if slip == "ratio":
        return float(d.max() / d.min())
    return float((d.max() - d.min()) / d.min())


POLAR = "an (n, 2) array: columns r and θ"
ONE_HOT = "an (n, k) array of 0s and 1s, one column per distinct category"
CONTRAST = "one number: (d_max - d_min) / d_min"

EXERCISES = (
    Exercise(
        id="norm.standardize",
        title="Standardize with the training set's statistics",
        points=2,
        cases=({"seed": 0, "d": 4, "n_train": 50, "n_test": 20},
               {"seed": 1, "d": 3, "n_train": 30, "n_test": 10, "shift": 0.5, "constant": True}),
        compare=close(rtol=1e-7, atol=1e-9),
        arguments=_split_arguments,
        observe=_pair_observe,
        answer=PAIR,
        parts=("train", "test"),
        hints=(
            like(lambda want, case: _standardized(case, stats_from="all"),
                 "the mean and std were computed on the training AND test data: the test set leaks into the "
                 "preprocessing. Use the training set's statistics only"),
            like(lambda want, case: _standardized(case, stats_from="own"),
                 "the test set was standardized with its OWN statistics: at inference, apply the training "
                 "set's mean and std (a single test sample has no std of its own)"),
            like(lambda want, case: _standardized(case, ddof=1),
                 "that is the sample std (ddof=1); use the population std, np.std's default (ddof=0), as "
                 "scikit-learn's StandardScaler does"),
            like(lambda want, case: _standardized(case, divide_by_variance=True),
                 "you divided by the variance; divide by the standard deviation"),
            when(_has_nan, "a constant feature has std 0: divide by 1 instead (leave it centred at 0)"),
        ),
    ),
    Exercise(
        id="norm.whitening",
        title="A PCA whitening matrix",
        points=2,
        cases=({"seed": 0, "n": 500, "d": 2, "spread": 10.0}, {"seed": 1, "n": 300, "d": 4, "spread": 5.0}),
        compare=close(rtol=0, atol=5e-3),  # the identity, whether the covariance divides by n or n - 1
        arguments=_correlated_arguments,
        observe=_whitened_covariance,
        answer="the whitening matrix W, a d × d array",
        hints=(
            like(lambda want, case: _whitening_like(case, "rotation only"), rtol=1e-6,
                 says="you rotated onto the principal axes (the covariance is diagonal now) but did not "
                      "rescale them: divide each eigenvector column by the square root of its eigenvalue"),
            like(lambda want, case: _whitening_like(case, "divided by eigenvalues"), rtol=1e-6,
                 says="divide by the SQUARE ROOT of the eigenvalues (the standard deviations along the "
                      "axes), not by the eigenvalues"),
            like(lambda want, case: _whitening_like(case, "transposed"), rtol=1e-6,
                 says="the matrix is transposed: np.linalg.eigh returns the eigenvectors as COLUMNS; "
                      "W = E · diag(1/√λ), and the data are whitened by (X − mean) @ W"),
        ),
    ),
    Exercise(
        id="norm.polar",
        title="Polar coordinates",
        points=1,
        cases=({"seed": 0, "n": 12}, {"seed": 1, "n": 30}),
        compare=close(rtol=1e-6, atol=1e-9),
        arguments=_points_arguments,
        observe=lambda result, kwargs: _matrix(result, POLAR),
        answer=POLAR,
        hints=(
            like(lambda want, case: _polar_like(case, "atan"),
                 "arctan(y / x) cannot tell opposite quadrants apart (and fails at x = 0): use np.arctan2(y, x)"),
            like(lambda want, case: _polar_like(case, "degrees"), "keep the angle in radians"),
            like(lambda want, case: _polar_like(case, "swapped"), "the columns are swapped: radius first, then angle"),
            like(lambda want, case: _polar_like(case, "squared radius"),
                 "that is the squared radius: take the square root (np.hypot)"),
        ),
    ),
    Exercise(
        id="norm.one_hot",
        title="One-hot encoding",
        points=2,
        cases=({"seed": 0, "n": 10, "categories": ["red", "green", "blue"]},
               {"seed": 1, "n": 15, "categories": ["small", "medium", "large", "huge"]}),
        compare=close(rtol=0),
        arguments=_categories_arguments,
        observe=lambda result, kwargs: _matrix(result, ONE_HOT),
        answer=ONE_HOT,
        hints=(
            like(lambda want, case: _one_hot_like(case, "ordinal"),
                 "those are ordinal codes (one integer per category): they invent an order and distances "
                 "between categories. Return one 0/1 column per category"),
            like(lambda want, case: _one_hot_like(case, "appearance"),
                 "the columns follow the order of first appearance; sort the distinct categories, so that the "
                 "same category always gets the same column"),
        ),
    ),
    Exercise(
        id="norm.relative_contrast",
        title="Relative contrast of distances (the curse of dimensionality)",
        points=1,
        cases=({"seed": 0, "n": 200, "d": 2}, {"seed": 1, "n": 200, "d": 100}),
        compare=close(rtol=1e-4),  # in 1-D, d_min is tiny and its float32 rounding shows; the slips differ by far more
        arguments=_cloud_arguments,
        observe=lambda result, kwargs: as_float(result, CONTRAST),
        answer=CONTRAST,
        hints=(
            like(lambda want, case: _contrast_like(case, "squared"),
                 "those are squared distances: take the Euclidean distance (the square root)"),
            like(lambda want, case: _contrast_like(case, "ratio"),
                 "that is d_max / d_min; the relative contrast is (d_max − d_min) / d_min"),
        ),
    ),
)
