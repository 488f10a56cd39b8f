"""A sealed test set: training and validation data are free, the test split opens through one logged call.

The course's rule -- choose on validation, open the test set once, for the final
choice -- becomes something a check can see. A :class:`Vault` hands out the
training and validation splits; the test split is reached only through
:meth:`Vault.test`, which evaluates *one model* and writes down which candidate it
came from. Experiment harnesses call :meth:`Vault.trained` for every model they
fit (candidate, seed) and :meth:`Vault.spend` against the budget. After the
learner's decision, :meth:`Vault.protocol` says in one sentence whether the
protocol was followed, and names the first violation otherwise.

The log is the learner's honest lab notebook, not a lock: Python cannot hide an
attribute from code in the same kernel. What the grader trusts is judged out of
the kernel (the decision against the reference evidence); the protocol sentence
travels in the record with the decision.

>>> import numpy as np
>>> X, y = np.arange(12.0).reshape(6, 2), np.array([0, 1, 0, 1, 0, 1])
>>> vault = Vault((X[:2], y[:2]), (X[2:4], y[2:4]), (X[4:], y[4:]),
...               metric=lambda predict, X, y: float(np.mean(predict(X) == y)))
>>> Xv, yv = vault.val                        # free: no log entry
>>> vault.test(lambda X: np.array([0, 1]), candidate="parity")
1.0
>>> vault.protocol(decision="parity")
'followed'
>>> vault.protocol(decision="other")
'opened the test set for a candidate that is not your final choice (peeking): choose on validation first'
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, NamedTuple

#: what :meth:`Vault.protocol` says, one sentence per violation (checks and hints match these)
FOLLOWED = "followed"
CHOSE_ON_TEST = "opened the test set for several candidates (choosing on test): compare candidates on validation"
PEEKED = ("opened the test set for a candidate that is not your final choice (peeking): "
          "choose on validation first")
ONE_SEED = "compared candidates on too few seeds: train each candidate with {needed} seeds before choosing"
NOT_REPORTED = "reported no test score: open the test set once, for your final choice"
VIOLATIONS = (CHOSE_ON_TEST, PEEKED, ONE_SEED, NOT_REPORTED)


class Split(NamedTuple):
    """One split: inputs and targets (unpacks as ``X, y = split``)."""

    X: Any
    y: Any

    def __len__(self) -> int:  # the number of samples, not 2
        return len(self.X)


class BudgetSpent(RuntimeError):
    """Raised when an experiment would go over the harness's budget (a sentence for the learner)."""


@dataclass(frozen=True)
class Opening:
    """One look at the test set: which candidate, its score, and when (seconds since the vault was made)."""

    candidate: Any
    score: float
    at: float


