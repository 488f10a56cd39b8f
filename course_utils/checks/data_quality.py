"""Exercises of lab 01, data quality (``solutions/01_data_quality.ipynb``).

Ids: ``data.find_duplicates``, ``data.overlap_report``, ``data.conflicting_labels``,
``data.out_of_fold_probs``, ``data.relabel_first``, ``data.leak_threshold``.

The last two are decision exercises on per-learner data (:mod:`course_utils.experiments.data_quality`):
which samples to send to the annotators first, judged by the wrong labels the list would fix against
what the out-of-fold evidence reaches; and the distance under which a test item counts as a copy of a
training sample, judged against the gap in the nearest distances, with the test set opened once.

Cases are seeds and sizes; ``arguments`` builds the arrays from digits with the
corruptions of :mod:`course_utils.data`. The hint rules below compute typical
*wrong* answers (squared distances, in-sample probabilities, a fixed threshold...)
to recognise them; the reference answers come from the solution notebook.
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np

from course_utils.experiments.data_quality import (THRESHOLDS, acceptable_thresholds, leak_lab, relabel_lab,
                                                   relabel_needed, relabel_yield)

from .choosing import candidate_among
from .compare import Verdict, close, exact, fraction
from .decisions import followed, observe_decision, supported
from .engine import Exercise
from .hints import like, when
from .values import AnswerError, describe, kind, to_plain

@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from course_utils.data import load_digits

    return load_digits()


def _distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return np.sqrt(((A[:, None, :] - B[None, :, :]) ** 2).sum(axis=-1))


PAIRS = "a list of pairs (i, j) with i < j, sorted"
INDICES = "a sorted list of row indices"
LABELS = "a list with one label per image"


def _sequence(result, what: str):
    """The learner's list (or array, tensor, tuple, set) to iterate over; a sentence for anything else.

    >>> _sequence({3, 1, 2}, INDICES), _sequence(np.array([[0, 1]]), PAIRS)
    ([1, 2, 3], [[0, 1]])
    >>> _sequence((x for x in [1]), INDICES)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    course_utils.checks.values.AnswerError: expected a sorted list of row indices, got a generator ...
    """
    plain = to_plain(result) if not isinstance(result, np.ndarray) and not hasattr(result, "detach") else []
    if kind(plain) not in ("sequence",) or isinstance(result, (str, dict)):
        raise AnswerError(f"expected {what}, got {describe(plain)}")
    if isinstance(result, (set, frozenset)):  # no order of its own: the sorted one
        return sorted(result)
    if hasattr(result, "to_numpy"):  # pandas: its rows (iterating over a DataFrame gives column names)
        result = result.to_numpy()
    return result.tolist() if hasattr(result, "tolist") else list(result)


def _pair_list(result, kwargs) -> list[list[int]]:
    """What is compared: the pairs as a list of [i, j] lists of Python ints, in the learner's order."""
    pairs = _sequence(result, PAIRS)
    if any(np.ndim(pair) != 1 or len(pair) != 2 for pair in pairs):
        raise AnswerError(f"expected {PAIRS}: each item must be one pair (i, j)")
    return [[int(i), int(j)] for i, j in pairs]


def _index_list(result, kwargs) -> list:
    """Indices as Python ints (a nested list stays nested, so that the hint can say so)."""
    return [[int(i) for i in item] if np.ndim(item) else int(item) for item in _sequence(result, INDICES)]


def _labels(result, kwargs) -> list[str]:
    labels = _sequence(result, LABELS)
    if not all(isinstance(item, str) for item in labels):
        raise AnswerError(f"expected {LABELS}: texts such as 'ok' or 'constant'")
    return [str(item) for item in labels]


def _overlap_compare():
    """``leaked`` exactly, the fractions and accuracies as fractions k/n of the test set."""
    indices = exact()

    def compare(got, want, case):
        if isinstance(want, list):
            return indices(got, want)
        return fraction(_test_size(json.dumps(case, sort_keys=True)))(got, want, case)

    compare.uses_case = True
    compare.description = "leaked exactly, fractions of the test set"
    return compare


@lru_cache(maxsize=16)
def _test_size(case_json: str) -> int:
    return len(_overlap_arguments(json.loads(case_json))["X_test"])


