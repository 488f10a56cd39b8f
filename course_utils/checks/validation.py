"""Exercises of lab 05, validation & model selection (``solutions/05_validation.ipynb``).

Ids: ``val.group_folds``, ``val.nested_cv``, ``val.permutation_p``, and two decisions:
``val.choose_k`` (k chosen by cross-validation on the free data, test reported once) and
``val.compare_models`` (is A better than B, from a paired test over seeds). The decisions' harnesses and
evidence are in :mod:`course_utils.experiments.validation`.

Cases are seeds and sizes; ``arguments`` builds the arrays. Answers that may be right in several ways
(which group goes to which fold, random samples) are judged by the properties every right answer has.
The hint rules compute typical *wrong* answers; the reference answers come from the solution notebook.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..experiments import validation as lab
from .compare import Verdict, close, fraction
from .decisions import followed, observe_decision, supported
from .engine import Exercise
from .hints import like, when
from .values import AnswerError, as_array, as_float, describe, to_plain


# -- val.group_folds -----------------------------------------------------------------------------------

def _groups_arguments(case: dict) -> dict:
    rng = np.random.default_rng(case["seed"])
    sizes = rng.integers(case["min_size"], case["max_size"] + 1, case["n_groups"])
    groups = np.repeat(rng.permutation(case["n_groups"]) * 7 + 3, sizes)  # ids need not be 0..n-1
    return {"groups": groups[rng.permutation(len(groups))], "n_splits": case["n_splits"]}


FOLDS = "a list of n_splits integer arrays: the test indices of each fold"


def _folds_observe(result, kwargs) -> dict:
    """The properties every right answer has (which group lands in which fold is free)."""
    groups = np.asarray(kwargs["groups"])
    if isinstance(result, (str, dict)) or not isinstance(result, (list, tuple, np.ndarray)):
        raise AnswerError(f"expected {FOLDS}, got {describe(to_plain(result))}")
    if any(isinstance(fold, (tuple, list)) and len(fold) == 2 and all(np.ndim(part) == 1 for part in fold)
           and sum(len(part) for part in fold) == len(groups) for fold in result):
        raise AnswerError("each fold is a pair (train, test): return only the test indices of each fold, "
                          "e.g. [test for train, test in splitter.split(...)]")
    folds = [_indices(fold) for fold in result]
    if any(fold.size and (fold.min() < 0 or fold.max() >= len(groups)) for fold in folds):
        raise AnswerError(f"some indices are outside 0 ... {len(groups) - 1}: return sample indices (positions "
                          "in groups), not group ids")
    everything = np.concatenate(folds) if folds else np.array([], dtype=np.int64)
    fold_of_group: dict[int, set[int]] = {}
    for f, fold in enumerate(folds):
        for g in np.unique(groups[fold]):
            fold_of_group.setdefault(int(g), set()).add(f)
    return {"n_folds": len(folds),
            "every_sample_once": bool(len(everything) == len(groups) and np.unique(everything).size == len(groups)),
            "groups_split": int(sum(len(f) > 1 for f in fold_of_group.values())),
            "empty_folds": int(sum(fold.size == 0 for fold in folds)),
            "balanced": _balanced(folds, groups)}


def _indices(fold) -> np.ndarray:
    """One fold's test indices as an int64 array (a sentence for boolean masks and non-integers)."""
    array = np.asarray(fold.detach().cpu().numpy() if hasattr(fold, "detach") else fold)
    if array.dtype == bool:
        raise AnswerError("these are boolean masks: return the indices of each fold's test samples "
                          "(np.flatnonzero(mask))")
    array = as_array(array).ravel()
    if array.size and (array != np.round(array)).any():
        raise AnswerError(f"expected {FOLDS}: some values are not whole numbers")
    return array.astype(np.int64)


