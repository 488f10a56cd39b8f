"""Exercises of lab 02, normalization & input representation (``solutions/02_normalization.ipynb``).

Ids: ``norm.standardize``, ``norm.whitening``, ``norm.choose_scaling``, ``norm.representation``.

The last two are decision exercises on per-learner data (:mod:`course_utils.experiments.normalization`):
the scaling for a nearest-neighbour classifier and the coordinates for a linear model, each chosen on
validation with the test set opened once for the final choice.

Cases are seeds and sizes; ``arguments`` builds the arrays. A whitening matrix is right in many ways
(any rotation of a whitening matrix whitens too), so it is judged by what it does: the covariance of
the whitened data. The hint rules compute typical *wrong* answers; the reference answers come from the
solution notebook.
"""

from __future__ import annotations

import numpy as np

from course_utils.experiments import normalization as lab

from .choosing import candidate_among
from .compare import close
from .decisions import followed, observe_decision, supported
from .engine import Exercise
from .hints import like, when
from .values import AnswerError, as_array, describe, to_plain


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


# -- norm.choose_scaling and norm.representation (decisions) ----------------------------------------------

def _decided_unsupported(choice: str, acceptable):
    """A hint test: the learner chose ``choice`` and the evidence does not support it."""
    return lambda got, want, case: (isinstance(got, dict) and got["decision"] == choice
                                    and choice not in acceptable(case))


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
        id="norm.choose_scaling",
        title="Choose the scaling for nearest neighbours on validation",
        points=2,
        cases=({"seed": 4}, {"seed": 5}),
        varies=("seed",),
        arguments=lambda case: dict(zip(("vault", "fit"), lab.scaling_lab(case["seed"]))),
        observe=observe_decision("scaling", convert=candidate_among(lab.SCALINGS, "scaling")),
        compare={"decision": supported(lab.acceptable_scalings, what="scaling"), "protocol": followed()},
        parts=("decision", "protocol"),
        answer="a dict {'scaling': 'none', 'minmax' or 'standard', 'test': the test accuracy of that model}",
        hints=(
            when(_decided_unsupported("standard", lab.acceptable_scalings),
                 "scaling is not always right: here the features with the large scales carry the information, "
                 "and equalizing the scales lets the uninformative ones (or an outlier-stretched scale) drown it "
                 "in the distances. Trust the validation accuracy, not the habit"),
            when(_decided_unsupported("none", lab.acceptable_scalings),
                 "without scaling, the features with the largest scales decide every distance, and here they "
                 "are noise: compare the scalings on validation"),
        ),
    ),
    Exercise(
        id="norm.representation",
        title="Cartesian or polar inputs for a linear model",
        points=2,
        cases=({"seed": 4}, {"seed": 2}),
        varies=("seed",),
        arguments=lambda case: {"vault": lab.representation_lab(case["seed"])},
        observe=observe_decision("representation", convert=candidate_among(lab.REPRESENTATIONS, "representation")),
        compare={"decision": supported(lab.acceptable_representations, what="representation"),
                 "protocol": followed()},
        parts=("decision", "protocol"),
        answer="a dict {'representation': 'cartesian' or 'polar', 'test': the test accuracy of that model}",
        hints=(
            when(_decided_unsupported("cartesian", lab.acceptable_representations),
                 "the class here depends on the distance to the origin: no line in (x, y) separates rings, a "
                 "threshold on r does. Compare both representations on validation"),
            when(_decided_unsupported("polar", lab.acceptable_representations),
                 "the boundary here is a line in (x, y), which is a curve in (r, θ): polar coordinates are not "
                 "always better. Compare both representations on validation"),
        ),
    ),
)
