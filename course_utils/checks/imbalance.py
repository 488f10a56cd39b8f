"""Exercises of lab 06, class imbalance (``solutions/06_imbalance.ipynb``).

Ids: ``imb.threshold_for_recall``, ``imb.threshold``, ``imb.stratified_split``, ``imb.smote``, ``imb.remedy``.

Two exercises are decisions (:mod:`.decisions`): the learner gets an experiment harness
(:mod:`course_utils.experiments.imbalance`) and chooses the threshold for a required recall on
validation, or which imbalance remedy to keep from an ablation over several seeds, then opens the test
set once. The decision is judged against what the harness's own evidence supports, the protocol by the
vault's sentence; their seed varies per learner.

The other cases are seeds and sizes; ``arguments`` builds the arrays. Two exercises are random, so they
are judged by what every correct answer satisfies, not by its draws: a stratified split by its class
counts (each within 1 of test_fraction x count, however it was rounded), a SMOTE by where its points lie
(on a segment from a minority sample to one of its k nearest minority neighbours, never a copy), how
their interpolation factors spread over (0, 1) and how many minority samples they use. The hint rules
compute typical *wrong* answers; the reference answers come from the solution notebook.
"""

from __future__ import annotations

import math

import numpy as np

from course_utils.experiments.seeded import chose, observe_choice
from course_utils.vault import FOLLOWED, same

from .compare import Verdict, close
from .decisions import followed, observe_decision, supported
from .engine import Exercise
from .hints import like, when
from .values import AnswerError, as_array, as_float, describe, to_plain


# -- labels (imb.stratified_split) ---------------------------------------------------------------------

def _labels_arguments(case: dict) -> dict:
    rng = np.random.default_rng(case["seed"])
    y = rng.choice(len(case["p"]), size=case["n"], p=case["p"])
    y[:len(case["p"])] = np.arange(len(case["p"]))  # every class present
    return {"y": y, "n_classes": len(case["p"])}


# -- imb.threshold and imb.remedy: decisions -------------------------------------------------------------

def _threshold_arguments(case: dict) -> dict:
    from course_utils.experiments.imbalance import threshold_lab

    return {"lab": threshold_lab(case["seed"])}


def _threshold_observe(result, kwargs) -> dict:
    """The threshold as the validation positive's score it stands for (any threshold between the same two
    positive scores finds the same positives on validation), and the protocol."""
    lab = kwargs["lab"]
    convert = lambda t: lab.on_validation(as_float(t, "one number (your threshold)"))  # noqa: E731
    return observe_decision("threshold", vault="lab", convert=convert)(result, kwargs)


def _acceptable_thresholds(case: dict) -> list:
    from course_utils.experiments.imbalance import acceptable_thresholds

    return acceptable_thresholds(case)


def _threshold_on_training(case: dict) -> float:
    from course_utils.experiments.imbalance import threshold_on

    return threshold_on(case["seed"], "train")


def _unsupported_threshold(got, case) -> bool:
    """The protocol was followed and the threshold is not one the evidence supports (the hints' guard)."""
    return got["protocol"] == FOLLOWED and not any(same(got["decision"], t) for t in _acceptable_thresholds(case))


def _validation_recall_gap(got, case) -> float:
    """The validation recall at the learner's threshold minus the required recall."""
    from course_utils.experiments.imbalance import threshold_lab, validation_recall

    return validation_recall(case["seed"], got["decision"]) - threshold_lab(case["seed"]).required_recall


def _misses_recall(got, want, case) -> bool:
    return (_unsupported_threshold(got, case) and _validation_recall_gap(got, case) < 0
            and not chose(_threshold_on_training, _acceptable_thresholds)(got, want, case))


def _too_low(got, want, case) -> bool:
    return _unsupported_threshold(got, case) and _validation_recall_gap(got, case) >= 0


def _remedy_arguments(case: dict) -> dict:
    from course_utils.experiments.imbalance import remedy_lab

    return {"lab": remedy_lab(case["seed"])}


def _acceptable_remedies(case: dict) -> list:
    from course_utils.experiments.imbalance import acceptable_remedies

    return acceptable_remedies(case)


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

SPLIT_ANSWER = "the indices of the test samples (one integer array)"


def _split_arguments(case: dict) -> dict:
    a = _labels_arguments(case)
    return {"y": a["y"], "test_fraction": case["test_fraction"], "seed": case["seed"]}


def _class_sizes(case: dict) -> np.ndarray:
    return np.bincount(_split_arguments(case)["y"])