def _balanced(folds: list[np.ndarray], groups: np.ndarray) -> bool:
    """Balanced one way or the other: the folds' numbers of groups differ by at most 1 (groups dealt out
    evenly), or their numbers of samples by at most the largest group's size (what scikit-learn's
    GroupKFold guarantees by giving each group, largest first, to the fold with the fewest samples).

    >>> groups = np.array([0] * 10 + [1, 2, 3])
    >>> _balanced([np.arange(10), np.arange(10, 13)], groups)  # 10 vs 3 samples: within one group's 10
    True
    >>> _balanced([np.arange(12), np.array([12])], groups)  # 3 groups vs 1, 12 samples vs 1
    False
    """
    if not folds:
        return False
    group_counts = [np.unique(groups[fold]).size for fold in folds]
    sample_counts = [fold.size for fold in folds]
    largest_group = int(np.unique(groups, return_counts=True)[1].max()) if groups.size else 0
    return bool(max(group_counts) - min(group_counts) <= 1 or max(sample_counts) - min(sample_counts) <= largest_group)


def _folds_compare():
    def compare(got, want):
        if got["n_folds"] != want["n_folds"]:
            why = f"{got['n_folds']} folds, expected n_splits = {want['n_folds']}"
            return Verdict(False, why, why)
        if not got["every_sample_once"]:
            return Verdict(False, *["the test folds must hold every sample exactly once"] * 2)
        if got["groups_split"]:
            why = f"{got['groups_split']} groups have samples in more than one fold"
            return Verdict(False, why, why)
        if got["empty_folds"]:
            return Verdict(False, *["some folds are empty"] * 2)
        if not got["balanced"]:
            return Verdict(False, *["the folds are unbalanced: their numbers of groups differ by more than 1, and "
                                    "their numbers of samples by more than the largest group's size"] * 2)
        return Verdict(True)

    compare.description = "valid, balanced group folds"
    return compare


# -- val.nested_cv -------------------------------------------------------------------------------------

def _cv_arguments(case: dict) -> dict:
    from course_utils.data import make_moons

    X, y = make_moons(case["n"], noise=case["noise"], seed=case["seed"])
    return {"X": X, "y": y, "ks": case["ks"], "outer": case["outer"], "inner": case["inner"]}


def _knn_score(X_train, y_train, X_test, y_test, k: int) -> float:
    from sklearn.neighbors import KNeighborsClassifier

    return float(KNeighborsClassifier(n_neighbors=k).fit(X_train, y_train).score(X_test, y_test))


def _cv_scores(X, y, k: int, folds: int) -> float:
    from sklearn.model_selection import KFold

    return float(np.mean([_knn_score(X[tr], y[tr], X[te], y[te], k) for tr, te in KFold(folds).split(X)]))


def _nested_like(case: dict, slip: str) -> float:
    """A typical wrong model-selection estimate (never the nested one)."""
    from sklearn.model_selection import KFold

    a = _cv_arguments(case)
    X, y, ks = a["X"], a["y"], a["ks"]
    if slip == "best cv score":  # tune and report on the same folds
        return max(_cv_scores(X, y, k, a["outer"]) for k in ks)
    if slip == "tuned on the test fold":
        return float(np.mean([max(_knn_score(X[tr], y[tr], X[te], y[te], k) for k in ks)
                              for tr, te in KFold(a["outer"]).split(X)]))
    raise ValueError(slip)


# -- val.permutation_p ---------------------------------------------------------------------------------

def _paired_arguments(case: dict) -> dict:
    """Scores of two models on the same n folds. Every value is a multiple of 1/1024 and every difference a
    multiple of 1/8, all exact in binary floating point: a tie between two sign patterns is a tie however
    the learner sums, so no correct test needs a tolerance."""
    rng = np.random.default_rng(case["seed"])
    a = rng.integers(614, 922, case["n"]) / 1024
    d = (rng.integers(-4, 5, case["n"]) + case["shift"]) / 8
    return {"scores_a": a + d, "scores_b": a}


def _sign_flip_p(case: dict, one_sided=False, strict=False) -> float:
    a = _paired_arguments(case)
    d = a["scores_a"] - a["scores_b"]
    observed = d.mean()
    count = 0
    for signs in itertools.product((1, -1), repeat=len(d)):
        value = (d * signs).mean()
        stat, ref = (value, observed) if one_sided else (abs(value), abs(observed))
        count += stat > ref + 1e-12 if strict else stat >= ref - 1e-12
    return count / 2 ** len(d)


