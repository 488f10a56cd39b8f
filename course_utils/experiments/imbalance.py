"""Experiment harnesses of lab 06 (class imbalance): a threshold for a required recall, and a remedy.

``threshold_lab(seed)`` draws a rare-positive problem (its size, class ratio, separation and the
required recall from ``seed``), fits a logistic regression on many features (it overfits its training
set a little, as real models do) and returns a :class:`ThresholdLab`: ``lab.scores("train")`` and
``lab.scores("val")`` are the model's scores with the true labels, free; ``lab.test(threshold)`` opens
the test set once and returns the test recall and precision at that threshold.

``remedy_lab(seed)`` draws another problem and returns a :class:`.seeded.Runs` over :data:`REMEDIES`:
``lab.run(remedy, seed)`` resamples the training set (a bootstrap, the seed's), applies the remedy, fits
a 25-nearest-neighbour classifier and returns its validation scores; ``lab.test(remedy)`` opens the test
set and returns the test average precision.

>>> lab = threshold_lab(0)
>>> scores, y = lab.scores("val")
>>> scores.shape == y.shape and 0 < lab.required_recall < 1
True
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from course_utils.vault import Vault

from .seeded import Runs, supported_over_seeds

REMEDIES = ("none", "oversample", "undersample")
SEEDS = (0, 1, 2, 3, 4)
SEEDS_NEEDED = 3
REMEDY_BUDGET = 12   # 4 seeds of each remedy
MARGIN = 2           # thresholds up to this many validation positives below the highest one are supported


def _rare_problem(rng, n: int, positive_fraction: float, separation: float, informative: int, noise_features: int):
    """Rare positives shifted by ``separation`` along ``informative`` features, then pure-noise features."""
    y = (rng.random(n) < positive_fraction).astype(np.int64)
    X = rng.standard_normal((n, informative + noise_features))
    X[y == 1, :informative] += separation / np.sqrt(informative)
    return X, y


def _splits(X, y, parts):
    cuts = np.cumsum(parts)[:-1]
    return [(X[a:b], y[a:b]) for a, b in zip((0, *cuts), (*cuts, len(y)))]


# -- imb.threshold ----------------------------------------------------------------------------------------

def threshold_problem(seed: int) -> dict:
    """The drawn parameters of ``threshold_lab(seed)``."""
    rng = np.random.default_rng(seed)
    return {"n_train": int(rng.integers(400, 900)), "positive_fraction": float(rng.uniform(0.05, 0.15)),
            "separation": float(rng.uniform(2.0, 3.5)), "required_recall": float(rng.choice([0.8, 0.85, 0.9, 0.95]))}


@lru_cache(maxsize=16)
def _threshold_setup(seed: int):
    from sklearn.linear_model import LogisticRegression

    p = threshold_problem(seed)
    rng = np.random.default_rng([seed, 6])
    X, y = _rare_problem(rng, p["n_train"] + 3000, p["positive_fraction"], p["separation"], 5, 35)
    splits = _splits(X, y, (p["n_train"], 1500, 1500))
    model = LogisticRegression(C=10.0, max_iter=2000).fit(*splits[0])
    scores = [model.predict_proba(split[0])[:, 1] for split in splits]
    return splits, scores, p["required_recall"]


class ThresholdLab:
    """A fitted model's scores on the free splits, a required recall, and a sealed test set."""

    def __init__(self, seed: int):
        splits, self._scores, self.required_recall = _threshold_setup(seed)
        self.vault = Vault(*splits)

    def scores(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, y)`` on ``"train"`` or ``"val"``: the model's scores (higher: more likely positive)."""
        if split not in ("train", "val"):
            raise ValueError(f"the free splits are 'train' and 'val', got {split!r}: the test set opens with "
                             "lab.test(threshold)")
        scores = self._scores[0 if split == "train" else 1]
        return scores.copy(), (self.vault.train if split == "train" else self.vault.val).y.copy()

    def on_validation(self, threshold: float) -> float:
        """The decision ``threshold`` stands for on validation: the lowest validation positive's score at or
        above it (every threshold between two consecutive positive scores finds the same positives; the
        highest positive score, if none is above)."""
        scores, y = self._scores[1], self.vault.val.y
        positives = np.sort(scores[y == 1])
        at = int(np.searchsorted(positives, float(threshold), side="left"))
        return float(positives[min(at, len(positives) - 1)])

    def test(self, threshold: float) -> dict[str, float]:
        """Open the test set: recall and precision of ``score >= threshold`` there (the opening is logged)."""
        scores, y = self._scores[2], self.vault.sealed().y
        flagged = scores >= float(threshold)
        recall = float((flagged & (y == 1)).sum() / max((y == 1).sum(), 1))
        precision = float((flagged & (y == 1)).sum() / max(flagged.sum(), 1))
        self.vault.log_opening(self.on_validation(threshold), recall)
        return {"recall": recall, "precision": precision}

    def protocol(self, decision, **rules) -> str:
        return self.vault.protocol(decision, **rules)

    def __repr__(self) -> str:
        return f"ThresholdLab(required_recall={self.required_recall})"


def threshold_lab(seed: int) -> ThresholdLab:
    """The harness of ``imb.threshold``."""
    return ThresholdLab(seed)


