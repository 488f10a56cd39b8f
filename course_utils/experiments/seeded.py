"""Seeded runs behind a budget, and the candidates that seeded evidence supports.

Shared by the harnesses of labs 06-08. :class:`Runs` is the harness a decision exercise hands to the
learner: ``runs.run(candidate, seed)`` trains one candidate with one seed (it costs one unit of the
budget and is logged in the vault), ``runs.test(candidate)`` opens the sealed test set for one
candidate (logged too), ``runs.protocol(...)`` is the vault's sentence. :func:`supported_over_seeds`
is what a check accepts: every candidate the seeds cannot tell apart from the best one.

>>> scores = {"a": [0.30, 0.31, 0.29, 0.30, 0.32], "b": [0.31, 0.30, 0.30, 0.31, 0.31],
...           "c": [0.50, 0.52, 0.49, 0.51, 0.50]}
>>> supported_over_seeds(scores, seeds_needed=3)
['a', 'b']
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, Callable, Sequence

import numpy as np

from course_utils.vault import FOLLOWED, Vault, same

#: a training that diverged (nan or inf) counts as this loss (far above ln 2 of a guess)
DIVERGED = 10.0


def finite(losses) -> np.ndarray:
    """Losses with every nan, inf or value above :data:`DIVERGED` set to :data:`DIVERGED`.

    >>> finite([0.5, float("nan"), 1e9]).tolist()
    [0.5, 10.0, 10.0]
    """
    values = np.nan_to_num(np.asarray(losses, dtype=np.float64), nan=DIVERGED, posinf=DIVERGED, neginf=DIVERGED)
    return np.minimum(values, DIVERGED)


def supported_over_seeds(scores: dict, *, seeds_needed: int, lower_is_better: bool = True, z: float = 1.0) -> list:
    """The candidates the seeds cannot tell from the best one, and the best one on any seeds a learner may use.

    ``scores[c][k]`` is candidate ``c``'s score with seed ``k``. Accepted: every candidate whose mean over
    all the seeds is within ``z`` standard errors (of the best candidate's mean) of the best mean -- the
    one-standard-error rule -- and the best candidate of every set of at least ``seeds_needed`` seeds
    (what a learner who ran only those seeds finds). A candidate that is worse on every set of seeds,
    by more than the noise, is not.
    """
    names = list(scores)
    table = np.array([np.asarray(scores[c], dtype=np.float64) for c in names])
    if not lower_is_better:
        table = -table
    n = table.shape[1]
    means = table.mean(axis=1)
    best = int(np.argmin(means))
    error = table[best].std(ddof=1) / np.sqrt(n) if n > 1 else 0.0
    keep = means - means[best] <= z * error + 1e-9
    for size in range(min(seeds_needed, n), n + 1):
        for subset in combinations(range(n), size):
            keep[int(np.argmin(table[:, subset].mean(axis=1)))] = True
    return [name for name, kept in zip(names, keep) if kept]


class Runs:
    """A harness of seeded runs: ``run(candidate, seed)`` against a budget, ``test(candidate)`` sealed.

    ``train(candidate)`` returns the curves of *every* seed of :attr:`seeds` at once (a dict of arrays
    of shape ``(seeds, epochs + 1)``, e.g. from :func:`course_utils.train.fit_seeds`); curves named
    ``test_*`` stay inside the harness. ``test_score(curves, rows, candidate)`` turns the test curves
    of the seeds the learner trained (``rows``) into the number a test opening reports.
    ``seeds_needed`` is the number of seeds per candidate a comparison needs (the protocol's rule).
    """

    def __init__(self, vault: Vault, candidates: Sequence, seeds: Sequence[int], train: Callable[[Any], dict],
                 test_score: Callable[[dict, list, Any], float], name: str = "candidate", seeds_needed: int = 3):
        self.vault, self.candidates, self.seeds = vault, tuple(candidates), tuple(seeds)
        self.seeds_needed = seeds_needed  # the seeds per candidate a comparison needs (the protocol's rule)
        self._train, self._test_score, self._name = train, test_score, name

    def _candidate(self, candidate: Any) -> Any:
        for known in self.candidates:
            if same(candidate, known):
                return known
        raise ValueError(f"{candidate!r} is not one of the {self._name}s of this lab: {list(self.candidates)}")

    def _row(self, seed: Any) -> int:
        if seed not in self.seeds or isinstance(seed, bool):
            raise ValueError(f"the seeds of this lab are {list(self.seeds)}, got {seed!r}")
        return self.seeds.index(seed)

    def run(self, candidate: Any, seed: int) -> dict[str, np.ndarray]:
        """Train ``candidate`` with ``seed``: its curves (one value per epoch, epoch 0 before training)."""
        candidate, row = self._candidate(candidate), self._row(seed)
        self.vault.spend(1)
        self.vault.trained(candidate, seed)
        curves = self._train(candidate)
        return {name: values[row].copy() for name, values in curves.items() if not name.startswith("test_")}

    def test(self, candidate: Any) -> float:
        """Open the test set for ``candidate`` (trained first with at least one seed); the opening is logged."""
        candidate = self._candidate(candidate)
        rows = sorted({self._row(seed) for c, seed in self.vault.trainings if same(c, candidate)})
        if not rows:
            raise ValueError(f"train the {self._name} {candidate!r} before you test it")
        score = float(self._test_score(self._train(candidate), rows, candidate))
        self.vault.log_opening(candidate, score)
        return score

    def protocol(self, decision: Any, **rules) -> str:
        """The vault's sentence for this decision (:meth:`Vault.protocol`)."""
        return self.vault.protocol(decision, **rules)

    @property
    def budget_left(self) -> int | None:
        return None if self.vault.budget is None else self.vault.budget - self.vault.spent

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self._name}s={list(self.candidates)}, seeds={list(self.seeds)}, "
                f"budget left={self.budget_left})")


