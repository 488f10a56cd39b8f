"""Exercises of lab 06, class imbalance (``solutions/06_imbalance.ipynb``).

Ids: ``imb.metrics``, ``imb.class_weights``, ``imb.threshold_for_recall``, ``imb.stratified_split``,
``imb.smote``.

Cases are counts, seeds and sizes; ``arguments`` builds the arrays. A SMOTE is random, so it is judged
by what every correct SMOTE satisfies (each new point lies on a segment from a minority sample to one
of its k nearest minority neighbours, none is a copy), not by its samples. The hint rules compute
typical *wrong* answers; the reference answers come from the solution notebook.
"""

from __future__ import annotations

import math

import numpy as np

from .compare import Verdict, close
from .engine import Exercise
from .hints import like, when


# -- imb.metrics ---------------------------------------------------------------------------------------

def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def _metrics_like(case: dict, swap=False, specificity_as_recall=False, arithmetic=False) -> dict:
    tp, fp, fn, tn = case["tp"], case["fp"], case["fn"], case["tn"]
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    if swap:
        precision, recall = recall, precision
    f1 = (precision + recall) / 2 if arithmetic else _ratio(2 * precision * recall, precision + recall)
    return {"precision": precision, "recall": recall,
            "specificity": recall if specificity_as_recall else _ratio(tn, tn + fp),
            "f1": f1, "accuracy": _ratio(tp + tn, tp + fp + fn + tn)}


def _metrics_observe(result, kwargs) -> dict:
    return {name: float(result[name]) for name in ("precision", "recall", "specificity", "f1", "accuracy")}


def _has_nan(got, want, case) -> bool:
    return any(isinstance(v, float) and math.isnan(v) for v in got.values())


# -- imb.class_weights ---------------------------------------------------------------------------------

def _labels_arguments(case: dict) -> dict:
    rng = np.random.default_rng(case["seed"])
    y = rng.choice(len(case["p"]), size=case["n"], p=case["p"])
    y[:len(case["p"])] = np.arange(len(case["p"]))  # every class present
    return {"y": y, "n_classes": len(case["p"])}


def _counts(case: dict) -> np.ndarray:
    return np.bincount(_labels_arguments(case)["y"], minlength=len(case["p"])).astype(float)


def _vector(result, kwargs) -> list[float]:
    if hasattr(result, "detach"):
        result = result.detach().cpu().numpy()
    return np.asarray(result, dtype=np.float64).ravel().tolist()


# -- imb.threshold_for_recall --------------------------------------------------------------------------

def _scores_arguments(case: dict) -> dict:
    """Scores of a classifier: positives ~ N(separation, 1), negatives ~ N(0, 1), squashed to (0, 1)."""
    rng = np.random.default_rng(case["seed"])
    y = (rng.random(case["n"]) < case["positive_fraction"]).astype(int)
    y[:2] = [1, 0]
    scores = 1 / (1 + np.exp(-(rng.standard_normal(case["n"]) + case["separation"] * y - 2)))
    return {"scores": scores, "y": y, "target_recall": case["target_recall"]}


def _next_score_below(case: dict, want: float) -> float:
    scores = _scores_arguments(case)["scores"]
    below = scores[scores < want]
    return float(below.max()) if below.size else float("nan")


def _recall_at(case: dict, threshold: float) -> float:
    a = _scores_arguments(case)
    return float(((a["scores"] >= threshold) & (a["y"] == 1)).sum() / (a["y"] == 1).sum())


# -- imb.stratified_split ------------------------------------------------------------------------------

def _split_arguments(case: dict) -> dict:
    a = _labels_arguments(case)
    return {"y": a["y"], "test_fraction": case["test_fraction"], "seed": case["seed"]}


def _split_observe(result, kwargs) -> dict:
    index = np.asarray(result).ravel()
    y = np.asarray(kwargs["y"])
    if index.dtype == bool:
        raise TypeError("return the indices of the test samples (np.flatnonzero of a mask), not a boolean mask")
    index = index.astype(int)
    return {"size": int(index.size), "distinct": bool(np.unique(index).size == index.size),
            "per_class": np.bincount(y[index], minlength=int(y.max()) + 1).tolist()}


def _split_compare():
    """Sizes exact, no repeated index, each class's count within 1 of the reference's."""
    within_one = close(rtol=0, atol=1.0)

    def compare(got, want):
        if got["size"] != want["size"]:
            return Verdict(False, f"{got['size']} test indices, expected {want['size']}")
        if not got["distinct"]:
            return Verdict(False, "some test indices are repeated")
        return within_one(got["per_class"], want["per_class"])

    compare.description = "same size, distinct, class counts within 1"
    return compare


