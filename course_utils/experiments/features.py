"""Experiment harnesses of lab 11: which error slice to fix first, and which detector finds a backdoor.

Both draw their problem from the case's seed, so that the right decision differs from learner to learner.

``slice_lab(seed)`` returns ``(vault, inspect, fixable)``: a model's misclassified dev images, whose tags
(:data:`CATEGORIES`) cost one inspection each (``inspect(indices)`` -> their tags, within a budget of
:data:`INSPECTIONS`), ``fixable[category]`` the fraction of a category's errors a fix would remove.
``vault.val`` holds, for free, the errors' positions and their true classes: the list is sorted by
true class, and categories gather on a few classes, so the first errors of the list are no sample of
them. The sealed test split holds the test errors' tags; ``vault.test(category, candidate=category)``
is the test error rate once that category is fixed.

``detector_lab(seed)`` returns ``(vault, detect)``: the penultimate-layer features of the training
images labelled as the attacked class (``vault.train``, a few of them poisoned, which ones unknown),
a *canary* set in which the defender planted a trigger of their own (``vault.val``: features, and which
rows are poisoned), and ``detect(name, features)``, the scores of a detector of :data:`DETECTORS` (high:
suspicious). The defender inspects the :data:`TOP` highest-scored training images; the vault's metric is
the share of poisoned images among them (precision at TOP), and its test split the training set with
the truth.

>>> vault, inspect, fixable = slice_lab(0)
>>> len(inspect([0, 1, 2])), vault.spent, sorted(fixable) == sorted(CATEGORIES)
(3, 3, True)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from course_utils.vault import Vault

from .choices import within_noise

CATEGORIES = ("faint", "rotated", "3 vs 8", "mislabelled", "thick strokes")
INSPECTIONS = 60
DETECTORS = ("spectral", "distance", "norm")
TOP = 30


# -- feat.fix_first --------------------------------------------------------------------------------------

def slice_problem(seed: int) -> dict:
    """The error mix of a case: each category's share of the errors, its fixable fraction, its classes."""
    rng = np.random.default_rng([seed, 11])
    return {"shares": rng.dirichlet(np.full(len(CATEGORIES), 1.2)),
            "fixable": np.round(rng.uniform(0.1, 0.9, len(CATEGORIES)), 2),
            "classes": np.array([rng.choice(10, 2, replace=False) for _ in CATEGORIES]),
            "dev_errors": int(rng.integers(300, 500)), "test_error_rate": float(rng.uniform(0.05, 0.15))}


