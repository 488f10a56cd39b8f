"""Correct implementations of lab 05's exercises, written another way than the reference solution."""

import itertools
from fractions import Fraction

import numpy as np
import torch
from scipy.stats import ttest_rel
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


def choose_k_cross_val_score(vault):
    """cross_val_score with its default folds (stratified, 5), the ks in reverse, the winner as a numpy int."""
    X, y = vault.train
    ks = (71, 41, 25, 15, 9, 5, 3, 1)
    scores = np.array([cross_val_score(KNeighborsClassifier(n_neighbors=k), X, y).mean() for k in ks])
    best = ks[int(np.argmax(scores))]
    test = vault.test(KNeighborsClassifier(n_neighbors=best).fit(X, y), candidate=np.int64(best))
    return {"test": test, "k": np.int64(best)}


def choose_k_grid_search(vault):
    """GridSearchCV over 10 shuffled folds refits the winner on all the free data."""
    X, y = vault.train
    search = GridSearchCV(KNeighborsClassifier(), {"n_neighbors": [1, 3, 5, 9, 15, 25, 41, 71]},
                          cv=KFold(10, shuffle=True, random_state=0)).fit(X, y)
    k = search.best_params_["n_neighbors"]
    return {"k": k, "test": vault.test(search.best_estimator_, candidate=k)}


def compare_models_t_test(vault, fit):
    """scipy's paired t-test over 12 seeds."""
    X, y = vault.val
    a = np.array([(fit("A", s).predict(X) == y).mean() for s in range(100, 112)])
    b = np.array([(fit("B", s).predict(X) == y).mean() for s in range(100, 112)])
    if np.all(a == b) or ttest_rel(a, b).pvalue >= 0.05:
        return {"better": "neither"}
    return {"better": "A" if (a - b).mean() > 0 else "B"}


RIGHT = {
    "val.group_folds": [group_folds_sklearn, group_folds_greedy, group_folds_appearance],
    "val.nested_cv": [nested_cv_grid, nested_cv_cross_val_score],
    "val.permutation_p": [permutation_p_vectorized, permutation_p_exact],
    "val.choose_k": [choose_k_cross_val_score, choose_k_grid_search],
    "val.compare_models": [compare_models_t_test],
}
