"""Exercises of lab 01, data quality (``solutions/01_data_quality.ipynb``).

Ids: ``data.find_duplicates``, ``data.overlap_report``, ``data.conflicting_labels``,
``data.out_of_fold_probs``, ``data.label_issues``, ``data.sample_problems``.

Cases are seeds and sizes; ``arguments`` builds the arrays from digits with the
corruptions of :mod:`course_utils.data`. The hint rules below compute typical
*wrong* answers (squared distances, in-sample probabilities, a fixed threshold...)
to recognise them; the reference answers come from the solution notebook.
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np

from .compare import close, exact, fraction
from .engine import Exercise
from .hints import like, when
from .values import AnswerError, describe, kind, to_plain

PROBLEMS = ("ok", "wrong shape", "not finite", "out of range", "constant")


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


# -- data.label_issues ------------------------------------------------------------

def _issues_arguments(case: dict) -> dict:
    """Predicted probabilities of a model that knows the true classes (softmax of noisy logits) and
    labels of which a ``noise`` fraction is flipped."""
    from course_utils.data import add_label_noise

    rng = np.random.default_rng(case["seed"])
    n, classes = case["n"], case["classes"]
    truth = rng.permutation(np.arange(n) % classes)
    logits = case["strength"] * np.eye(classes)[truth] + rng.standard_normal((n, classes))
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    labels, _ = add_label_noise(truth, case["noise"], n_classes=classes, seed=case["seed"] + 1)
    return {"labels": labels, "pred_probs": probs}


def _issues_wrong(case: dict, mistake: str) -> np.ndarray:
    kwargs = _issues_arguments(case)
    labels, probs = kwargs["labels"], kwargs["pred_probs"]
    classes = probs.shape[1]
    if mistake == "argmax":
        return probs.argmax(axis=1) != labels
    if mistake == "fixed 0.5":
        thresholds = np.full(classes, 0.5)
    else:
        thresholds = np.array([probs[labels == j, j].mean() for j in range(classes)])
    confident = probs >= thresholds
    if mistake == "no confident class":
        return np.where(confident, probs, 0.0).argmax(axis=1) != labels
    if mistake == "any other class":
        others = confident.copy()
        others[np.arange(len(labels)), labels] = False
        return others.any(axis=1)
    guess = np.where(confident, probs, -np.inf).argmax(axis=1)
    return confident.any(axis=1) & (guess != labels)


def _is_mask(got) -> bool:
    return isinstance(got, np.ndarray) and got.dtype == bool


def _is_index_list(got, want) -> bool:
    array = np.asarray(got)
    return array.dtype != bool and array.ndim == 1 and len(array) != len(want)


# -- data.sample_problems ----------------------------------------------------------

def _samples_arguments(case: dict) -> dict:
    """Digits images, a ``fraction`` corrupted by :func:`course_utils.data.corrupt_images`, plus the
    optional extras of the case: a uniform gray image, an image shifted below 0, a padded image with a NaN."""
    from course_utils.data import corrupt_images

    X, _ = _digits()
    rng = np.random.default_rng(case["seed"])
    images = X[rng.choice(len(X), case["n"], replace=False)].reshape(-1, 8, 8)
    samples, _ = corrupt_images(images, case["fraction"], seed=case["seed"])
    extras = case.get("extras", [])
    if "gray" in extras:
        samples.append(np.full((8, 8), 0.5, dtype=np.float32))
    if "negative" in extras:
        samples.append(images[0] - 0.25)
    if "nan padded" in extras:
        padded = np.pad(images[1], ((0, 1), (0, 1)))
        padded[0, 0] = np.nan
        samples.append(padded)
    order = rng.permutation(len(samples))
    return {"images": [samples[i] for i in order]}


def _where(got, want, wanted: str, shown) -> bool:
    """Does the learner say one of ``shown`` where the reference says ``wanted``?"""
    return isinstance(got, list) and len(got) == len(want) and any(
        w == wanted and g in shown for g, w in zip(got, want))


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
        id="data.label_issues",
        title="Confident learning: find the label issues",
        points=2,
        cases=({"n": 200, "classes": 4, "strength": 2.5, "noise": 0.2, "seed": 0},
               {"n": 300, "classes": 6, "strength": 2.0, "noise": 0.1, "seed": 1},
               {"n": 120, "classes": 3, "strength": 1.0, "noise": 0.15, "seed": 2}),
        compare=exact(),
        arguments=_issues_arguments,
        answer="a boolean array of shape (n,): True for the label issues",
        hints=(
            like(lambda want, case: _issues_wrong(case, "argmax"),
                 "your mask is exactly 'the most probable class is not the label', which is what argmax, a "
                 "fixed threshold or thresholds averaged over all samples (about 1/C) give; confident learning "
                 "compares each class's probability with its own threshold t_j, the mean of p_j over the "
                 "samples labelled j"),
            when(lambda got, want, case: _is_mask(got) and (got == _issues_wrong(case, "fixed 0.5")).all()
                 and not (got == _issues_wrong(case, "argmax")).all(),
                 "a fixed threshold of 0.5 ignores how confident the model typically is about each class: "
                 "t_j = mean of p_j over the samples labelled j"),
            like(lambda want, case: _issues_wrong(case, "no confident class"),
                 "a sample where no class reaches its threshold has no confident guess and must not be flagged "
                 "(np.where(confident, p, 0).argmax() picks class 0 for it)"),
            like(lambda want, case: _issues_wrong(case, "any other class"),
                 "when several classes reach their threshold, the guess is the most probable of them; flag "
                 "the sample only if that guess differs from its label"),
            when(lambda got, want, case: _is_index_list(got, want),
                 "return a boolean mask with one entry per sample, not the indices of the issues"),
        ),
    ),
    Exercise(
        id="data.sample_problems",
        title="Validate samples: shape, finite, range, constant",
        points=2,
        cases=({"n": 12, "fraction": 0.5, "seed": 0},
               {"n": 14, "fraction": 0.5, "seed": 1, "extras": ["gray", "negative"]},
               {"n": 8, "fraction": 0.25, "seed": 2, "extras": ["nan padded"]}),
        compare=exact(),
        arguments=_samples_arguments,
        observe=_labels,
        answer=LABELS,
        hints=(
            when(lambda got, want, case: isinstance(got, list) and any(g not in PROBLEMS for g in got),
                 "use exactly the labels 'ok', 'wrong shape', 'not finite', 'out of range' and 'constant'"),
            when(lambda got, want, case: _where(got, want, "not finite", ("ok", "constant", "out of range")),
                 "every comparison with NaN is False, so a NaN image passes min/max tests: check "
                 "np.isfinite(image).all() before the range"),
            when(lambda got, want, case: _where(got, want, "wrong shape", ("not finite",)),
                 "check the shape first: a sample of the wrong shape is 'wrong shape' whatever its values"),
            when(lambda got, want, case: _where(got, want, "wrong shape", ("ok", "constant", "out of range")),
                 "a flat vector of 64 values has the right size but the wrong shape: compare image.shape with "
                 "shape, not image.size"),
            when(lambda got, want, case: _where(got, want, "constant", ("ok",)),
                 "an image whose pixels are all equal — blank, saturated or uniform gray — carries no "
                 "information: test image.max() == image.min(), not only an all-zero image"),
            when(lambda got, want, case: _where(got, want, "out of range", ("ok",)),
                 "check both ends of the range: a value below 0 is out of range too"),
        ),
    ),
)