def _pairs(got) -> np.ndarray:
    """A learner's list of pairs as an (k, 2) integer array (raises on anything else)."""
    array = np.asarray(got, dtype=float).reshape(-1, 2)
    return array.astype(np.int64)


# -- data.find_duplicates -------------------------------------------------------

def _duplicates_arguments(case: dict) -> dict:
    """``n`` digits plus ``exact`` exact and ``near`` re-scanned copies, shuffled, as float64."""
    from course_utils.data import duplicate_samples

    X, y = _digits()
    rng = np.random.default_rng(case["seed"])
    X0 = X[rng.choice(len(X), case["n"], replace=False)]
    parts = [X0]
    if case["exact"]:
        parts.append(duplicate_samples(X0, np.zeros(len(X0), np.int64), case["exact"] / case["n"],
                                       seed=case["seed"] + 1)[0])
    if case["near"]:
        parts.append(duplicate_samples(X0, np.zeros(len(X0), np.int64), case["near"] / case["n"], noise=0.03,
                                       seed=case["seed"] + 2)[0])
    X_all = np.concatenate(parts).astype(np.float64)
    return {"X": X_all[rng.permutation(len(X_all))], "threshold": case["threshold"]}


def _pairs_within(case: dict, keep) -> list[list[int]]:
    """All pairs i < j whose distance d satisfies ``keep(d, threshold)`` (a typical wrong rule)."""
    kwargs = _duplicates_arguments(case)
    d = _distances(kwargs["X"], kwargs["X"])
    i, j = np.nonzero(np.triu(keep(d, kwargs["threshold"]), k=1))
    return [[int(a), int(b)] for a, b in zip(i, j)]


# -- data.overlap_report --------------------------------------------------------

def _overlap_arguments(case: dict) -> dict:
    """A scraped set (``n`` digits, near copies of a ``copies`` fraction) split at random; the
    predictions of a model that is right on every leaked test item and on about 85 % of the others."""
    from course_utils.data import duplicate_samples

    X, y = _digits()
    rng = np.random.default_rng(case["seed"])
    rows = rng.choice(len(X), case["n"], replace=False)
    X0, y0 = X[rows], y[rows]
    Xc, yc, source = duplicate_samples(X0, y0, case["copies"], noise=0.03, seed=case["seed"] + 1)
    X_all, y_all = np.concatenate([X0, Xc]).astype(np.float64), np.concatenate([y0, yc])
    group = np.concatenate([np.arange(len(X0)), source])
    order = rng.permutation(len(X_all))
    n_test = int(round(case["test"] * len(X_all)))
    test, train = order[:n_test], order[n_test:]
    seen = np.isin(group[test], group[train])
    wrong = ~seen & (rng.random(n_test) < 0.15)
    predicted = np.where(wrong, (y_all[test] + 1) % 10, y_all[test])
    return {"X_train": X_all[train], "X_test": X_all[test], "y_test": y_all[test], "predicted": predicted,
            "threshold": case["threshold"]}


def _overlap_wrong(case: dict, want: dict, mistake: str) -> dict:
    kwargs = _overlap_arguments(case)
    X_train, X_test, threshold = kwargs["X_train"], kwargs["X_test"], kwargs["threshold"]
    correct = kwargs["predicted"] == kwargs["y_test"]
    leaked = np.asarray(want["leaked"], dtype=np.int64)
    if mistake == "train indices":
        return {**want, "leaked": np.flatnonzero(_distances(X_train, X_test).min(axis=1) <= threshold).tolist()}
    if mistake == "train fraction":
        return {**want, "fraction": len(leaked) / len(X_train)}
    if mistake == "leaked accuracy":
        return {**want, "accuracy_unseen": float(correct[leaked].mean()) if len(leaked) else 0.0}
    if mistake == "test too":
        d_test = _distances(X_test, X_test)
        np.fill_diagonal(d_test, np.inf)
        nearest = np.minimum(_distances(X_test, X_train).min(axis=1), d_test.min(axis=1))
        flagged = nearest <= threshold
        return {"leaked": np.flatnonzero(flagged).tolist(), "fraction": float(flagged.mean()),
                "accuracy_all": float(correct.mean()), "accuracy_unseen": float(correct[~flagged].mean())}
    raise ValueError(mistake)


# -- data.conflicting_labels ----------------------------------------------------