def _errors(p: dict, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` errors: their category (index) and true class, most of a category on its two classes."""
    category = rng.choice(len(CATEGORIES), n, p=p["shares"])
    own = p["classes"][category, rng.integers(0, 2, n)]
    label = np.where(rng.random(n) < 0.85, own, rng.integers(0, 10, n))
    return category, label


def slice_lab(seed: int, budget: int | None = INSPECTIONS):
    """``(vault, inspect, fixable)`` for deciding which error category to fix first."""
    p = slice_problem(seed)
    rng = np.random.default_rng([seed, 12])
    category, label = _errors(p, p["dev_errors"], rng)
    order = np.lexsort((rng.random(len(label)), label))  # sorted by true class, as a dump of errors often is
    category, label = category[order], label[order]
    test_category, _ = _errors(p, 2000, rng)
    fixable = dict(zip(CATEGORIES, p["fixable"].tolist()))

    def after_fix(chosen, X, y) -> float:
        """The test error rate once the errors of ``chosen`` that a fix can remove are gone."""
        share = float(np.mean(np.asarray(y) == chosen))
        return p["test_error_rate"] * (1 - share * fixable[chosen])

    vault = Vault((np.arange(0), np.arange(0)), (np.arange(len(label)), label),
                  (np.arange(len(test_category)), np.asarray(CATEGORIES)[test_category]),
                  metric=lambda chosen, X, y: after_fix(_category(chosen), X, y), budget=budget)

    def inspect(indices) -> list[str]:
        """The tags of the dev errors at ``indices`` (one inspection each)."""
        indices = np.atleast_1d(np.asarray(indices)).astype(int).ravel()
        if indices.size and (indices.min() < 0 or indices.max() >= len(label)):
            raise IndexError(f"the dev set has {len(label)} errors: indices go from 0 to {len(label) - 1}")
        vault.spend(len(indices), "inspection")
        return [CATEGORIES[c] for c in category[indices]]

    return vault, inspect, fixable


def _category(chosen) -> str:
    if chosen not in CATEGORIES:
        raise ValueError(f"unknown category {chosen!r}: choose one of {', '.join(map(repr, CATEGORIES))}")
    return chosen


def acceptable_slices(case: dict) -> list[str]:
    """The categories whose gain (share of the errors x fixable fraction) is within two standard errors of
    the best one's, as a random sample of INSPECTIONS errors measures it."""
    p = slice_problem(case["seed"])
    gain = dict(zip(CATEGORIES, p["shares"] * p["fixable"]))
    error = dict(zip(CATEGORIES, p["fixable"] * np.sqrt(p["shares"] * (1 - p["shares"]) / INSPECTIONS)))
    return within_noise(gain, error, z=2.0)


def slice_mistake(case: dict, mistake: str) -> str:
    """A typical wrong choice: from the first INSPECTIONS errors of the list, or the largest share alone."""
    p = slice_problem(case["seed"])
    if mistake == "largest share":
        return CATEGORIES[int(np.argmax(p["shares"]))]
    vault, inspect, fixable = slice_lab(case["seed"], budget=None)
    tags = inspect(range(INSPECTIONS))
    return max(CATEGORIES, key=lambda c: tags.count(c) * fixable[c])


# -- feat.choose_detector --------------------------------------------------------------------------------

def detector_problem(seed: int) -> dict:
    """The backdoor of a case: feature dimension, spread of the clean features, the trigger's shift."""
    rng = np.random.default_rng([seed, 21])
    return {"dim": 12, "top_variance": float(rng.choice([2.0, 40.0])), "shift": float(rng.uniform(5.0, 9.0)),
            "spread": float(rng.choice([0.0, 1.0])), "poisoned": float(rng.uniform(0.08, 0.15))}


def _class_features(p: dict, n: int, rng: np.random.Generator, direction: np.ndarray, axes: np.ndarray):
    """``n`` feature vectors of one class, a share of them poisoned: shifted along ``direction`` (plus a
    random part of relative size ``spread``), and which rows are."""
    variances = np.concatenate([[p["top_variance"]], np.linspace(1.5, 0.5, p["dim"] - 1)])
    clean = (rng.normal(size=(n, p["dim"])) * np.sqrt(variances)) @ axes.T + 3.0
    poisoned = rng.random(n) < p["poisoned"]
    random_part = rng.normal(size=(n, p["dim"]))
    random_part /= np.linalg.norm(random_part, axis=1, keepdims=True)
    shift = p["shift"] * ((1 - p["spread"]) * direction + p["spread"] * random_part)
    return clean + poisoned[:, None] * shift, poisoned


def detect(name: str, features) -> np.ndarray:
    """Suspicion scores of the rows of ``features`` (one class): ``"spectral"``, the squared projection on
    the top singular direction of the centred features; ``"distance"``, the distance to the class mean;
    ``"norm"``, the length of the feature vector."""
    F = np.asarray(features, dtype=float)
    centred = F - F.mean(axis=0)
    if name == "spectral":
        return (centred @ np.linalg.svd(centred, full_matrices=False)[2][0]) ** 2
    if name == "distance":
        return np.linalg.norm(centred, axis=1)
    if name == "norm":
        return np.linalg.norm(F, axis=1)
    raise ValueError(f"unknown detector {name!r}: choose one of {', '.join(map(repr, DETECTORS))}")


def precision_at_top(scores, poisoned) -> float:
    """The share of poisoned rows among the TOP highest scores."""
    top = np.argsort(-np.asarray(scores, dtype=float), kind="stable")[:TOP]
    return float(np.mean(np.asarray(poisoned, dtype=bool)[top]))


def _detector_data(seed: int, draw: int = 0):
    p = detector_problem(seed)
    rng = np.random.default_rng([seed, 22])
    axes = np.linalg.qr(rng.normal(size=(p["dim"], p["dim"])))[0]
    direction = axes[:, 1] * 0.6 + axes[:, -1] * 0.8  # not the clean features' top direction
    train = _class_features(p, 300, rng, direction, axes)
    canary = _class_features(p, 400, np.random.default_rng([seed, 23, draw]), direction, axes)
    return train, canary


def detector_lab(seed: int):
    """``(vault, detect)`` for choosing the detector whose top-scored training images to inspect."""
    (F_train, truth), canary = _detector_data(seed)

    def metric(score, F, poisoned) -> float:
        return precision_at_top(score(F), poisoned)

    return Vault((F_train, np.full(len(F_train), -1)), canary, (F_train, truth), metric=metric), detect


@lru_cache(maxsize=32)
def detector_scores(seed: int, draws: int = 30) -> dict:
    """Per detector: its precision at TOP on ``draws`` canary sets, and on the training set itself."""
    (F_train, truth), _ = _detector_data(seed)
    out = {}
    for name in DETECTORS:
        val = [precision_at_top(detect(name, F), poisoned)
               for F, poisoned in (_detector_data(seed, draw)[1] for draw in range(draws))]
        out[name] = {"val": np.array(val), "test": precision_at_top(detect(name, F_train), truth)}
    return out


def acceptable_detectors(case: dict) -> list[str]:
    """The detectors whose mean precision on canary sets is within two standard errors (the spread of one
    canary set's measurement) of the best one's."""
    scores = detector_scores(case["seed"])
    means = {name: float(s["val"].mean()) for name, s in scores.items()}
    errors = {name: float(s["val"].std(ddof=1)) for name, s in scores.items()}
    return within_noise(means, errors, z=2.0)
