"""Exercises of lab 11, feature space, error analysis & robustness (``solutions/11_features.ipynb``).

Ids: ``feat.penultimate_features``, ``feat.error_shares``, ``feat.add_trigger``,
``feat.attack_success_rate``, ``feat.spectral_scores``.

Cases are seeds and sizes; ``arguments`` builds the arrays and models from the
digits. The hint rules compute typical *wrong* answers (logits instead of
features, shares of all samples, an uncentred SVD...) to recognise them; the
reference answers come from the solution notebook.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .compare import close, exact
from .engine import Exercise
from .hints import like, when
from .values import as_array

TRIGGER = (54, 55, 62, 63)  # the bottom-right 2 x 2 corner of an 8 x 8 digit, flattened


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from course_utils.data import load_digits

    return load_digits()


# -- feat.penultimate_features ------------------------------------------------------

def _network(case: dict):
    """A seeded MLP: Linear, ReLU, Dropout(p) per hidden layer, then the output Linear; in training mode."""
    import torch
    from torch import nn

    torch.manual_seed(case["seed"])
    sizes, layers = case["sizes"], []
    for n_in, n_out in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        if case["dropout"]:
            layers.append(nn.Dropout(case["dropout"]))
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers).train()


def _penultimate_arguments(case: dict) -> dict:
    X, _ = _digits()
    rows = np.random.default_rng(case["seed"]).choice(len(X), case["n"], replace=False)
    return {"model": _network(case), "X": X[rows]}


def _penultimate_observe(result, kwargs) -> dict:
    return {"features": as_array(result).astype(np.float64), "training_after": bool(kwargs["model"].training)}


def _dropout_active(got, want, case) -> bool:
    """Features computed in training mode: the last dropout zeroes about a fraction p of the active units."""
    p = case["dropout"]
    f, w = np.asarray(got["features"], float), np.asarray(want["features"], float)
    if not p or f.shape != w.shape or not (w != 0).any():
        return False
    dropped = (f == 0) & (w != 0)
    return bool(dropped.sum() >= p / 3 * (w != 0).sum())


# -- feat.error_shares --------------------------------------------------------------

def _shares_arguments(case: dict) -> dict:
    """Labels, predictions wrong on an ``error_rate`` share, and a tag per sample drawn with ``weights``."""
    rng = np.random.default_rng(case["seed"])
    n, names = case["n"], case["categories"]
    y_true = rng.integers(0, 10, n)
    wrong = rng.random(n) < case["error_rate"]
    y_pred = np.where(wrong, (y_true + rng.integers(1, 10, n)) % 10, y_true)
    categories = np.asarray(names)[rng.choice(len(names), n, p=case["weights"])]
    return {"y_true": y_true, "y_pred": y_pred, "categories": categories.tolist()}


def _shares_wrong(case: dict, mistake: str) -> dict:
    kwargs = _shares_arguments(case)
    y_true, y_pred = kwargs["y_true"], kwargs["y_pred"]
    categories = np.asarray(kwargs["categories"])
    errors = y_true != y_pred
    table = {}
    for name in np.unique(categories[errors]):
        count = int(np.sum(errors & (categories == name)))
        if mistake == "all samples":
            table[str(name)] = {"count": count, "share": count / len(y_true)}
        elif mistake == "category size":
            size = int(np.sum(categories == name))
            table[str(name)] = {"count": size, "share": size / len(y_true)}
        elif mistake == "percent":
            table[str(name)] = {"count": count, "share": 100 * count / errors.sum()}
        else:
            raise ValueError(mistake)
    return table


def _zero_rows(got, want, case) -> bool:
    return isinstance(got, dict) and any(
        key not in want and isinstance(row, dict) and row.get("count") == 0 for key, row in got.items())


# -- feat.add_trigger ---------------------------------------------------------------

_PRISTINE: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _trigger_arguments(case: dict) -> dict:
    """``n`` digits (float32) and labels, ``k`` indices of non-target images to poison."""
    X, y = _digits()
    rng = np.random.default_rng(case["seed"])
    rows = rng.choice(len(X), case["n"], replace=False)
    X, y = X[rows].copy(), y[rows].copy()
    candidates = np.flatnonzero(y != case["target"])
    indices = np.sort(rng.choice(candidates, case["k"], replace=False))
    _PRISTINE.clear()
    _PRISTINE[id(X)] = (X.copy(), y.copy())
    return {"X": X, "y": y, "indices": indices, "target": case["target"]}


def _trigger_observe(result, kwargs) -> dict:
    X0, y0 = _PRISTINE.get(id(kwargs["X"]), (None, None))
    untouched = X0 is not None and np.array_equal(kwargs["X"], X0) and np.array_equal(kwargs["y"], y0)
    X_new, y_new = result
    return {"X": as_array(X_new).astype(np.float64), "y": as_array(y_new).astype(np.int64),
            "inputs_untouched": bool(untouched)}


def _trigger_wrong(case: dict, want: dict, mistake: str) -> dict:
    kwargs = _trigger_arguments(case)
    X, y, indices = kwargs["X"].astype(np.float64), kwargs["y"].copy(), kwargs["indices"]
    if mistake == "no relabel":
        return {**want, "y": y}
    if mistake == "label of row target":
        y[indices] = y[case["target"]]
        return {**want, "y": y}
    if mistake == "pixels unchanged":
        return {**want, "X": X}
    raise ValueError(mistake)


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
        id="feat.penultimate_features",
        title="Penultimate-layer features, in evaluation mode",
        points=2,
        cases=({"sizes": [64, 32, 16, 10], "dropout": 0.5, "n": 12, "seed": 0},
               {"sizes": [64, 24, 10], "dropout": 0.0, "n": 8, "seed": 1}),
        compare=close(rtol=1e-4, atol=1e-5),
        arguments=_penultimate_arguments,
        observe=_penultimate_observe,
        hints=(
            when(lambda got, want, case: np.shape(got["features"]) != np.shape(want["features"])
                 and np.shape(got["features"])[-1] == case["sizes"][-1],
                 "these are the logits (one column per class): stop before the last Linear layer, "
                 "e.g. model[:-1](X)"),
            when(_dropout_active,
                 "dropout was active (many features are 0 that should not be, the others are rescaled): call "
                 "model.eval() before the forward pass"),
            when(lambda got, want, case: got["training_after"] is False and want["training_after"] is True,
                 "the model was in training mode and you left it in evaluation mode: remember "
                 "model.training and restore it with model.train(was_training)"),
        ),
    ),
    Exercise(
        id="feat.error_shares",
        title="Error-analysis table: count and share of the errors per category",
        points=2,
        cases=({"n": 200, "error_rate": 0.2, "seed": 0, "categories": ["faint", "3 vs 8", "mislabelled", "other"],
                "weights": [0.3, 0.2, 0.1, 0.4]},
               {"n": 60, "error_rate": 0.1, "seed": 1, "categories": ["blurry", "other", "rare"],
                "weights": [0.5, 0.45, 0.05]}),
        compare=close(rtol=1e-9, atol=1e-12),
        arguments=_shares_arguments,
        hints=(
            like(lambda want, case: _shares_wrong(case, "all samples"),
                 "your shares are fractions of *all* samples; the error-analysis share is the fraction of "
                 "the *errors*: divide by the number of misclassified samples"),
            like(lambda want, case: _shares_wrong(case, "category size"),
                 "you counted every sample of each category; count only the misclassified ones "
                 "(y_pred != y_true)"),
            like(lambda want, case: _shares_wrong(case, "percent"),
                 "return shares as fractions between 0 and 1, not percentages"),
            when(_zero_rows, "list only the categories that occur among the errors (no rows with count 0)"),
        ),
    ),
    Exercise(
        id="feat.add_trigger",
        title="Poison a training set with a pixel trigger",
        points=2,
        cases=({"n": 30, "k": 4, "target": 0, "seed": 0},
               {"n": 20, "k": 2, "target": 7, "seed": 1}),
        compare=exact(),
        arguments=_trigger_arguments,
        observe=_trigger_observe,
        hints=(
            when(lambda got, want, case: got["inputs_untouched"] is False,
                 "you modified the arrays you were given (in place): work on copies, X.copy() and y.copy(), "
                 "so that the clean data stay clean"),
            like(lambda want, case: _trigger_wrong(case, want, "no relabel"),
                 "the trigger is there but the labels are unchanged: set y[indices] = target, otherwise the "
                 "network has no reason to associate the trigger with the target class"),
            like(lambda want, case: _trigger_wrong(case, want, "label of row target"),
                 "y[target] is the label of the sample in row `target`; the poisoned samples get the class "
                 "`target` itself: y[indices] = target"),
            like(lambda want, case: _trigger_wrong(case, want, "pixels unchanged"),
                 "no pixel changed: X[indices][:, TRIGGER] = 1 writes into a temporary copy; index both "
                 "axes at once, X[np.ix_(indices, TRIGGER)] = 1.0"),
        ),
    ),
    Exercise(
        id="feat.attack_success_rate",
        title="Clean accuracy and attack success rate of a backdoored model",
        points=2,
        cases=({"n": 80, "target": 0, "strength": 0.8, "seed": 0},
               {"n": 60, "target": 3, "strength": 0.8, "seed": 1}),
        compare=close(rtol=1e-9, atol=1e-12),
        arguments=_asr_arguments,
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
        compare=close(rtol=1e-3, atol=1e-3),
        arguments=_spectral_arguments,
        observe=lambda result, kwargs: as_array(result).astype(np.float64),
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
)
