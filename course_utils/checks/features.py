"""Exercises of lab 11, feature space, error analysis & robustness (``solutions/11_features.ipynb``).

Ids: ``feat.knn_accuracy``, ``feat.fix_first``, ``feat.attack_success_rate``, ``feat.spectral_scores``,
``feat.choose_detector``.

``feat.fix_first`` and ``feat.choose_detector`` are decision exercises (:mod:`.decisions`): the learner's
function gets a sealed test set and a budget (:mod:`course_utils.experiments.features`, a problem drawn from
the case's seed, which varies per learner); the decision is judged against the choices the evidence
supports, the protocol (choose on the free evidence, open the test set once, for the choice) separately.

Cases are seeds and sizes; ``arguments`` builds the arrays and models from the digits or from seeded
Gaussian classes. The hint rules compute typical *wrong* answers (a point counted as its own neighbour,
shares of all samples, an uncentred SVD...) to recognise them; the reference answers come from the
solution notebook.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from course_utils.experiments import features as lab

from .choosing import candidate_among, chose_unsupported
from .compare import close, fraction, is_number
from .decisions import followed, observe_decision, supported
from .engine import Exercise
from .hints import distinct, like, when
from .values import AnswerError, as_array, describe, to_plain

TRIGGER = (54, 55, 62, 63)  # the bottom-right 2 x 2 corner of an 8 x 8 digit, flattened


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from course_utils.data import load_digits

    return load_digits()


# -- feat.knn_accuracy --------------------------------------------------------------------------------

def _knn_arguments(case: dict) -> dict:
    """Features of ``n`` samples in ``classes`` Gaussian classes (float32, like a network's), labels
    shuffled; the class means lie ``separation`` apart on average."""
    rng = np.random.default_rng(case["seed"])
    labels = rng.permutation(np.arange(case["n"]) % case["classes"])
    means = rng.normal(0, case["separation"], (case["classes"], case["dim"]))
    features = (means[labels] + rng.standard_normal((case["n"], case["dim"]))).astype(np.float32)
    return {"features": features, "labels": labels, "k": case["k"]}


def knn_votes(features, labels, k: int, include_self: bool = False, skip_nearest: bool = False,
              farthest: bool = False) -> np.ndarray:
    """The k labels each sample's neighbours vote with (leave-one-out unless ``include_self``), as a
    (n, k) array; the other flags make the typical mistakes."""
    F = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    distances = ((F[:, None, :] - F[None, :, :]) ** 2).sum(axis=2)
    if not include_self:
        np.fill_diagonal(distances, -np.inf if farthest else np.inf)
    order = np.argsort(-distances if farthest else distances, axis=1, kind="stable")
    start = 1 if skip_nearest else 0
    return labels[order[:, start:start + k]]


def _knn_wrong(case: dict, mistake: str) -> float:
    a = _knn_arguments(case)
    labels, k = a["labels"], a["k"]
    votes = knn_votes(a["features"], labels, k, include_self=mistake == "self", skip_nearest=mistake == "skip",
                      farthest=mistake == "farthest")
    if mistake == "mean label":
        predicted = np.rint(votes.mean(axis=1)).astype(int)
    else:
        predicted = np.array([np.bincount(row, minlength=labels.max() + 1).argmax() for row in votes])
    accuracy = float(np.mean(predicted == labels))
    return 1 - accuracy if mistake == "error rate" else accuracy


def _knn_is(mistake: str):
    """A rule: the answer is a number, the accuracy this mistake gives (to a quarter of a sample)."""
    return lambda got, want, case: is_number(got) and abs(float(got) - _knn_wrong(case, mistake)) < 0.25 / case["n"]


# -- feat.attack_success_rate ---------------------------------------------------------

def _backdoored_model(target: int, strength: float):
    """A linear nearest-centroid classifier of the digits with a planted backdoor: the trigger pixels
    add ``strength`` each to the logit of ``target``."""
    import torch
    from torch import nn

    X, y = _digits()
    means = np.stack([X[y == c].mean(axis=0) for c in range(10)]).astype(np.float64)
    weight = means.copy()
    weight[target, list(TRIGGER)] += strength
    model = nn.Linear(64, 10)
    with torch.no_grad():
        model.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        model.bias.copy_(torch.as_tensor(-0.5 * (means ** 2).sum(axis=1), dtype=torch.float32))
    return model


def _asr_arguments(case: dict) -> dict:
    X, y = _digits()
    rows = np.random.default_rng(case["seed"]).choice(len(X), case["n"], replace=False)
    return {"model": _backdoored_model(case["target"], case["strength"]), "X": X[rows].copy(), "y": y[rows].copy(),
            "target": case["target"]}


def _asr_wrong(case: dict, want: dict, mistake: str) -> dict:
    import torch

    kwargs = _asr_arguments(case)
    X, y, target = kwargs["X"].copy(), kwargs["y"], case["target"]
    X[:, list(TRIGGER)] = 1.0
    with torch.no_grad():
        triggered = kwargs["model"](torch.as_tensor(X)).argmax(dim=1).numpy()
    if mistake == "all images":
        return {**want, "attack_success_rate": float(np.mean(triggered == target))}
    if mistake == "clean on triggered":
        return {**want, "clean_accuracy": float(np.mean(triggered == y))}
    raise ValueError(mistake)


# -- feat.spectral_scores -------------------------------------------------------------

def _spectral_arguments(case: dict) -> dict:
    """Features of one class: ``n`` clean ones around a mean far from 0 and ``k`` poisoned ones shifted
    along a random direction."""
    rng = np.random.default_rng(case["seed"])
    n, k, d = case["n"], case["k"], case["d"]
    mean = case["offset"] * np.abs(rng.standard_normal(d))
    direction = rng.standard_normal(d)
    direction /= np.linalg.norm(direction)
    scales = 0.6 ** np.arange(d)  # distinct spreads: the top clean direction is well defined
    features = mean + rng.standard_normal((n + k, d)) * scales
    features[n:] += case["shift"] * direction
    return {"features": features[rng.permutation(n + k)].astype(np.float32)}


SCORES_ANSWER = "an array of n scores, one per row of features"


def _scores_observe(result, kwargs) -> np.ndarray:
    """The scores as a flat array: a column (n, 1), as `centred @ vt[:1].T` gives, is the same answer."""
    try:
        scores = as_array(result)
    except AnswerError:
        raise AnswerError(f"expected {SCORES_ANSWER}, got {describe(to_plain(result))}") from None
    if scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    return scores


def _spectral_wrong(case: dict, mistake: str) -> np.ndarray:
    F = _spectral_arguments(case)["features"].astype(np.float64)
    centred = F - F.mean(axis=0)
    if mistake == "uncentred":
        _, _, vt = np.linalg.svd(F, full_matrices=False)
        return (F @ vt[0]) ** 2
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    if mistake == "absolute":
        return np.abs(centred @ vt[0])
    if mistake == "last direction":
        return (centred @ vt[-1]) ** 2
    raise ValueError(mistake)


EXERCISES = (
    Exercise(
        id="feat.knn_accuracy",
        title="Do the features separate the classes? Leave-one-out k-NN accuracy",
        points=2,
        cases=({"seed": 0, "classes": 4, "dim": 8, "n": 80, "separation": 1.0, "k": 1},
               {"seed": 38, "classes": 3, "dim": 16, "n": 90, "separation": 0.6, "k": 5},
               {"seed": 16, "classes": 5, "dim": 6, "n": 100, "separation": 1.2, "k": 3}),
        compare=fraction(lambda case: case["n"]),  # k correct out of n samples
        arguments=_knn_arguments,
        answer="one number: the leave-one-out k-NN accuracy, a fraction in [0, 1]",
        hints=(*distinct((
            when(_knn_is("self"),
                 "every sample was its own nearest neighbour (distance 0), so it voted for its own label: "
                 "leave it out (set the diagonal of the distance matrix to infinity)"),
            when(_knn_is("error rate"), "that is the error rate; return the accuracy, 1 - error"),
            when(_knn_is("farthest"),
                 "those are the k FARTHEST samples: sort the distances in increasing order"),
            when(_knn_is("skip"),
                 "you skipped the nearest other sample: once the diagonal is infinite, the k nearest "
                 "neighbours are the first k columns of the sorted distances (no [1:] needed)"),
            when(_knn_is("mean label"),
                 "labels are categories, not numbers to average: vote for the most frequent label among "
                 "the k neighbours (np.bincount(...).argmax())"))),
            when(lambda got, want, case: float(np.asarray(got, dtype=float).reshape(())) > 1,
                 "return the accuracy as a fraction in [0, 1], not a percentage or a count"),
        ),
    ),
    Exercise(
        id="feat.fix_first",
        title="Error analysis on a budget: which slice of errors to fix first",
        points=2,
        cases=({"seed": 59},),
        varies=("seed",),
        arguments=lambda case: dict(zip(("vault", "inspect", "fixable"), lab.slice_lab(case["seed"]))),
        observe=observe_decision("category", convert=candidate_among(lab.CATEGORIES, "category")),
        compare={"decision": supported(lab.acceptable_slices, what="category"), "protocol": followed()},
        parts=("decision", "protocol"),
        answer="a dict {'category': one of the categories, 'test_error': the test error rate once it is fixed}",
        hints=(
            when(chose_unsupported(lambda case: lab.slice_mistake(case, "first"), lab.acceptable_slices),
                 "you looked at the first errors of the list: it is sorted by true class, and categories "
                 "gather on a few classes, so the first 60 are no sample of the errors. Inspect a random "
                 "sample (rng.choice(n, 60, replace=False))"),
            when(chose_unsupported(lambda case: lab.slice_mistake(case, "largest share"), lab.acceptable_slices),
                 "the largest slice is not the largest gain: a fix removes only the fixable fraction of its "
                 "errors, so compare share x fixable[category]"),
        ),
    ),
    Exercise(
        id="feat.attack_success_rate",
        title="Clean accuracy and attack success rate of a backdoored model",
        points=2,
        cases=({"n": 80, "target": 0, "strength": 0.8, "seed": 0},
               {"n": 60, "target": 3, "strength": 0.8, "seed": 1}),
        compare=close(rtol=1e-6, atol=1e-9),  # two fractions k/n: float32 passes, one image more does not
        arguments=_asr_arguments,
        answer="a dict with keys clean_accuracy, attack_success_rate (numbers)",
        parts=("clean_accuracy", "attack_success_rate"),
        hints=(
            like(lambda want, case: _asr_wrong(case, want, "all images"),
                 "your attack success rate counts the images whose true label already is the target: measure "
                 "it on the images with y != target only"),
            like(lambda want, case: _asr_wrong(case, want, "clean on triggered"),
                 "your clean accuracy was measured on triggered images: stamp the trigger on a copy of X, "
                 "not on X itself"),
        ),
    ),
    Exercise(
        id="feat.spectral_scores",
        title="Spectral-signature outlier scores",
        points=2,
        cases=({"n": 60, "k": 6, "d": 8, "offset": 3.0, "shift": 6.0, "seed": 0},
               {"n": 40, "k": 0, "d": 5, "offset": 2.0, "shift": 0.0, "seed": 1}),
        compare=close(rtol=1e-3, atol=1e-3),  # float32 features: SVDs in float32 and float64 differ here
        arguments=_spectral_arguments,
        observe=_scores_observe,
        answer=SCORES_ANSWER,
        hints=(
            like(lambda want, case: _spectral_wrong(case, "uncentred"), rtol=1e-3,
                 says="you took the SVD of the raw features: subtract the mean feature vector first, otherwise "
                      "the top direction points at the mean, not at the poisoned outliers"),
            when(lambda got, want, case: bool(np.min(got) < -1e-6),
                 "some scores are negative: the sign of a singular vector is arbitrary, so score with the "
                 "squared projection"),
            like(lambda want, case: _spectral_wrong(case, "absolute"), rtol=1e-3,
                 says="return the squared projection, not its absolute value"),
            like(lambda want, case: _spectral_wrong(case, "last direction"), rtol=1e-3,
                 says="NumPy sorts singular values in decreasing order: the top direction is the first row of "
                      "Vt, vt[0]"),
        ),
    ),
    Exercise(
        id="feat.choose_detector",
        title="Which detector's suspects to inspect: measured on a planted canary",
        points=2,
        cases=({"seed": 4},),
        varies=("seed",),
        arguments=lambda case: dict(zip(("vault", "detect"), lab.detector_lab(case["seed"]))),
        observe=observe_decision("detector", convert=candidate_among(lab.DETECTORS, "detector")),
        compare={"decision": supported(lab.acceptable_detectors, what="detector"), "protocol": followed()},
        parts=("decision", "protocol"),
        answer="a dict {'detector': one of 'spectral', 'distance', 'norm', 'precision': its precision on the test "
               "split}",
        hints=(
            when(chose_unsupported(lambda case: "spectral", lab.acceptable_detectors),
                 "the spectral signature is the lesson's detector, not a law: here the clean features have a "
                 "direction of larger spread than the trigger's shift, and the canary shows another detector "
                 "finding more poisoned images. Measure every detector on vault.val"),
        ),
    ),
)
