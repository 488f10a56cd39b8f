"""Experiment harnesses of lab 05 (validation & model selection): choose k by cross-validation and report
test once; decide whether one configuration beats another over seeds.

``k_lab(seed)`` draws a 2-class problem (size, noise, label noise from ``seed``) and returns a vault whose
training split is all the free data (there is no separate validation split: cross-validate on it) and
whose sealed test split scores a fitted model's ``predict``.

``pair_lab(seed)`` draws a problem and two configurations "A" and "B" of a random-features classifier
(sometimes the same configuration under two names) and returns ``(vault, fit)``: ``fit(name, seed)``
trains one (its random features drawn from ``seed``) on the training split and returns it.

>>> vault = k_lab(0)
>>> X, y = vault.train
>>> len(X) == k_problem(0)["n"], len(vault.val)
(True, 0)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from course_utils.vault import Vault

#: the k of k-NN to choose from
KS = (1, 3, 5, 9, 15, 25, 41, 71)
#: the partitions an honest k-fold cross-validation could use: (stratified?, folds, shuffle seed or None);
#: ``cross_val_score(..., cv=5)`` of a classifier is the stratified one, in order
PARTITIONS = tuple((stratified, folds, seed) for stratified in (False, True) for folds in (5, 10)
                   for seed in (None, *range(5)))


def accuracy(model, X, y) -> float:
    """The vault's metric: the fraction of ``model.predict(X)`` equal to ``y``."""
    return float(np.mean(np.asarray(model.predict(X)) == np.asarray(y)))


# -- val.choose_k ---------------------------------------------------------------------------------------

def k_problem(seed: int) -> dict:
    """The drawn parameters: the free data's size, the noise of the moons and the share of flipped labels."""
    rng = np.random.default_rng([seed, 11])
    return {"n": int(rng.integers(100, 400)), "noise": float(rng.uniform(0.1, 0.5)),
            "flip": float(rng.uniform(0.0, 0.2))}


