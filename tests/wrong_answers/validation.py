"""Known-wrong implementations of lab 05's exercises, with the hint each must get."""

import itertools

import numpy as np
from scipy.stats import ttest_1samp
from sklearn.model_selection import GroupKFold, KFold
from sklearn.neighbors import KNeighborsClassifier


def _plain_kfold(groups, n_splits):
    return [test for _, test in KFold(n_splits).split(np.zeros(len(groups)))]


def _train_indices(groups, n_splits):
    ids = np.unique(groups)
    return [np.flatnonzero(~np.isin(groups, ids[f::n_splits])) for f in range(n_splits)]


def _uneven(groups, n_splits):
    ids = np.unique(groups)
    cut = len(ids) - (n_splits - 1)
    parts = [ids[:cut]] + [ids[cut + i:cut + i + 1] for i in range(n_splits - 1)]
    return [np.flatnonzero(np.isin(groups, part)) for part in parts]


def _score(X, y, tr, te, k):
    return KNeighborsClassifier(n_neighbors=k).fit(X[tr], y[tr]).score(X[te], y[te])


def _best_cv_score(X, y, ks, outer, inner):
    return max(np.mean([_score(X, y, tr, te, k) for tr, te in KFold(outer).split(X)]) for k in ks)


def _tuned_on_test(X, y, ks, outer, inner):
    return np.mean([max(_score(X, y, tr, te, k) for k in ks) for tr, te in KFold(outer).split(X)])


def _sign_flip(one_sided=False, strict=False):
    def permutation_p(scores_a, scores_b):
        d = np.asarray(scores_a) - np.asarray(scores_b)
        observed, count = d.mean(), 0
        for signs in itertools.product((1, -1), repeat=len(d)):
            value = (d * signs).mean()
            stat, ref = (value, observed) if one_sided else (abs(value), abs(observed))
            count += stat > ref if strict else stat >= ref
        return count / 2 ** len(d)
    return permutation_p


def _choose_k(score_on="cv", peek=False, report=True):
    """The lab's protocol with one thing changed: ks scored on the data they were fitted on or on the test
    set, the test set opened for another k first, or no report."""
    def choose_k(vault):
        X, y = vault.train
        ks = (1, 3, 5, 9, 15, 25, 41, 71)
        if score_on == "test":
            scores = {k: vault.test(KNeighborsClassifier(n_neighbors=k).fit(X, y), candidate=k) for k in ks}
        elif score_on == "train":
            scores = {k: KNeighborsClassifier(n_neighbors=k).fit(X, y).score(X, y) for k in ks}
        else:
            scores = {k: np.mean([_score(X, y, tr, te, k) for tr, te in KFold(5).split(X)]) for k in ks}
        best = max(scores, key=scores.get)
        shown = 71 if best != 71 else 1
        if not report:
            return {"k": best}
        if peek:
            return {"k": best, "test": vault.test(KNeighborsClassifier(n_neighbors=shown).fit(X, y), candidate=shown)}
        return {"k": best, "test": scores[best] if score_on == "test" else
                vault.test(KNeighborsClassifier(n_neighbors=best).fit(X, y), candidate=best)}
    return choose_k


def _compare(test=True, always=None, flipped=False, seeds=range(10), only_a=False):
    """The lab's comparison with one thing changed: no test (the higher mean wins), a fixed verdict, the
    sign of the difference flipped, too few seeds, or B never trained with more than one."""
    def compare_models(vault, fit):
        X, y = vault.val
        a = np.array([(fit("A", s).predict(X) == y).mean() for s in seeds])
        b = np.array([(fit("B", s).predict(X) == y).mean() for s in (seeds if not only_a else seeds[:1])])
        if only_a:
            b = np.repeat(b, len(a))
        if always:
            return {"better": always}
        d = (b - a) if flipped else (a - b)
        if test and (np.all(d == 0) or ttest_1samp(d, 0.0).pvalue >= 0.05):
            return {"better": "neither"}
        return {"better": "A" if d.mean() > 0 else "B"}
    return compare_models


WRONG = {
    "val.group_folds": [
        (_plain_kfold, "a plain k-fold over samples"),
        (_train_indices, "the test folds must partition the samples"),
        (_uneven, "deal the groups out evenly"),
        (lambda groups, n_splits: [np.isin(groups, np.unique(groups)[f::n_splits]) for f in range(n_splits)],
         "these are boolean masks"),
        (lambda groups, n_splits: list(GroupKFold(n_splits).split(groups, groups=groups)), "each fold is a pair"),
        (lambda groups, n_splits: (np.flatnonzero(np.isin(groups, np.unique(groups)[f::n_splits]))
                                   for f in range(n_splits)), "a generator"),
        (lambda groups, k: [np.flatnonzero(np.isin(groups, np.unique(groups)[f::k])) for f in range(k)],
         "keep the template's parameter names"),
    ],
    "val.nested_cv": [
        (_best_cv_score, "that is the best cross-validation score"),
        (_tuned_on_test, "picked by its score on the outer TEST fold"),
        (lambda X, y, ks, outer, inner: [0.8] * outer, "expected one number: the mean outer-fold accuracy"),
    ],
    "val.permutation_p": [
        (_sign_flip(one_sided=True), "one-sided test"),
        (_sign_flip(strict=True), "ties included"),
    ],
    "val.choose_k": [
        (_choose_k(score_on="train"), "the best on the data it was fitted on"),
        (_choose_k(score_on="test"), "opened the test set for several candidates (choosing on test)"),
        (_choose_k(peek=True), "(peeking)"),
        (_choose_k(report=False), "reported no test score"),
        (lambda vault: {"k": 4}, "k is one of 1, 3, 5"),
    ],
    "val.compare_models": [
        (_compare(test=False), "within the noise of the seeds"),
        (_compare(always="neither"), "the difference is large against the seed-to-seed noise"),
        (_compare(flipped=True), "you named the worse configuration"),
        (_compare(seeds=range(3)), "train each candidate with 5 seeds"),
        (_compare(only_a=True), "train each candidate with 5 seeds"),
        (lambda vault, fit: {"better": "both"}, "the verdict is 'A', 'B' or 'neither'"),
    ],
}