def _split_observe(result, kwargs) -> dict:
    """The class counts of the test indices, whether they are distinct, and whether they look like
    positions *within* each class (0, 1, 2, ... of the class's own samples) rather than indices of y."""
    if isinstance(result, (tuple, list)) and len(result) > 1 and all(np.ndim(part) == 1 and np.size(part) > 1
                                                                     for part in result):
        together = np.sort(np.concatenate([np.asarray(part).ravel() for part in result]))
        if len(result) == 2 and np.array_equal(together, np.arange(len(kwargs["y"]))):
            raise AnswerError(f"expected {SPLIT_ANSWER}, got a pair of arrays: return only the test indices, "
                              "not (train, test)")
        raise AnswerError(f"expected {SPLIT_ANSWER}, got a list of {len(result)} arrays: concatenate them "
                          "(np.concatenate)")
    if _is_mask(result):
        raise AnswerError("return the indices of the test samples (np.flatnonzero of a mask), not a boolean mask")
    try:
        index = as_array(result)
    except AnswerError:
        raise AnswerError(f"expected {SPLIT_ANSWER}, got {describe(to_plain(result))}") from None
    if index.ndim != 1:
        raise AnswerError(f"expected {SPLIT_ANSWER}, got {describe(to_plain(result))}")
    y = np.asarray(kwargs["y"])
    if not np.all(np.isfinite(index)) or not np.all(index == np.round(index)):
        raise AnswerError("indices are whole numbers: some of yours are not")
    index = index.astype(np.int64)
    if index.size and (index.min() < 0 or index.max() >= len(y)):
        raise AnswerError(f"some of your indices are not positions of y (they must lie in 0 ... {len(y) - 1})")
    sizes = np.bincount(y)
    values, multiplicity = np.unique(index, return_counts=True)
    per_class = np.bincount(y[index], minlength=len(sizes))
    classes_longer = (sizes[None, :] > values[:, None]).sum(axis=1)  # classes that have a position `value`
    wrong = multiplicity.max(initial=1) > 1 or np.any(np.abs(per_class - kwargs["test_fraction"] * sizes) >= 1)
    positions = bool(index.size and wrong and index.max() < sizes.max() and np.all(multiplicity <= classes_longer))
    return {"distinct": bool(multiplicity.max(initial=1) == 1), "per_class": per_class.tolist(),
            "within_class_positions": positions}


def _is_mask(result) -> bool:
    plain = to_plain(result)
    if isinstance(plain, dict):
        return plain.get("dtype") == "bool"
    return isinstance(plain, list) and bool(plain) and all(isinstance(v, bool) for v in plain)


def _counts_off(got: dict, case: dict, fraction: float) -> list[int]:
    """The classes whose count is not within 1 of ``fraction`` x the class size."""
    target = fraction * _class_sizes(case)
    return [c for c, (g, t) in enumerate(zip(got["per_class"], target)) if abs(g - t) >= 1]


def _split_compare():
    """Distinct indices; each class's test count within 1 of test_fraction x its size (any rounding)."""

    def compare(got, want, case):
        if not got["distinct"]:
            return Verdict(False, "some test indices are repeated", "some test indices are repeated")
        off = _counts_off(got, case, case["test_fraction"])
        if not off:
            return Verdict(True)
        c = off[0]
        size = int(_class_sizes(case)[c])
        target = case["test_fraction"] * size
        why = (f"class {c}: {got['per_class'][c]} test samples, expected test_fraction x {size} = {target:g} "
               f"rounded ({math.floor(target)} or {math.ceil(target)})")
        return Verdict(False, why, "the number of test samples of some class is not test_fraction x its size")

    compare.uses_case = True
    compare.description = "distinct indices, each class's count within 1 of test_fraction x its size"
    return compare


def _training_indices(got, want, case) -> bool:
    return (got["distinct"] and not got["within_class_positions"]
            and not _counts_off(got, case, 1 - case["test_fraction"]))


def _drifting_counts(got, want, case) -> bool:
    target = case["test_fraction"] * _class_sizes(case)
    return (got["distinct"] and not got["within_class_positions"]
            and bool(_counts_off(got, case, case["test_fraction"]))
            and abs(sum(got["per_class"]) - target.sum()) <= len(target) and not _training_indices(got, want, case))


# -- imb.smote -----------------------------------------------------------------------------------------

SMOTE_ANSWER = "an array of shape (n_new, d): the new samples only"


def _minority_arguments(case: dict) -> dict:
    rng = np.random.default_rng(case["seed"])
    X = rng.standard_normal((case["n"], case["d"])) * np.arange(1, case["d"] + 1)
    return {"X_minority": X, "n_new": case["n_new"], "k": case["k"], "seed": case["seed"]}