def _moons(n: int, noise: float, flip: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles with Gaussian noise and a share of flipped labels."""
    y = rng.integers(0, 2, n)
    angle = rng.uniform(0, np.pi, n)
    X = np.where(y[:, None] == 0, np.column_stack([np.cos(angle), np.sin(angle)]),
                 np.column_stack([1 - np.cos(angle), 0.5 - np.sin(angle)]))
    X = X + rng.normal(0.0, noise, (n, 2))
    return X, np.where(rng.random(n) < flip, 1 - y, y)


def k_lab(seed: int) -> Vault:
    """The vault of problem ``seed``: all the free data as ``vault.train``, 1000 sealed test samples."""
    p = k_problem(seed)
    rng = np.random.default_rng([seed, 12])
    X, y = _moons(p["n"] + 1000, p["noise"], p["flip"], rng)
    empty = (X[:0], y[:0])
    return Vault((X[:p["n"]], y[:p["n"]]), empty, (X[p["n"]:], y[p["n"]:]), metric=accuracy)


def _folds(y, stratified: bool, folds: int, shuffle_seed):
    """The test indices of each fold, as scikit-learn's (Stratified)KFold makes them."""
    from sklearn.model_selection import KFold, StratifiedKFold

    splitter = (StratifiedKFold if stratified else KFold)(folds, shuffle=shuffle_seed is not None,
                                                          random_state=shuffle_seed)
    return [test for _, test in splitter.split(np.zeros(len(y)), y)]


def knn_cv_accuracies(X, y, stratified: bool, folds: int, shuffle_seed=None, distances=None) -> dict[int, float]:
    """Cross-validated accuracy (the mean over the folds) of k-NN for every k of :data:`KS`: the majority
    of the k nearest, Euclidean, as scikit-learn's KNeighborsClassifier for odd k and two classes, from one
    sort per fold.

    >>> X, y = k_lab(0).train
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> float(cross_val_score(KNeighborsClassifier(n_neighbors=9), X, y, cv=5).mean()) == knn_cv_accuracies(X, y, True, 5)[9]
    True
    """
    if distances is None:
        distances = ((X[:, None, :] - X[None, :, :]) ** 2).sum(axis=2)
    scores = {k: [] for k in KS}
    for test in _folds(y, stratified, folds, shuffle_seed):
        train = np.setdiff1d(np.arange(len(y)), test)
        nearest = np.argsort(distances[np.ix_(test, train)], axis=1, kind="stable")
        votes = np.cumsum(y[train][nearest], axis=1)
        for k in KS:
            k_used = min(k, len(train))
            scores[k].append(float(np.mean((votes[:, k_used - 1] * 2 > k_used) == y[test])))
    return {k: float(np.mean(v)) for k, v in scores.items()}


@lru_cache(maxsize=64)
def k_evidence(seed: int) -> dict:
    """Per partition of :data:`PARTITIONS`: every k's cross-validated accuracy on the free data."""
    X, y = k_lab(seed).train
    distances = ((X[:, None, :] - X[None, :, :]) ** 2).sum(axis=2)
    return {partition: knn_cv_accuracies(X, y, *partition, distances=distances) for partition in PARTITIONS}


def acceptable_ks(case: dict) -> list[int]:
    """Every k that an honest k-fold cross-validation of the free data chooses (5 or 10 folds, stratified
    or not, in order or shuffled by any of 5 seeds; all ks tied at the top, within float noise)."""
    chosen = set()
    for scores in k_evidence(case["seed"]).values():
        top = max(scores.values())
        chosen |= {k for k, score in scores.items() if score >= top - 1e-9}
    return sorted(chosen)


def best_k_on(seed: int, split: str) -> int:
    """The k with the best accuracy on ``split`` ("train": fitted and scored on all the free data, or
    "test"): typical wrong choices."""
    from sklearn.neighbors import KNeighborsClassifier

    vault = k_lab(seed)
    data = vault.train if split == "train" else vault.sealed()
    scores = {k: accuracy(KNeighborsClassifier(n_neighbors=k).fit(*vault.train), *data) for k in KS}
    return max(KS, key=scores.get)


# -- val.compare_models ---------------------------------------------------------------------------------

NAMES = ("A", "B")
VERDICTS = ("A", "B", "neither")
PAIR_SEEDS_NEEDED = 5
PAIR_BUDGET = 24
PAIR_SEEDS = range(1000, 1030)  # the harness's own seeds
ALPHA = 0.05


def pair_problem(seed: int) -> dict:
    """The drawn parameters: the data, and the two configurations' bandwidths (the same one, half of the
    time: then neither is better)."""
    rng = np.random.default_rng([seed, 13])
    bandwidths = [float(np.exp(rng.uniform(np.log(0.3), np.log(6.0))))] * 2
    if rng.random() < 0.5:
        bandwidths[int(rng.integers(0, 2))] *= float(np.exp(rng.choice([-1, 1]) * rng.uniform(1.0, 2.0)))
    return {"noise": float(rng.uniform(0.15, 0.35)), "n_train": int(rng.integers(60, 150)),
            "bandwidths": dict(zip(NAMES, bandwidths)), "features": 40}


class RandomFourier:
    """A classifier on random Fourier features cos(x W + b) (W ~ N(0, bandwidth²), drawn from ``seed``)
    with a ridge-regression output layer."""

    def __init__(self, bandwidth: float, features: int, seed):
        self.bandwidth, self.features, self.seed = bandwidth, features, seed

    def _features(self, X):
        return np.cos(X @ self.W + self.b)

    def fit(self, X, y):
        rng = np.random.default_rng(self.seed)
        self.W = rng.normal(0.0, self.bandwidth, (X.shape[1], self.features))
        self.b = rng.uniform(0.0, 2 * np.pi, self.features)
        H = self._features(X)
        self.out = np.linalg.solve(H.T @ H + 1e-2 * np.eye(self.features), H.T @ (2.0 * y - 1.0))
        return self

    def predict(self, X):
        return (self._features(X) @ self.out > 0).astype(np.int64)


def pair_lab(seed: int, budget: int | None = PAIR_BUDGET):
    """``(vault, fit)`` for problem ``seed``: ``fit(name, seed)`` -> configuration ``name`` trained."""
    p = pair_problem(seed)
    rng = np.random.default_rng([seed, 14])
    X, y = _moons(p["n_train"] + 600, p["noise"], 0.0, rng)
    n = p["n_train"]
    vault = Vault((X[:n], y[:n]), (X[n:n + 300], y[n:n + 300]), (X[n + 300:], y[n + 300:]), metric=accuracy,
                  budget=budget)

    def fit(name, seed=0):
        """Train configuration ``name`` ("A" or "B"), its random features drawn from ``seed``, on vault.train."""
        name = str(name)
        if name not in NAMES:
            raise ValueError(f"unknown configuration {name!r}: choose 'A' or 'B'")
        vault.spend()
        vault.trained(name, seed)
        return RandomFourier(p["bandwidths"][name], p["features"], [seed, NAMES.index(name)]).fit(*vault.train)

    fit.names = NAMES
    return vault, fit


@lru_cache(maxsize=64)
def pair_differences(seed: int) -> np.ndarray:
    """Validation accuracy of A minus that of B, one difference per harness seed."""
    vault, fit = pair_lab(seed, budget=None)
    return np.array([accuracy(fit("A", s), *vault.val) - accuracy(fit("B", s), *vault.val) for s in PAIR_SEEDS])


def paired_p(differences) -> float:
    """Two-sided p-value of a paired t-test of the mean difference against 0 (1 when every difference is 0)."""
    from scipy import stats

    differences = np.asarray(differences, dtype=float)
    if np.allclose(differences, differences[0]):
        return 0.0 if differences[0] != 0 else 1.0
    return float(stats.ttest_1samp(differences, 0.0).pvalue)


def sign_flip_p(differences) -> float:
    """Two-sided exact sign-flip p-value of the mean of ``differences`` (all 2^n sign patterns).

    >>> sign_flip_p([0.1, 0.2, 0.1, 0.3, 0.2])  # every sign positive: 2 patterns of 32 are as extreme
    0.0625
    """
    d = np.asarray(differences, dtype=float)
    signs = np.array(np.meshgrid(*[[1.0, -1.0]] * len(d))).reshape(len(d), -1).T
    return float(np.mean(np.abs(signs @ d) >= abs(d.sum()) - 1e-12))


def acceptable_verdicts(case: dict) -> list[str]:
    """What a paired test over the lab's seeds supports.

    From the harness's 30 seeds, the expected t statistic of a test over 5 seeds: beyond 4, only the better
    configuration is supported (5 seeds detect it almost always); below 1, only "neither" (and whatever
    the test says over the first 5 or 10 seeds, a false alarm the learner's own seeds may share); in
    between, both the better one and "neither". (The first 5 or 10 seeds are tested both ways: a paired
    t-test and the exact sign-flip test.)
    """
    d = pair_differences(case["seed"])
    better = "A" if d.mean() > 0 else "B"
    spread = d.std(ddof=1)
    expected_t = abs(d.mean()) / (spread / np.sqrt(PAIR_SEEDS_NEEDED)) if spread > 0 else np.inf * (d.mean() != 0)
    if expected_t >= 4:
        return [better]
    if expected_t > 1:
        return [better, "neither"]
    verdicts = {"neither"}
    vault, fit = pair_lab(case["seed"], budget=None)
    for n in (PAIR_SEEDS_NEEDED, 2 * PAIR_SEEDS_NEEDED):
        first = np.array([accuracy(fit("A", s), *vault.val) - accuracy(fit("B", s), *vault.val) for s in range(n)])
        if min(paired_p(first), sign_flip_p(first)) < ALPHA:
            verdicts.add("A" if first.mean() > 0 else "B")
    return [v for v in VERDICTS if v in verdicts]