def _random_split_counts(got, want, case) -> bool:
    return (got["size"] == want["size"] and got["distinct"]
            and max(abs(g - w) for g, w in zip(got["per_class"], want["per_class"])) > 1)


# -- imb.smote -----------------------------------------------------------------------------------------

def _minority_arguments(case: dict) -> dict:
    rng = np.random.default_rng(case["seed"])
    X = rng.standard_normal((case["n"], case["d"])) * np.arange(1, case["d"] + 1)
    return {"X_minority": X, "n_new": case["n_new"], "k": case["k"], "seed": case["seed"]}


def _neighbours(X: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k nearest other minority samples of each sample."""
    distances = np.linalg.norm(X[:, None, :] - X[None, :, :], axis=2)
    np.fill_diagonal(distances, np.inf)
    return np.argsort(distances, axis=1)[:, :k]


def _on_segments(new: np.ndarray, X: np.ndarray, pairs: list[tuple[int, int]], tol: float = 1e-6) -> np.ndarray:
    """For each new point, does it lie on one of the segments X[i] -> X[j] of ``pairs``?"""
    a = np.array([X[i] for i, _ in pairs])
    b = np.array([X[j] for _, j in pairs])
    direction = b - a  # (pairs, d)
    length2 = (direction ** 2).sum(axis=1)
    offset = new[:, None, :] - a[None, :, :]  # (new, pairs, d)
    gap = (offset * direction[None]).sum(axis=2) / length2[None]
    residual = np.linalg.norm(offset - gap[..., None] * direction[None], axis=2)
    scale = 1 + np.linalg.norm(X, axis=1).max()
    return ((residual < tol * scale) & (gap >= -tol) & (gap <= 1 + tol)).any(axis=1)


def _smote_observe(result, kwargs) -> dict:
    X = np.asarray(kwargs["X_minority"], dtype=np.float64)
    new = np.asarray(result.detach().cpu().numpy() if hasattr(result, "detach") else result, dtype=np.float64)
    observed = {"shape": list(new.shape)}
    if new.ndim != 2 or new.shape[1] != X.shape[1] or len(new) == 0:
        return observed
    neighbours = _neighbours(X, kwargs["k"])
    knn_pairs = [(i, int(j)) for i in range(len(X)) for j in neighbours[i]]
    all_pairs = [(i, j) for i in range(len(X)) for j in range(len(X)) if i != j]
    copies = (np.linalg.norm(new[:, None, :] - X[None, :, :], axis=2) < 1e-9).any(axis=1)
    observed.update({
        "on_neighbour_segments": bool(_on_segments(new, X, knn_pairs).all()),
        "on_minority_segments": bool(_on_segments(new, X, all_pairs).all()),
        "copies_of_originals": bool(copies.mean() > 0.02),
    })
    return observed


def _smote_says(key: str, value: bool):
    return lambda got, want, case: got.get("shape") == want["shape"] and got.get(key) is value


EXERCISES = (
    Exercise(
        id="imb.metrics",
        title="Precision, recall, specificity, F1 and accuracy from a confusion matrix",
        points=2,
        cases=({"tp": 8, "fp": 12, "fn": 2, "tn": 978}, {"tp": 40, "fp": 5, "fn": 10, "tn": 45},
               {"tp": 0, "fp": 0, "fn": 10, "tn": 990}),
        compare=close(rtol=1e-9, atol=1e-12),
        observe=_metrics_observe,
        hints=(
            when(_has_nan, "a ratio with a zero denominator (no predicted positives, say) is defined as 0 "
                           "here, as scikit-learn's zero_division=0 does; you returned nan"),
            like(lambda want, case: _metrics_like(case, swap=True),
                 "precision and recall are swapped: precision = TP / (TP + FP) is about the predicted "
                 "positives, recall = TP / (TP + FN) about the actual positives"),
            like(lambda want, case: _metrics_like(case, specificity_as_recall=True),
                 "specificity is the recall of the NEGATIVE class: TN / (TN + FP)"),
            like(lambda want, case: _metrics_like(case, arithmetic=True),
                 "F1 is the harmonic mean 2PR / (P + R), not the arithmetic mean (P + R) / 2"),
        ),
    ),
    Exercise(
        id="imb.class_weights",
        title="Class weights from class frequencies ('balanced')",
        points=1,
        cases=({"seed": 0, "n": 1000, "p": [0.9, 0.1]}, {"seed": 1, "n": 600, "p": [0.5, 0.3, 0.15, 0.05]}),
        compare=close(rtol=1e-9),
        arguments=_labels_arguments,
        observe=_vector,
        hints=(
            like(lambda want, case: (_counts(case) / _counts(case).sum()).tolist(),
                 "those are the class frequencies: the weights are their inverse, so that rare classes weigh more"),
            like(lambda want, case: (1 / _counts(case)).tolist(),
                 "1/count has the right shape but the wrong scale: multiply by n_samples / n_classes, so "
                 "that a balanced dataset gets weight 1 for every class"),
            like(lambda want, case: ((1 / _counts(case)) / (1 / _counts(case)).sum()).tolist(),
                 "normalized to sum to 1: use n_samples / (n_classes * count), the 'balanced' convention "
                 "of scikit-learn, which gives weight 1 to every class of a balanced dataset"),
        ),
    ),
    Exercise(
        id="imb.threshold_for_recall",
        title="The highest threshold that reaches a target recall",
        points=2,
        cases=({"seed": 0, "n": 2000, "positive_fraction": 0.05, "separation": 2.5, "target_recall": 0.9},
               {"seed": 1, "n": 500, "positive_fraction": 0.2, "separation": 1.5, "target_recall": 0.75},
               {"seed": 2, "n": 300, "positive_fraction": 0.1, "separation": 3.0, "target_recall": 1.0}),
        compare=close(rtol=1e-9),
        arguments=_scores_arguments,
        observe=lambda result, kwargs: float(result),
        hints=(
            like(lambda want, case: _recall_at(case, want),
                 "you returned the recall; return the threshold that reaches it"),
            like(lambda want, case: _next_score_below(case, want),
                 "one score too low: with the rule `scores >= threshold` the k-th highest positive score "
                 "itself reaches the recall (did you use > ?)"),
            when(lambda got, want, case: got < want and _recall_at(case, got) >= case["target_recall"],
                 "this threshold reaches the recall but is not the highest one that does: the higher the "
                 "threshold, the better the precision"),
            when(lambda got, want, case: got > want and _recall_at(case, got) < case["target_recall"],
                 "at this threshold the recall is below the target: count the positives among the scores "
                 ">= threshold, and keep ceil(target * n_positives) of them"),
        ),
    ),
    Exercise(
        id="imb.stratified_split",
        title="A stratified test split",
        points=2,
        cases=({"seed": 0, "n": 1000, "p": [0.98, 0.02], "test_fraction": 0.2},
               {"seed": 1, "n": 300, "p": [0.6, 0.3, 0.1], "test_fraction": 0.25}),
        compare=_split_compare(),
        arguments=_split_arguments,
        observe=_split_observe,
        hints=(
            when(_random_split_counts, "the class counts in your test set drift from the class proportions: "
                                       "draw the test samples class by class (round(test_fraction * count) "
                                       "of each class)"),
            when(lambda got, want, case: got["size"] == sum(want["per_class"]) and not got["distinct"],
                 "some indices are drawn twice: sample without replacement (rng.choice(..., replace=False) "
                 "or a permutation)"),
            when(lambda got, want, case: got["size"] == len(_split_arguments(case)["y"]) - want["size"],
                 "those are the training indices; return the test indices"),
        ),
    ),
    Exercise(
        id="imb.smote",
        title="SMOTE: synthetic minority samples",
        points=3,
        cases=({"seed": 0, "n": 20, "d": 2, "n_new": 40, "k": 5}, {"seed": 1, "n": 12, "d": 4, "n_new": 30, "k": 3}),
        compare=close(rtol=0),
        arguments=_minority_arguments,
        observe=_smote_observe,
        hints=(
            when(lambda got, want, case: got.get("shape") and got["shape"][0] == want["shape"][0] + case["n"],
                 "return only the n_new synthetic samples, not the originals stacked with them"),
            when(_smote_says("copies_of_originals", True),
                 "some new points are copies of minority samples: the nearest neighbour of a point is itself "
                 "(distance 0), so leave it out of its own k neighbours"),
            when(lambda got, want, case: _smote_says("on_neighbour_segments", False)(got, want, case)
                 and got.get("on_minority_segments") is True,
                 "your points lie between two minority samples, but not between a sample and one of its k "
                 "NEAREST neighbours: pick the partner among the k nearest"),
            when(_smote_says("on_minority_segments", False),
                 "your points leave the segments between minority samples: use ONE random gap in [0, 1] per "
                 "new point, new = x + gap * (neighbour - x), not one gap per feature"),
        ),
    ),
)
