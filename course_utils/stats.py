"""Uncertainty for the numbers a lesson compares.

A lesson that says "B beats A" must show that the difference is larger than
the noise: over several seeds (or splits), or on enough test samples. Three
tools, one job each:

* :func:`mean_interval` -- the mean of repeated runs with its 95 % interval
  (Student's t);
* :func:`binomial_interval` -- an accuracy of k correct out of n with its
  95 % interval (Wilson), the precision of one test score;
* :func:`paired` -- two methods run on the *same* seeds or splits: the mean
  difference, its interval, a p-value, and whether the difference is
  *resolved* (the interval excludes 0).

>>> a = mean_interval([0.90, 0.92, 0.91, 0.93, 0.89])
>>> print(a)
0.910 ± 0.020 (5 runs)
>>> print(binomial_interval(90, 100))
0.900 [0.826, 0.945] (n=100)
>>> d = paired([0.90, 0.92, 0.91, 0.93, 0.89], [0.93, 0.94, 0.94, 0.95, 0.92])
>>> d.resolved, round(d.difference.mean, 3)
(True, 0.026)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
from scipy import stats as _scipy

LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    """A measured number with its interval: ``mean`` in ``[low, high]`` at ``level``, from ``n`` values."""

    mean: float
    low: float
    high: float
    n: int
    level: float = LEVEL
    kind: str = "runs"  # "runs" (a t-interval over repeats) or "samples" (a binomial interval)

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def excludes(self, value: float) -> bool:
        """True when ``value`` lies outside the interval."""
        return not (self.low <= value <= self.high)

    def overlaps(self, other: "Estimate") -> bool:
        return self.low <= other.high and other.low <= self.high

    def __format__(self, spec: str) -> str:
        digits = spec or ".3f"
        if self.kind == "samples":
            return f"{self.mean:{digits}} [{self.low:{digits}}, {self.high:{digits}}] (n={self.n})"
        return f"{self.mean:{digits}} ± {self.half_width:{digits}} ({self.n} runs)"

    def __str__(self) -> str:
        return format(self)


def mean_interval(values: Iterable[float], level: float = LEVEL) -> Estimate:
    """The mean of repeated runs and its ``level`` interval (Student's t; one run: an infinite interval).

    >>> e = mean_interval([1.0, 2.0, 3.0])
    >>> round(e.low, 3), round(e.high, 3)
    (-0.484, 4.484)
    """
    x = np.asarray(list(values), dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("mean_interval needs at least one value")
    mean = float(x.mean())
    if x.size == 1:
        return Estimate(mean, -math.inf, math.inf, 1, level)
    sem = float(x.std(ddof=1) / math.sqrt(x.size))
    half = float(_scipy.t.ppf(0.5 + level / 2, x.size - 1)) * sem
    return Estimate(mean, mean - half, mean + half, int(x.size), level)


def binomial_interval(successes: int, n: int, level: float = LEVEL) -> Estimate:
    """``successes / n`` with its Wilson score interval: how precise one accuracy on n samples is.

    >>> e = binomial_interval(450, 500)
    >>> round(e.half_width, 3)
    0.026
    """
    if n <= 0:
        raise ValueError("binomial_interval needs n > 0")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n={n}, got {successes}")
    z = float(_scipy.norm.ppf(0.5 + level / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), int(n), level, kind="samples")


def accuracy_interval(correct: Sequence[bool] | np.ndarray, level: float = LEVEL) -> Estimate:
    """The accuracy of a vector of right/wrong predictions with its binomial interval.

    >>> print(accuracy_interval([True] * 9 + [False]))
    0.900 [0.596, 0.982] (n=10)
    """
    c = np.asarray(correct, dtype=bool).ravel()
    return binomial_interval(int(c.sum()), int(c.size), level)


@dataclass(frozen=True)
class Paired:
    """``b - a`` over the same seeds or splits: the difference, its interval and a two-sided p-value."""

    difference: Estimate
    p_value: float

    @property
    def resolved(self) -> bool:
        """The interval of the difference excludes 0: the runs tell the two methods apart."""
        return self.difference.excludes(0.0)

    @property
    def sign(self) -> int:
        """+1 when b is resolved above a, -1 when below, 0 when the difference is not resolved."""
        return 0 if not self.resolved else (1 if self.difference.mean > 0 else -1)

    def __format__(self, spec: str) -> str:
        digits = spec or ".3f"
        d = self.difference
        verdict = "resolved" if self.resolved else "not resolved"
        return (f"{d.mean:+{digits}} [{d.low:+{digits}}, {d.high:+{digits}}], {verdict} "
                f"(p = {self.p_value:.2g}, {d.n} paired runs)")

    def __str__(self) -> str:
        return format(self)


def paired(a: Iterable[float], b: Iterable[float], level: float = LEVEL) -> Paired:
    """Compare two methods measured on the same seeds/splits (a paired t-test on ``b - a``).

    >>> print(paired([1, 2, 3], [1.1, 2.0, 3.05]))
    +0.050 [-0.074, +0.174], not resolved (p = 0.23, 3 paired runs)
    """
    x = np.asarray(list(a), dtype=np.float64).ravel()
    y = np.asarray(list(b), dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"paired needs the same number of runs, got {x.size} and {y.size}")
    diff = y - x
    estimate = mean_interval(diff, level)
    if diff.size < 2:
        p = math.nan
    elif np.all(diff == diff[0]):
        p = 1.0 if diff[0] == 0 else 0.0
    else:
        p = float(_scipy.ttest_1samp(diff, 0.0).pvalue)
    return Paired(estimate, p)


def over_seeds(run: Callable[[int], float], seeds: Iterable[int] = range(5)) -> np.ndarray:
    """``run(seed)`` for each seed, as an array (feed it to :func:`mean_interval` or :func:`paired`).

    >>> over_seeds(lambda seed: seed * 2.0, range(3))
    array([0., 2., 4.])
    """
    return np.asarray([float(run(seed)) for seed in seeds], dtype=np.float64)


def table(rows: dict[str, Estimate], header: str = "", digits: str = ".3f") -> str:
    """An aligned text table of estimates, one line per method.

    >>> print(table({"plain": mean_interval([0.8, 0.82]), "fix": mean_interval([0.9, 0.91])}, "accuracy"))
    method  accuracy
    plain   0.810 ± 0.127 (2 runs)
    fix     0.905 ± 0.064 (2 runs)
    """
    width = max([len("method")] + [len(name) for name in rows])
    lines = [f"{'method':<{width}}  {header}".rstrip()]
    lines += [f"{name:<{width}}  {format(estimate, digits)}" for name, estimate in rows.items()]
    return "\n".join(lines)


def paired_folds(a: Iterable[float], b: Iterable[float], k: int, level: float = LEVEL) -> Paired:
    """:func:`paired` for scores from (repeated) k-fold cross-validation, whose training sets overlap.

    Overlapping folds make the scores correlated, so :func:`paired`'s interval is too narrow and its
    p-value too small. Nadeau and Bengio's corrected resampled t-test (2003) widens the variance of
    the mean difference of J scores from σ²/J to (1/J + n_test/n_train)·σ², with
    n_test/n_train = 1/(k − 1) for k folds.

    >>> a, b = [0.90, 0.92, 0.91, 0.93, 0.89], [0.93, 0.94, 0.94, 0.95, 0.92]
    >>> print(paired(a, b))
    +0.026 [+0.019, +0.033], resolved (p = 0.00045, 5 paired runs)
    >>> print(paired_folds(a, b, k=5))
    +0.026 [+0.016, +0.036], resolved (p = 0.0021, 5 paired runs)
    """
    x = np.asarray(list(a), dtype=np.float64).ravel()
    y = np.asarray(list(b), dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"paired_folds needs the same number of scores, got {x.size} and {y.size}")
    if k < 2:
        raise ValueError(f"k-fold cross-validation needs k >= 2, got {k}")
    diff = y - x
    if diff.size < 2:
        return paired(x, y, level)
    mean = float(diff.mean())
    error = math.sqrt((1 / diff.size + 1 / (k - 1)) * float(diff.var(ddof=1)))
    if error == 0:
        return Paired(Estimate(mean, mean, mean, int(diff.size), level), 1.0 if mean == 0 else 0.0)
    half = float(_scipy.t.ppf(0.5 + level / 2, diff.size - 1)) * error
    p = float(2 * _scipy.t.sf(abs(mean / error), diff.size - 1))
    return Paired(Estimate(mean, mean - half, mean + half, int(diff.size), level), p)
