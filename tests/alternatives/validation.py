"""Correct implementations of lab 05's exercises, written another way than the reference solution."""

import itertools
import math
from fractions import Fraction

import numpy as np
import torch
from scipy.stats import loguniform
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier


def group_folds_sklearn(groups, n_splits):
    """scikit-learn's GroupKFold: balanced in samples, not in groups (the issue's failing answer)."""
    return [test for _, test in GroupKFold(n_splits).split(np.zeros(len(groups)), groups=groups)]


def group_folds_greedy(groups, n_splits):
    """Groups by size, largest first, each to the fold with the fewest samples; plain lists of ints."""
    sizes = {}
    for index, group in enumerate(groups):
        sizes.setdefault(int(group), []).append(index)
    folds = [[] for _ in range(n_splits)]
    for members in sorted(sizes.values(), key=len, reverse=True):
        min(folds, key=len).extend(members)
    return [sorted(fold) for fold in folds]


def group_folds_appearance(groups, n_splits):
    """Groups dealt out round-robin in their order of first appearance, as tensors."""
    groups = torch.as_tensor(groups)
    order = list(dict.fromkeys(groups.tolist()))
    return [torch.nonzero(torch.isin(groups, torch.tensor(order[f::n_splits])))[:, 0] for f in range(n_splits)]


def nested_cv_grid(X, y, ks, outer, inner):
    """GridSearchCV inside the outer loop (the lab text allows it)."""
    scores = []
    for train, test in KFold(outer).split(X):
        search = GridSearchCV(KNeighborsClassifier(), {"n_neighbors": list(ks)}, cv=KFold(inner))
        scores.append(search.fit(X[train], y[train]).score(X[test], y[test]))
    return np.mean(scores)


def nested_cv_cross_val_score(X, y, ks, outer, inner):
    total = 0.0
    for train, test in KFold(outer).split(X):
        means = [cross_val_score(KNeighborsClassifier(n_neighbors=k), X[train], y[train], cv=KFold(inner)).mean()
                 for k in ks]
        best = ks[means.index(max(means))]
        total += KNeighborsClassifier(n_neighbors=best).fit(X[train], y[train]).score(X[test], y[test])
    return total / outer


def permutation_p_vectorized(scores_a, scores_b):
    """Every sign pattern as a row of a matrix; no tolerance on the comparison."""
    d = np.asarray(scores_a) - np.asarray(scores_b)
    signs = np.array(list(itertools.product((1, -1), repeat=len(d))))
    return np.mean(np.abs((signs * d).mean(axis=1)) >= abs(d.mean()))


def permutation_p_exact(scores_a, scores_b):
    """Exact rational arithmetic, a Python float at the end."""
    d = [Fraction(a) - Fraction(b) for a, b in zip(scores_a, scores_b)]
    observed = abs(sum(d))
    count = sum(abs(sum(s * x for s, x in zip(signs, d))) >= observed
                for signs in itertools.product((1, -1), repeat=len(d)))
    return float(Fraction(count, 2 ** len(d)))


def bonferroni_scaled(p_values, alpha):
    """p·m compared with alpha, a list of Python bools."""
    m = len(p_values)
    return [bool(p * m < alpha) for p in p_values]


def bonferroni_tensor(p_values, alpha):
    p = torch.as_tensor(p_values)
    return p < alpha / p.numel()


def log_uniform_natural(low, high, n, seed):
    """Uniform in the natural logarithm: the same distribution."""
    rng = np.random.default_rng(seed)
    return np.exp(rng.uniform(math.log(low), math.log(high), size=n)).tolist()


def log_uniform_scipy(low, high, n, seed):
    return loguniform(low, high).rvs(n, random_state=np.random.default_rng(seed))


RIGHT = {
    "val.group_folds": [group_folds_sklearn, group_folds_greedy, group_folds_appearance],
    "val.nested_cv": [nested_cv_grid, nested_cv_cross_val_score],
    "val.permutation_p": [permutation_p_vectorized, permutation_p_exact],
    "val.bonferroni": [bonferroni_scaled, bonferroni_tensor],
    "val.log_uniform": [log_uniform_natural, log_uniform_scipy],
}