def _conflict_arguments(case: dict) -> dict:
    """``n`` digits plus exact copies of ``copies`` of them, a ``relabel`` fraction of the copies
    labelled with another class; shuffled."""
    from course_utils.data import duplicate_samples

    X, y = _digits()
    rng = np.random.default_rng(case["seed"])
    rows = rng.choice(len(X), case["n"], replace=False)
    X0, y0 = X[rows], y[rows]
    Xc, yc, _ = duplicate_samples(X0, y0, case["copies"] / case["n"], relabel=case["relabel"], seed=case["seed"])
    Xd, yd, _ = duplicate_samples(X0, y0, case["copies"] / case["n"], seed=case["seed"] + 7)  # consistent copies
    X_all, y_all = np.concatenate([X0, Xc, Xd]), np.concatenate([y0, yc, yd])
    order = rng.permutation(len(X_all))
    return {"X": X_all[order], "y": y_all[order]}


def _conflict_wrong(case: dict, mistake: str) -> list[int]:
    kwargs = _conflict_arguments(case)
    X, y = kwargs["X"], kwargs["y"]
    groups: dict[bytes, list[int]] = {}
    for index, row in enumerate(X):
        groups.setdefault(row.tobytes(), []).append(index)
    chosen = []
    for members in groups.values():
        if len(members) < 2:
            continue
        if mistake == "all duplicates":
            chosen += members
        elif mistake == "later copies" and len(set(y[members].tolist())) > 1:
            chosen += members[1:]
    return sorted(chosen)


# -- data.out_of_fold_probs ------------------------------------------------------

def _make_model():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000)


def _oof_arguments(case: dict) -> dict:
    """Digits of the first ``classes`` classes, a ``noise`` fraction of labels flipped, a fold id per
    sample, and a factory of fresh logistic regressions."""
    from course_utils.data import add_label_noise

    X, y = _digits()
    rng = np.random.default_rng(case["seed"])
    rows = rng.choice(np.flatnonzero(y < case["classes"]), case["n"], replace=False)
    labels, _ = add_label_noise(y[rows], case["noise"], n_classes=case["classes"], seed=case["seed"])
    folds = rng.permutation(np.arange(case["n"]) % case["n_folds"])
    return {"make_model": _make_model, "X": X[rows].astype(np.float64), "y": labels, "folds": folds}


def _oof_wrong(case: dict, mistake: str) -> np.ndarray:
    kwargs = _oof_arguments(case)
    X, y, folds = kwargs["X"], kwargs["y"], kwargs["folds"]
    if mistake == "in-sample":
        return _make_model().fit(X, y).predict_proba(X)
    if mistake == "fold order":
        parts = []
        for fold in np.unique(folds):
            held = folds == fold
            parts.append(_make_model().fit(X[~held], y[~held]).predict_proba(X[held]))
        return np.concatenate(parts)
    raise ValueError(mistake)


def _one_hot(got) -> bool:
    array = np.asarray(got, dtype=float)
    return array.ndim == 2 and bool(np.isin(array, (0.0, 1.0)).all())


# -- data.relabel_first ----------------------------------------------------------------------------------

RELABEL = "a list of `budget` distinct sample indices, the first to relabel first"


def _relabel_observe(result, kwargs) -> list[int]:
    """The learner's indices as a sorted list of distinct ints in range, exactly ``budget`` of them."""
    indices = _sequence(result, RELABEL)
    if any(np.ndim(i) != 0 or isinstance(i, (bool, np.bool_, float, np.floating)) for i in indices):
        raise AnswerError(f"expected {RELABEL}: each item must be one integer index (not a mask or a score)")
    indices = [int(i) for i in indices]
    n, budget = len(kwargs["y"]), kwargs["budget"]
    if any(not 0 <= i < n for i in indices):
        raise AnswerError(f"expected {RELABEL}: indices go from 0 to {n - 1}")
    if len(set(indices)) != len(indices):
        raise AnswerError(f"expected {RELABEL}: a sample appears twice")
    if len(indices) != budget:
        raise AnswerError(f"expected {RELABEL}: the annotators check exactly {budget}, you sent {len(indices)}")
    return sorted(indices)