@dataclass
class Vault:
    """Train and validation splits, free; a sealed test split behind :meth:`test`.

    ``metric(model, X, y) -> float`` scores a model (any object the metric understands: a predict
    function, a torch module...) on a split. ``budget`` is the number of trainings the harness may
    spend (``None``: unlimited).
    """

    train: Split
    val: Split
    _test: Split = field(repr=False)
    metric: Callable[[Any, Any, Any], float] | None = None
    budget: int | None = None
    openings: list[Opening] = field(default_factory=list)
    trainings: list[tuple[Any, Any]] = field(default_factory=list)   # (candidate, seed) per model fitted
    spent: int = 0
    _made: float = field(default_factory=time.perf_counter, repr=False)

    def __post_init__(self):
        self.train, self.val, self._test = Split(*self.train), Split(*self.val), Split(*self._test)

    def test(self, model: Any, *, candidate: Any) -> float:
        """Open the test set: score ``model`` (trained for ``candidate``) on it, and log the opening.

        Call it once, for your final choice, after choosing on validation.
        """
        if self.metric is None:
            raise TypeError("this vault has no metric: score models with the harness's own `report`")
        score = float(self.metric(model, self._test.X, self._test.y))
        self.openings.append(Opening(_plain(candidate), score, time.perf_counter() - self._made))
        return score

    def log_opening(self, candidate: Any, score: float) -> None:
        """For harnesses that score the test split themselves (e.g. a threshold on held scores)."""
        self.openings.append(Opening(_plain(candidate), float(score), time.perf_counter() - self._made))

    def sealed(self) -> Split:
        """The test split itself, for a harness's own scoring code (never hand it to the learner)."""
        return self._test

    def trained(self, candidate: Any, seed: Any = None) -> None:
        """Note that one model was fitted for ``candidate`` with ``seed`` (harnesses call this)."""
        self.trainings.append((_plain(candidate), seed))

    def spend(self, n: int = 1, what: str = "training") -> None:
        """Count ``n`` experiments against the budget; :class:`BudgetSpent` (with a sentence) beyond it."""
        if self.budget is not None and self.spent + n > self.budget:
            raise BudgetSpent(f"the budget is {self.budget} {what}s and you have used {self.spent}: "
                              "plan your experiments, then run them")
        self.spent += n

    def seeds_of(self, candidate: Any) -> int:
        """How many distinct seeds the harness trained ``candidate`` with."""
        return len({seed for c, seed in self.trainings if same(c, candidate)})

    def protocol(self, decision: Any, *, seeds_needed: int = 1, report: bool = True,
                 candidates: int | None = None) -> str:
        """:data:`FOLLOWED`, or the first violation in one sentence.

        ``decision`` is the learner's final choice; ``seeds_needed`` the number of seeds a comparison
        needs (checked for the chosen candidate and, with ``candidates``, that at least that many
        candidates were trained with as many seeds); ``report`` whether a test score was asked for.

        >>> v = Vault(([0], [0]), ([0], [0]), ([0], [0]))
        >>> v.log_opening(0.1, 0.9); v.log_opening(0.01, 0.8)
        >>> v.protocol(0.1) == CHOSE_ON_TEST
        True
        """
        looked = {_key(o.candidate) for o in self.openings}
        if len(looked) > 1:
            return CHOSE_ON_TEST
        if self.openings and not same(self.openings[0].candidate, decision):
            return PEEKED
        if seeds_needed > 1:
            trained = {_key(c): c for c, _ in self.trainings}
            enough = [c for c in trained.values() if self.seeds_of(c) >= seeds_needed]
            if (self.seeds_of(decision) < seeds_needed
                    or (candidates is not None and len(enough) < min(candidates, len(trained)))):
                return ONE_SEED.format(needed=seeds_needed)
        if report and not self.openings:
            return NOT_REPORTED
        return FOLLOWED

    def log(self) -> list[dict]:
        """The test openings as plain data (candidate, score, seconds), for a record or a report."""
        return [{"candidate": o.candidate, "score": o.score, "at": round(o.at, 3)} for o in self.openings]

    def __iter__(self) -> Iterator[Split]:
        raise TypeError("a vault does not unpack: use vault.train and vault.val; vault.test(model, candidate=...) "
                        "opens the test set once")


def same(a: Any, b: Any) -> bool:
    """Two candidates are the same choice (numbers within float noise, anything else equal).

    >>> same(0.1, 0.1 + 1e-12), same(0.1, 0.01), same("sgd", "sgd")
    (True, False, True)
    """
    a, b = _plain(a), _plain(b)
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def _key(candidate: Any) -> Any:
    """A hashable key under which float noise does not separate two candidates."""
    candidate = _plain(candidate)
    if isinstance(candidate, float):
        return round(candidate, 6) if candidate == 0 else float(f"{candidate:.6g}")
    if isinstance(candidate, (list, tuple)):
        return tuple(_key(c) for c in candidate)
    return candidate if isinstance(candidate, (str, int, bool, type(None))) else repr(candidate)


def _plain(value: Any) -> Any:
    """NumPy/torch scalars as Python numbers; tuples as lists; anything else as it is."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if callable(getattr(value, "item", None)) and getattr(value, "shape", None) == ():
        return value.item()
    return value