def _highest_reaching(scores: np.ndarray, y: np.ndarray, recall: float) -> int:
    """How many of the highest positive scores reach ``recall`` (the k of the k-th highest)."""
    return int(np.ceil(recall * (y == 1).sum() - 1e-9))


def acceptable_thresholds(case: dict) -> list[float]:
    """The validation positives' scores that reach the required recall on validation: the highest one,
    and the next :data:`MARGIN` below it (a safety margin of a sample or two is a defensible choice)."""
    lab = threshold_lab(case["seed"])
    scores, y = lab.scores("val")
    positives = np.sort(scores[y == 1])[::-1]
    k = _highest_reaching(scores, y, lab.required_recall)
    return [float(t) for t in positives[k - 1:k + MARGIN]]


def threshold_on(seed: int, split: str) -> float:
    """The highest threshold reaching the required recall on ``split``'s scores, as seen on validation
    (on the training scores: a typical wrong choice, too high, since the model scores its own samples
    too confidently)."""
    lab = threshold_lab(seed)
    scores, y = lab.scores(split)
    k = _highest_reaching(scores, y, lab.required_recall)
    return lab.on_validation(np.sort(scores[y == 1])[::-1][k - 1])


def validation_recall(seed: int, threshold: float) -> float:
    """The recall on validation of ``score >= threshold``."""
    scores, y = threshold_lab(seed).scores("val")
    return float(((scores >= threshold) & (y == 1)).sum() / (y == 1).sum())


# -- imb.remedy -------------------------------------------------------------------------------------------

def remedy_problem(seed: int) -> dict:
    """The drawn parameters of ``remedy_lab(seed)``."""
    rng = np.random.default_rng(seed)
    return {"n_train": int(rng.integers(800, 2000)), "positive_fraction": float(rng.uniform(0.02, 0.15)),
            "separation": float(rng.uniform(1.5, 3.0))}


@lru_cache(maxsize=16)
def _remedy_splits(seed: int):
    p = remedy_problem(seed)
    rng = np.random.default_rng([seed, 16])
    X, y = _rare_problem(rng, p["n_train"] + 2000, p["positive_fraction"], p["separation"], 4, 0)
    return _splits(X, y, (p["n_train"], 1000, 1000))


def resample(X, y, remedy: str, rng) -> tuple[np.ndarray, np.ndarray]:
    """The training set after ``remedy``: as is, positives drawn again until they match the negatives
    (random oversampling), or negatives dropped until they match the positives (undersampling)."""
    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if remedy == "none":
        rows = np.arange(len(y))
    elif remedy == "oversample":
        rows = np.concatenate([negatives, rng.choice(positives, len(negatives))])
    elif remedy == "undersample":
        rows = np.concatenate([positives, rng.choice(negatives, len(positives), replace=False)])
    else:
        raise ValueError(f"unknown remedy {remedy!r}")
    return X[rows], y[rows]


@lru_cache(maxsize=64)
def remedy_scores(seed: int, remedy: str) -> dict[str, np.ndarray]:
    """Every seed's validation and test scores for one remedy (a bootstrap of the training set per seed)."""
    from sklearn.neighbors import KNeighborsClassifier

    (X, y), (X_val, _), (X_test, _) = _remedy_splits(seed)
    val, test = [], []
    for s in SEEDS:
        rng = np.random.default_rng([seed, s])
        rows = rng.integers(0, len(y), len(y))
        model = KNeighborsClassifier(n_neighbors=25).fit(*resample(X[rows], y[rows], remedy, rng))
        val.append(model.predict_proba(X_val)[:, 1])
        test.append(model.predict_proba(X_test)[:, 1])
    return {"val_scores": np.array(val), "test_scores": np.array(test)}


def _test_average_precision(seed: int):
    from sklearn.metrics import average_precision_score

    y_test = _remedy_splits(seed)[2][1]
    return lambda scores, rows, remedy: float(np.mean([average_precision_score(y_test, scores["test_scores"][r])
                                                       for r in rows]))


def remedy_lab(seed: int, budget: int | None = REMEDY_BUDGET) -> Runs:
    """The harness of ``imb.remedy``: ``run(remedy, seed)`` -> ``{"val_scores": ...}``, ``test(remedy)``."""
    return Runs(Vault(*_remedy_splits(seed), budget=budget), REMEDIES, SEEDS, lambda r: remedy_scores(seed, r),
                _test_average_precision(seed), name="remedy", seeds_needed=SEEDS_NEEDED)


def validation_average_precision(seed: int) -> dict[str, np.ndarray]:
    """Per remedy, each seed's average precision on validation."""
    from sklearn.metrics import average_precision_score

    y_val = _remedy_splits(seed)[1][1]
    return {r: np.array([average_precision_score(y_val, s) for s in remedy_scores(seed, r)["val_scores"]])
            for r in REMEDIES}


def acceptable_remedies(case: dict) -> list[str]:
    """The remedies whose validation average precision the seeds cannot tell from the best one's."""
    return supported_over_seeds(validation_average_precision(case["seed"]), seeds_needed=SEEDS_NEEDED,
                                lower_is_better=False)