def _enough_wrong_labels():
    """The list sends at least as many wrong labels to the annotators as the out-of-fold evidence supports."""

    def compare(got, want, case):
        found = relabel_yield(case["seed"], got)
        needed = relabel_needed(case["seed"])
        if found >= needed:
            return Verdict(True)
        return Verdict(False, f"your {len(got)} samples hold {found} wrong labels; a ranking by out-of-fold "
                              f"probabilities reaches at least {needed}",
                       "the evidence supports a list that holds more wrong labels")

    compare.uses_case = True
    compare.description = "as many wrong labels as the out-of-fold evidence supports"
    return compare


def _far_below_the_evidence(got, want, case) -> bool:
    """At most half the wrong labels the out-of-fold evidence reaches: near what a random pick finds."""
    return isinstance(got, list) and relabel_yield(case["seed"], got) <= 0.5 * relabel_needed(case["seed"])


# -- data.leak_threshold ----------------------------------------------------------------------------------

def _leak_arguments(case: dict) -> dict:
    vault, X_test, report = leak_lab(case["seed"])
    return {"vault": vault, "X_test": X_test, "report": report, "thresholds": list(THRESHOLDS)}


def _threshold_side(side: str):
    """A hint test: the threshold is below (``"low"``) or above (``"high"``) every supported one."""

    def test(got, want, case):
        if not isinstance(got, dict):
            return False
        t, supported = got["decision"], acceptable_thresholds(case)
        return (t < min(supported)) if side == "low" else (t > max(supported))

    return test


