"""Known-wrong implementations of lab 05's exercises, with the hint each must get."""

import itertools

import numpy as np
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
    "val.bonferroni": [
        (lambda p_values, alpha: p_values < alpha, "no correction"),
        (lambda p_values, alpha: p_values < alpha * len(p_values), "not alpha times m"),
        (lambda p_values, alpha: np.flatnonzero(p_values < alpha / len(p_values)), "expected one boolean per p-value"),
    ],
    "val.log_uniform": [
        (lambda low, high, n, seed: np.random.default_rng(seed).uniform(low, high, n), "uniform on the linear scale"),
        (lambda low, high, n, seed: np.logspace(np.log10(low), np.log10(high), n)[np.arange(n) % 50 * (n // 50)],
         "a grid (np.logspace)"),
        (lambda low, high, n, seed: np.logspace(np.log10(low), np.log10(high), n), "a grid (np.logspace)"),
        (lambda low, high, n, seed: np.exp(np.random.default_rng(seed).uniform(np.log10(low), np.log10(high), n)),
         "outside [low, high]"),
    ],
}