def _neighbours(X: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k nearest other minority samples of each sample."""
    distances = np.linalg.norm(X[:, None, :] - X[None, :, :], axis=2)
    np.fill_diagonal(distances, np.inf)
    return np.argsort(distances, axis=1)[:, :k]


def _segment_fit(new: np.ndarray, X: np.ndarray, pairs: list[tuple[int, int]], tol: float = 1e-6):
    """For each new point: the index of the first segment X[i] -> X[j] of ``pairs`` it lies on (-1: none)
    and its interpolation factor along that segment."""
    a = np.array([X[i] for i, _ in pairs])
    direction = np.array([X[j] for _, j in pairs]) - a  # (pairs, d)
    length2 = (direction ** 2).sum(axis=1)
    offset = new[:, None, :] - a[None, :, :]  # (new, pairs, d)
    gap = (offset * direction[None]).sum(axis=2) / length2[None]
    residual = np.linalg.norm(offset - gap[..., None] * direction[None], axis=2)
    scale = 1 + np.linalg.norm(X, axis=1).max()
    on = (residual < tol * scale) & (gap >= -tol) & (gap <= 1 + tol)
    first = np.where(on.any(axis=1), on.argmax(axis=1), -1)
    return first, gap[np.arange(len(new)), np.maximum(first, 0)]


def _smote_observe(result, kwargs) -> dict:
    """Where the new points lie: on which segments, at which factors, using how many minority samples."""
    X = np.asarray(kwargs["X_minority"], dtype=np.float64)
    n, d, k, n_new = len(X), X.shape[1], kwargs["k"], kwargs["n_new"]
    new = as_array(result)
    if new.ndim != 2 or new.shape[1] != d or len(new) == 0:
        raise AnswerError(f"expected {SMOTE_ANSWER}, got {describe(to_plain(result))}")
    if not np.all(np.isfinite(new)):
        raise AnswerError("some new samples contain NaN or infinite values")
    neighbours = _neighbours(X, k)
    knn_pairs = [(i, int(j)) for i in range(n) for j in neighbours[i]]
    all_pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    on_knn, gap = _segment_fit(new, X, knn_pairs)
    on_any, _ = _segment_fit(new, X, all_pairs)
    copies = (np.linalg.norm(new[:, None, :] - X[None, :, :], axis=2) < 1e-9 * (1 + np.abs(X).max())).any(axis=1)
    fitted = on_knn >= 0
    factors = np.minimum(gap, 1 - gap)[fitted]  # distance to the nearer end, 0 .. 0.5: orientation-free
    endpoints = {end for pair in on_knn[fitted] for end in knn_pairs[pair]}
    return {"rows": int(len(new)),
            "on_neighbour_segments": bool(fitted.all()),
            "on_minority_segments": bool((on_any >= 0).all()),
            "copies_of_originals": bool(copies.any()),
            "factors_spread": bool(fitted.all() and np.ptp(factors) > 0.1),
            "many_bases": bool(len(endpoints) >= max(k + 2, math.ceil(min(n, n_new) / 2)))}


SMOTE_FACTS = {  # fact: (value a correct SMOTE has, what it means when it does not)
    "on_minority_segments": (True, "some new points are not between two minority samples"),
    "on_neighbour_segments": (True, "some new points are not between a minority sample and one of its k "
                                    "nearest minority neighbours"),
    "copies_of_originals": (False, "some new points are copies of minority samples"),
    "factors_spread": (True, "the new points do not spread along their segments: every one sits at the same "
                             "fraction of the way from its sample to the neighbour"),
    "many_bases": (True, "the new points are built from only a few of the minority samples"),
}


def _smote_compare():
    def compare(got, want, case):
        if got["rows"] != case["n_new"]:
            why = f"{got['rows']} new samples, expected n_new = {case['n_new']}"
            return Verdict(False, why, why)
        found = [says for fact, (good, says) in SMOTE_FACTS.items() if got[fact] != good]
        return Verdict(not found, "; ".join(found), "; ".join(found))

    compare.uses_case = True
    compare.description = "n_new points on k-nearest-neighbour segments, spread, no copies"
    return compare


def _smote_is(**facts):
    return lambda got, want, case: got["rows"] == case["n_new"] and all(got[k] == v for k, v in facts.items())


EXERCISES = (
    Exercise(
        id="imb.threshold_for_recall",
        title="The highest threshold that reaches a target recall",
        points=2,
        cases=({"seed": 0, "n": 2000, "positive_fraction": 0.05, "separation": 2.5, "target_recall": 0.9},
               {"seed": 1, "n": 500, "positive_fraction": 0.2, "separation": 1.5, "target_recall": 0.75},
               {"seed": 2, "n": 300, "positive_fraction": 0.1, "separation": 3.0, "target_recall": 1.0}),
        # The answer is one of the given scores, an exact quantity: neighbouring scores can be 1e-7 apart.
        compare=close(rtol=1e-9),
        arguments=_scores_arguments,
        answer="one number: the threshold (one of the scores)",
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
                 ">= threshold: you need the k highest positive scores, with k the smallest count such that "
                 "k / n_positives >= target"),
        ),
    ),
    Exercise(
        id="imb.threshold",
        title="Choose the threshold for a required recall on validation; report test once",
        points=2,
        cases=({"seed": 0},),
        varies=("seed",),
        arguments=_threshold_arguments,
        observe=_threshold_observe,
        compare={"decision": supported(_acceptable_thresholds, what="the threshold"), "protocol": followed()},
        parts=("decision", "protocol"),
        answer="a dict: {'threshold': a number, 'test': lab.test(threshold)}",
        timeout=30.0,
        hints=(
            when(chose(_threshold_on_training, _acceptable_thresholds),
                 "that threshold reaches the recall on the TRAINING scores: a model scores its own training "
                 "samples too confidently, so on new data it misses the recall; choose it on validation"),
            when(_misses_recall,
                 "at this threshold the recall on validation is below the required recall: a threshold that "
                 "maximizes accuracy or F1 is not one that meets a recall; take the highest one that does"),
            when(_too_low,
                 "this threshold meets the recall on validation with more margin than a sample or two: the "
                 "highest threshold that meets it flags fewer negatives (a better precision)"),
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
        answer=SPLIT_ANSWER,
        hints=(
            when(lambda got, want, case: got["within_class_positions"],
                 "these look like positions WITHIN each class (0, 1, 2, ... of the class's own samples), not "
                 "indices of y: map them back, np.flatnonzero(y == c)[positions]"),
            when(lambda got, want, case: not got["distinct"] and not got["within_class_positions"],
                 "some indices are drawn twice: sample without replacement (rng.choice(..., replace=False) "
                 "or a permutation)"),
            when(_training_indices, "those are the training indices; return the test indices"),
            when(_drifting_counts, "the class counts in your test set drift from the class proportions: "
                                   "draw the test samples class by class (round(test_fraction * count) "
                                   "of each class)"),
        ),
    ),
    Exercise(
        id="imb.smote",
        title="SMOTE: synthetic minority samples",
        points=3,
        cases=({"seed": 0, "n": 20, "d": 2, "n_new": 40, "k": 5}, {"seed": 1, "n": 12, "d": 4, "n_new": 30, "k": 3}),
        compare=_smote_compare(),
        arguments=_minority_arguments,
        observe=_smote_observe,
        answer=SMOTE_ANSWER,
        hints=(
            when(lambda got, want, case: got["rows"] == case["n_new"] + case["n"],
                 "return only the n_new synthetic samples, not the originals stacked with them"),
            when(_smote_is(copies_of_originals=True, on_neighbour_segments=True),
                 "some new points are copies of minority samples: the nearest neighbour of a point is itself "
                 "(distance 0), so leave it out of its own k neighbours"),
            when(_smote_is(on_neighbour_segments=False, on_minority_segments=True),
                 "your points lie between two minority samples, but not between a sample and one of its k "
                 "NEAREST neighbours: pick the partner among the k nearest"),
            when(_smote_is(on_minority_segments=False),
                 "your points leave the segments between minority samples: use ONE random gap in [0, 1] per "
                 "new point, new = x + gap * (neighbour - x), not one gap per feature"),
            when(_smote_is(on_neighbour_segments=True, copies_of_originals=False, factors_spread=False),
                 "every new point sits at the same place on its segment (the midpoint, say): draw a fresh "
                 "gap uniformly in [0, 1] for EACH new point, rng.random((n_new, 1))"),
            when(_smote_is(on_neighbour_segments=True, copies_of_originals=False, factors_spread=True,
                           many_bases=False),
                 "your new points grow from one or two minority samples only: draw the base sample at random "
                 "for each new point, rng.integers(0, n, size=n_new)"),
        ),
    ),
    Exercise(
        id="imb.remedy",
        title="Which imbalance remedy to keep: an ablation over several seeds; report test once",
        points=2,
        cases=({"seed": 0},),
        varies=("seed",),
        arguments=_remedy_arguments,
        observe=observe_choice("remedy", "remedy"),
        compare={"decision": supported(_acceptable_remedies, what="the remedy"), "protocol": followed()},
        parts=("decision", "protocol"),
        answer="a dict: {'remedy': 'none', 'oversample' or 'undersample', 'test_average_precision': lab.test(...)}",
        timeout=30.0,
        hints=(
            when(chose(lambda case: "oversample", _acceptable_remedies),
                 "random oversampling copies the rare samples: a nearest-neighbour model then finds copies of "
                 "the same few positives around every point and ranks new samples worse; the validation "
                 "average precision shows it"),
        ),
    ),
)