# -- val.choose_k -------------------------------------------------------------------------------------

def _k(choice) -> int:
    if isinstance(choice, bool) or not isinstance(choice, (int, np.integer)) or int(choice) not in lab.KS:
        raise AnswerError(f"k is one of {', '.join(map(str, lab.KS))}, got {describe(to_plain(choice))}")
    return int(choice)


def _followed_and_chose(k_of):
    """A hint test: the protocol was followed and the decision is ``k_of(case)``, which the evidence does
    not support."""
    def test(got, want, case):
        k = k_of(case)
        return got["protocol"] == "followed" and got["decision"] == k and k not in lab.acceptable_ks(case)
    return test


# -- val.compare_models -------------------------------------------------------------------------------

def _verdict(choice) -> str:
    if not isinstance(choice, str) or choice.strip() not in lab.VERDICTS:
        raise AnswerError(f"the verdict is 'A', 'B' or 'neither', got {describe(to_plain(choice))}")
    return choice.strip()


def _verdict_observe(result, kwargs) -> dict:
    """``{"decision", "protocol"}``. "neither" is no configuration of its own, so the protocol is judged as
    for a choice of A: both configurations need the seeds (``candidates=2``)."""
    if isinstance(result, dict) and "better" not in result:
        raise AnswerError("expected a dict with the key 'better' (your decision), got the keys "
                          + ", ".join(map(repr, list(result)[:5])))
    verdict = _verdict(result["better"] if isinstance(result, dict) else result)
    protocol = kwargs["vault"].protocol(verdict if verdict in lab.NAMES else lab.NAMES[0], report=False,
                                        seeds_needed=lab.PAIR_SEEDS_NEEDED, candidates=len(lab.NAMES))
    return {"decision": verdict, "protocol": protocol}


def _says(verdicts, supported):
    """A hint test: the protocol was followed, the learner's verdict is one of ``verdicts``, it is wrong, and
    ``supported(accepted)`` holds of the verdicts the evidence supports."""
    def test(got, want, case):
        accepted = lab.acceptable_verdicts(case)
        return (got["protocol"] == "followed" and got["decision"] in verdicts and got["decision"] not in accepted
                and supported(accepted))
    return test