EXERCISES = (
    Exercise(
        id="data.find_duplicates",
        title="Exact and near duplicates inside one set",
        points=2,
        cases=({"n": 30, "exact": 2, "near": 3, "threshold": 0.0, "seed": 0},
               {"n": 30, "exact": 2, "near": 3, "threshold": 0.4, "seed": 0},
               {"n": 20, "exact": 0, "near": 2, "threshold": 1.5, "seed": 1}),
        compare=exact(),
        arguments=_duplicates_arguments,
        observe=_pair_list,
        answer=PAIRS,
        hints=(
            when(lambda got, want, case: bool(np.any(_pairs(got)[:, 0] == _pairs(got)[:, 1])),
                 "every sample is at distance 0 from itself: report only pairs (i, j) with i < j"),
            when(lambda got, want, case: bool(np.any(_pairs(got)[:, 0] > _pairs(got)[:, 1])),
                 "each pair must appear once, as (i, j) with i < j, not also as (j, i)"),
            when(lambda got, want, case: case["threshold"] == 0 and len(_pairs(got)) == 0 and len(want) > 0,
                 "exact duplicates are at distance exactly 0, so `distance < 0` finds none: "
                 "keep the pairs with distance <= threshold"),
            like(lambda want, case: _pairs_within(case, lambda d, t: d ** 2 <= t),
                 "you compared squared distances with the threshold: the Euclidean distance is the square "
                 "root of the sum of squared differences"),
            when(lambda got, want, case: len(_pairs(got)) == len(want) and sorted(_pairs(got).tolist()) == want,
                 "the right pairs in another order: sort them by i, then by j"),
        ),
    ),
    Exercise(
        id="data.overlap_report",
        title="Train/test overlap report and the accuracy it inflates",
        points=2,
        cases=({"n": 60, "copies": 0.5, "test": 0.3, "threshold": 0.4, "seed": 0},
               {"n": 80, "copies": 0.3, "test": 0.4, "threshold": 0.4, "seed": 1}),
        compare=_overlap_compare(),
        arguments=_overlap_arguments,
        answer="a dict with keys 'leaked', 'fraction', 'accuracy_all', 'accuracy_unseen'",
        parts=("leaked", "fraction", "accuracy_all", "accuracy_unseen"),
        hints=(
            like(lambda want, case: _overlap_wrong(case, want, "train indices"),
                 "`leaked` lists training samples; it must list the *test* items (indices into X_test) that "
                 "have a training sample within the threshold"),
            like(lambda want, case: _overlap_wrong(case, want, "train fraction"),
                 "`fraction` is the share of the *test* set that leaked: divide by len(X_test), not len(X_train)"),
            like(lambda want, case: _overlap_wrong(case, want, "leaked accuracy"),
                 "`accuracy_unseen` must be measured on the test items *without* a copy in the training set; "
                 "yours is the accuracy on the leaked ones"),
            like(lambda want, case: _overlap_wrong(case, want, "test too"),
                 "compare each test item with the training set only: two copies that are both in the test "
                 "set do not leak anything"),
        ),
    ),
    Exercise(
        id="data.conflicting_labels",
        title="Exact duplicates with contradictory labels",
        points=1,
        cases=({"n": 30, "copies": 6, "relabel": 0.5, "seed": 0},
               {"n": 40, "copies": 10, "relabel": 0.3, "seed": 1}),
        compare=exact(),
        arguments=_conflict_arguments,
        observe=_index_list,
        answer=INDICES,
        hints=(
            like(lambda want, case: _conflict_wrong(case, "all duplicates"),
                 "you listed every duplicated row; keep only the groups of identical rows whose labels disagree"),
            like(lambda want, case: _conflict_wrong(case, "later copies"),
                 "list every member of a conflicting group, the first occurrence included: nobody knows "
                 "which of the labels is right"),
            when(lambda got, want, case: isinstance(got, list) and any(isinstance(g, list) for g in got),
                 "return one flat, sorted list of row indices, not a list of groups"),
        ),
    ),
    Exercise(
        id="data.out_of_fold_probs",
        title="Out-of-fold predicted probabilities",
        points=2,
        cases=({"n": 120, "classes": 3, "n_folds": 3, "noise": 0.1, "seed": 0},
               {"n": 150, "classes": 5, "n_folds": 5, "noise": 0.2, "seed": 1}),
        compare=close(rtol=0, atol=1e-4),
        arguments=_oof_arguments,
        answer="an array of shape (n_samples, n_classes): each sample's out-of-fold probabilities",
        hints=(
            like(lambda want, case: _oof_wrong(case, "in-sample"),
                 "these are in-sample probabilities: the model was trained on the very labels it is asked "
                 "about, so it vouches for the wrong ones. Fit on the other folds only", rtol=1e-3),
            like(lambda want, case: _oof_wrong(case, "fold order"),
                 "the rows are in fold order: write each fold's probabilities into the rows of its own "
                 "samples (probs[held_out] = ...)", rtol=1e-3),
            when(lambda got, want, case: _one_hot(got),
                 "your rows are one-hot: use the model's predict_proba, not predict"),
        ),
    ),
    Exercise(
        id="data.relabel_first",
        title="Which labels to check first: a relabelling budget",
        points=2,
        cases=({"seed": 0},),
        varies=("seed",),
        compare=_enough_wrong_labels(),
        arguments=lambda case: relabel_lab(case["seed"]),
        observe=_relabel_observe,
        answer=RELABEL,
        hints=(
            when(_far_below_the_evidence,
                 "your list finds not even half the wrong labels within reach, about what a random pick finds: "
                 "probabilities from a model "
                 "trained on the very labels it is asked about vouch for them (use out-of-fold probabilities), "
                 "and the samples to check first are those whose given label is the *least* probable"),
        ),
    ),
    Exercise(
        id="data.leak_threshold",
        title="Remove the leaked test items before reporting: choose the threshold",
        points=2,
        cases=({"seed": 0},),
        varies=("seed",),
        arguments=_leak_arguments,
        observe=observe_decision("threshold", convert=candidate_among(THRESHOLDS, "threshold")),
        compare={"decision": supported(acceptable_thresholds, what="threshold"), "protocol": followed()},
        parts=("decision", "protocol"),
        answer="a dict {'threshold': one of `thresholds`, 'test': what report(threshold) returned}",
        hints=(
            when(lambda got, want, case: _threshold_side("low")(got, want, case) and got["decision"] == 0,
                 "a threshold of 0 removes exact copies only: these copies are re-scans (near copies), at a "
                 "small distance from their original. Look at the nearest distances: where is the gap?"),
            when(lambda got, want, case: _threshold_side("low")(got, want, case) and got["decision"] > 0,
                 "your threshold keeps some near copies in the test set: look at the nearest distances "
                 "(on this data's own scale) and put the threshold in the gap above the copies"),
            when(_threshold_side("high"),
                 "your threshold also removes genuine test items, whose nearest training image is merely "
                 "similar: put it in the gap between the copies and the genuine neighbours"),
        ),
    ),
)