def teacher_splits(seed: int, n_train: int, noise: float = 0.0, d: int = 10, scales=None,
                   n_val: int = 200, n_test: int = 300):
    """Train, validation and test splits of a 2-class problem labelled by a random teacher network.

    The label is which side of its median a random ``tanh`` network of the inputs falls on, flipped
    with probability ``noise``; ``scales`` (one per input, default 1) multiply the inputs after labelling.

    >>> train, val, test = teacher_splits(0, n_train=50)
    >>> train[0].shape, val[0].dtype, round(float(test[1].mean()), 1)
    ((50, 10), dtype('float32'), 0.5)
    """
    rng = np.random.default_rng([seed, 7])
    hidden, out = rng.standard_normal((d, 8)), rng.standard_normal(8)
    Z = rng.standard_normal((n_train + n_val + n_test, d))
    score = np.tanh(Z @ hidden) @ out
    y = (score > np.median(score)).astype(np.int64)
    flip = rng.random(len(y)) < noise
    y = np.where(flip, 1 - y, y)
    X = (Z * (1.0 if scales is None else np.asarray(scales))).astype(np.float32)
    cuts = (n_train, n_train + n_val)
    return [(X[a:b], y[a:b]) for a, b in zip((0, *cuts), (*cuts, len(y)))]


# -- what the decision checks of labs 06-08 share ------------------------------------------------------------

def observe_choice(key: str, what: str, *, candidates: int | None = 2, report: bool = True):
    """The ``observe`` of a decision exercise whose harness (argument ``lab``) is a :class:`Runs`: the
    decision as one of ``lab.candidates``, the protocol with ``lab.seeds_needed`` seeds for the chosen
    candidate and ``candidates`` of them (see :meth:`Vault.protocol`)."""
    from course_utils.checks.decisions import observe_decision

    def observe(result: Any, kwargs: dict) -> dict:
        lab = kwargs["lab"]
        return observe_decision(key, vault="lab", seeds_needed=lab.seeds_needed, report=report,
                                candidates=candidates, convert=choice_among(lab.candidates, what))(result, kwargs)

    return observe


def choice_among(candidates: Sequence, what: str) -> Callable[[Any], Any]:
    """A ``convert`` for :func:`checks.decisions.observe_decision`: the learner's choice as the candidate it
    names (a NumPy or torch scalar, an int for a float...), or a sentence saying what a choice is.

    >>> choice_among((0.0, 0.1), "weight decay")(np.float32(0.1))
    0.1
    """
    from course_utils.checks.values import AnswerError, describe, short_repr, to_plain

    def convert(choice: Any) -> Any:
        for candidate in candidates:
            if same(choice, candidate):
                return candidate
        plain = to_plain(choice)
        got = short_repr(plain) if isinstance(plain, (str, int, float)) else describe(plain)
        shown = list(candidates) if len(candidates) <= 8 else f"{candidates[0]} ... {candidates[-1]}"
        raise AnswerError(f"your {what} {got} is not one of the lab's candidates {shown}")

    return convert


def chose(wrong: Callable[[dict], Any], acceptable: Callable[[dict], list]) -> Callable[[Any, Any, dict], bool]:
    """A hint predicate: the decision is the typical wrong choice ``wrong(case)``, the evidence does not
    support it, and the protocol was followed. (A hint replaces the case's message: it never fires on a
    decision that is right, and never hides a protocol violation, which the message then names.)"""

    def test(got: Any, want: Any, case: dict) -> bool:
        decision = got["decision"]
        return (got["protocol"] == FOLLOWED and not any(same(decision, c) for c in acceptable(case))
                and same(decision, wrong(case)))

    return test