EXERCISES = (
    Exercise(
        id="val.group_folds",
        title="Group k-fold: every patient in exactly one fold",
        points=2,
        cases=({"seed": 0, "n_groups": 12, "min_size": 1, "max_size": 6, "n_splits": 4},
               {"seed": 1, "n_groups": 7, "min_size": 3, "max_size": 3, "n_splits": 3}),
        compare=_folds_compare(),
        arguments=_groups_arguments,
        observe=_folds_observe,
        answer=FOLDS,
        hints=(
            when(lambda got, want, case: got["n_folds"] == want["n_folds"] and got["every_sample_once"]
                 and got["groups_split"] > 0,
                 "samples of the same group land in different folds (a plain k-fold over samples): assign "
                 "whole GROUPS to folds, then take all of each group's samples"),
            when(lambda got, want, case: got["n_folds"] == want["n_folds"] and not got["every_sample_once"],
                 "the test folds must partition the samples: every index in exactly one fold (did you return "
                 "the training indices, or group ids instead of sample indices?)"),
            when(lambda got, want, case: got["n_folds"] == want["n_folds"] and got["every_sample_once"]
                 and not got["groups_split"] and not got["balanced"],
                 "deal the groups out evenly: fold f gets the groups number f, f + n_splits, f + 2·n_splits, … "
                 "(or give each group, largest first, to the fold with the fewest samples, as GroupKFold does)"),
        ),
    ),
    Exercise(
        id="val.nested_cv",
        title="Nested cross-validation of a tuned k-NN",
        points=3,
        cases=({"seed": 0, "n": 120, "noise": 0.35, "ks": [1, 3, 9, 27], "outer": 4, "inner": 3},
               {"seed": 1, "n": 90, "noise": 0.5, "ks": [1, 5, 15], "outer": 3, "inner": 3}),
        compare=close(rtol=1e-6),  # a mean of accuracies: float noise only, distinct answers differ by > 1e-3
        arguments=_cv_arguments,
        observe=lambda result, kwargs: as_float(result, "one number: the mean outer-fold accuracy"),
        answer="one number: the mean outer-fold accuracy",
        hints=(
            like(lambda want, case: _nested_like(case, "best cv score"),
                 "that is the best cross-validation score over the ks: choosing k by a score and reporting "
                 "the same score is optimistic. Choose k INSIDE each outer training fold (inner CV), score "
                 "on the outer test fold"),
            like(lambda want, case: _nested_like(case, "tuned on the test fold"),
                 "k was picked by its score on the outer TEST fold: pick it by inner cross-validation on "
                 "the outer training fold only"),
        ),
    ),
    Exercise(
        id="val.permutation_p",
        title="Exact paired permutation (sign-flip) test",
        points=2,
        cases=({"seed": 0, "n": 10, "shift": 1.5}, {"seed": 1, "n": 8, "shift": 0.0},
               {"seed": 2, "n": 12, "shift": 4.0}),
        compare=fraction(lambda case: 2 ** case["n"]),  # a count of sign patterns over 2^n
        arguments=_paired_arguments,
        observe=lambda result, kwargs: as_float(result, "one number: the p-value"),
        answer="one number: the p-value",
        hints=(
            like(lambda want, case: _sign_flip_p(case, one_sided=True),
                 "that is a one-sided test: count the sign patterns whose |mean| reaches |observed mean| "
                 "(both directions)"),
            like(lambda want, case: _sign_flip_p(case, strict=True),
                 "count the patterns with |mean| >= |observed| — ties included, and the observed pattern "
                 "itself is one of them, so p is never 0"),
        ),
    ),
    Exercise(
        id="val.choose_k",
        title="Choose k by cross-validation on the free data, report test once",
        points=1,
        cases=({"seed": 0},),
        varies=("seed",),
        arguments=lambda case: {"vault": lab.k_lab(case["seed"])},
        observe=observe_decision("k", convert=_k),
        compare={"decision": supported(lab.acceptable_ks, what="k"), "protocol": followed()},
        parts=("decision", "protocol"),
        answer='a dict {"k": the k you chose, "test": its test accuracy}',
        hints=(
            when(_followed_and_chose(lambda case: lab.best_k_on(case["seed"], "train")),
                 "that k is the best on the data it was fitted on: with k = 1 every point is its own nearest "
                 "neighbour, so the training accuracy is 1 whatever the noise. Score each k on the folds it did "
                 "not see (k-fold cross-validation of vault.train)"),
        ),
    ),
    Exercise(
        id="val.compare_models",
        title="Is A better than B? A paired test over seeds",
        points=2,
        cases=({"seed": 0}, {"seed": 1}),
        varies=("seed",),
        arguments=lambda case: dict(zip(("vault", "fit"), lab.pair_lab(case["seed"]))),
        observe=_verdict_observe,
        compare={"decision": supported(lab.acceptable_verdicts, what="the verdict"), "protocol": followed()},
        parts=("decision", "protocol"),
        answer='a dict {"better": "A", "B" or "neither"}',
        hints=(
            when(_says(("A", "B"), lambda accepted: accepted == ["neither"]),
                 "the difference between the two means is within the noise of the seeds: a paired test over "
                 "them does not reject 'no difference' (p >= 0.05), so the answer is 'neither'", reveals=True),
            when(_says(("neither",), lambda accepted: "neither" not in accepted),
                 "the difference is large against the seed-to-seed noise: a paired test over the seeds gives "
                 "p < 0.05, so name the better configuration", reveals=True),
            when(_says(("A", "B"), lambda accepted: "neither" not in accepted),
                 "you named the worse configuration: the mean of A - B over the seeds has the other sign",
                 reveals=True),
        ),
    ),
)
