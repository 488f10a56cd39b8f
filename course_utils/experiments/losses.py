"""Experiment harnesses of lab 04 (losses): which training run is broken, and which output bias to start
from.

``broken_runs(seed)`` trains four softmax classifiers on one drawn problem (the number of classes C
from ``seed``): three healthy ones at different learning rates, and one with a bug drawn from :data:`BUGS`.
It returns ``(runs, n_classes)``: each run's training losses, step by step, the first one before any
update.

``bias_lab(seed)`` draws an imbalanced problem (C and the class shares from ``seed``) and returns
``(vault, fit)``: ``fit(bias, seed)`` trains a softmax classifier for a short budget of steps, its output
bias initialized by one of :data:`BIASES`, its weights drawn from ``seed``; the vault scores a model by
its mean cross-entropy (lower is better).

>>> runs, n_classes = broken_runs(0)
>>> sorted(runs) == list(RUN_NAMES), len(runs["run 1"]) == STEPS + 1
(True, True)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from course_utils.vault import Vault

from .choices import within_noise

FEATURES = 10
STEPS = 60

# -- loss.find_broken -----------------------------------------------------------------------------------

RUN_NAMES = ("run 1", "run 2", "run 3", "run 4")
#: the planted bugs: weights 300 times too large at initialization, labels shuffled apart from the inputs,
#: a sign error in the update (it climbs the loss)
BUGS = ("large init", "shuffled labels", "sign error")
HEALTHY_RATES = (0.1, 0.5, 1.5)


def _softmax_loss(logits, y) -> float:
    z = logits - logits.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]))


def _problem_data(n_classes: int, n: int, rng, shares=None, spread: float = 1.5):
    """Gaussian classes in 10 dimensions, their centres ``spread`` apart on average; ``shares`` of each class."""
    centres = rng.normal(0.0, spread / np.sqrt(2), (n_classes, FEATURES))
    y = rng.choice(n_classes, size=n, p=shares)
    return centres[y] + rng.normal(size=(n, FEATURES)), y


def train_softmax(X, y, n_classes: int, *, lr: float, steps: int = STEPS, weight_scale: float = 0.01,
                  bias=None, seed=0, X_val=None, y_val=None):
    """Full-batch gradient descent on a linear softmax classifier: ``(W, b, training losses)``, the first loss
    before any update."""
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, weight_scale, (X.shape[1], n_classes))
    b = np.zeros(n_classes) if bias is None else np.array(bias, dtype=np.float64)
    onehot = np.eye(n_classes)[y]
    losses = []
    for step in range(steps + 1):
        logits = X @ W + b
        losses.append(_softmax_loss(logits, y))
        if step == steps:
            break
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        grad = (z / z.sum(axis=1, keepdims=True) - onehot) / len(y)
        W -= lr * X.T @ grad
        b -= lr * grad.sum(axis=0)
    return W, b, losses


def broken_problem(seed: int) -> dict:
    """The drawn parameters: the number of classes, the bug, and the run that has it."""
    rng = np.random.default_rng([seed, 21])
    return {"n_classes": int(rng.integers(3, 21)), "bug": str(rng.choice(BUGS)),
            "broken": str(rng.choice(RUN_NAMES)), "rates": [float(r) for r in rng.permutation(HEALTHY_RATES)]}


@lru_cache(maxsize=64)
def _broken_runs(seed: int) -> tuple:
    p = broken_problem(seed)
    rng = np.random.default_rng([seed, 22])
    X, y = _problem_data(p["n_classes"], 400, rng)
    runs, rates = {}, iter(p["rates"])
    for index, name in enumerate(RUN_NAMES):
        if name != p["broken"]:
            runs[name] = train_softmax(X, y, p["n_classes"], lr=next(rates), seed=[seed, index])[2]
        elif p["bug"] == "large init":
            runs[name] = train_softmax(X, y, p["n_classes"], lr=0.5, weight_scale=3.0, seed=[seed, index])[2]
        elif p["bug"] == "shuffled labels":
            runs[name] = train_softmax(X, rng.permutation(y), p["n_classes"], lr=0.5, seed=[seed, index])[2]
        else:
            runs[name] = train_softmax(X, y, p["n_classes"], lr=-0.5, seed=[seed, index])[2]
    return tuple((name, tuple(runs[name])) for name in RUN_NAMES), p["n_classes"]


def broken_runs(seed: int) -> tuple[dict[str, list[float]], int]:
    """``(runs, n_classes)`` of problem ``seed``: each run's training losses (a fresh copy)."""
    runs, n_classes = _broken_runs(seed)
    return {name: list(losses) for name, losses in runs}, n_classes


def acceptable_runs(case: dict) -> list[str]:
    """The run with the planted bug."""
    return [broken_problem(case["seed"])["broken"]]


# -- loss.choose_bias -----------------------------------------------------------------------------------

BIASES = ("zeros", "log prior", "prior")
BIAS_SEEDS_NEEDED = 3
BIAS_BUDGET = 12
BIAS_SEEDS = range(100, 108)
BIAS_STEPS, BIAS_RATE = 5, 0.1


def cross_entropy(model, X, y) -> float:
    """The vault's metric: the mean cross-entropy of ``model.logits(X)`` (lower is better)."""
    return _softmax_loss(model.logits(X), np.asarray(y))


class Softmax:
    """A trained linear softmax classifier: ``logits(X)``, ``predict(X)``."""

    def __init__(self, W, b):
        self.W, self.b = W, b

    def logits(self, X):
        return np.asarray(X) @ self.W + self.b

    def predict(self, X):
        return np.argmax(self.logits(X), axis=1)


def bias_problem(seed: int) -> dict:
    """The drawn parameters: the number of classes and their shares (from balanced to one class at 90 %)."""
    rng = np.random.default_rng([seed, 23])
    n_classes = int(rng.integers(2, 6))
    skew = float(rng.choice([0.0, rng.uniform(0.5, 3.0)]))
    shares = np.exp(-skew * np.arange(n_classes))
    return {"n_classes": n_classes, "shares": (shares / shares.sum()).tolist()}


def initial_bias(name: str, prior) -> np.ndarray:
    """The output bias ``name`` for class shares ``prior``."""
    prior = np.asarray(prior, dtype=np.float64)
    if name == "zeros":
        return np.zeros_like(prior)
    if name == "log prior":
        return np.log(prior)
    if name == "prior":
        return prior.copy()
    raise ValueError(f"unknown bias {name!r}: choose one of {', '.join(map(repr, BIASES))}")


def bias_lab(seed: int, budget: int | None = BIAS_BUDGET):
    """``(vault, fit)`` for problem ``seed``: ``fit(bias, seed)`` -> a classifier trained from that bias."""
    p = bias_problem(seed)
    rng = np.random.default_rng([seed, 24])
    X, y = _problem_data(p["n_classes"], 900, rng, shares=p["shares"], spread=0.7)
    vault = Vault((X[:300], y[:300]), (X[300:600], y[300:600]), (X[600:], y[600:]), metric=cross_entropy,
                  budget=budget)
    prior = np.bincount(vault.train.y, minlength=p["n_classes"]) / len(vault.train.y)
    prior = np.maximum(prior, 1.0 / len(vault.train.y))

    def fit(bias, seed=0):
        """Train the classifier with output bias ``bias`` (one of BIASES) and weights drawn from ``seed``."""
        start = initial_bias(str(bias), prior)
        vault.spend()
        vault.trained(str(bias), seed)
        W, b, _ = train_softmax(*vault.train, p["n_classes"], lr=BIAS_RATE, steps=BIAS_STEPS, bias=start,
                                weight_scale=0.1, seed=[seed, 25])
        return Softmax(W, b)

    fit.biases, fit.n_classes = BIASES, p["n_classes"]
    return vault, fit


@lru_cache(maxsize=64)
def bias_losses(seed: int) -> dict:
    """Per bias: the validation loss of the harness's classifiers, one per seed."""
    vault, fit = bias_lab(seed, budget=None)
    return {bias: np.array([cross_entropy(fit(bias, s), *vault.val) for s in BIAS_SEEDS]) for bias in BIASES}


def acceptable_biases(case: dict) -> list[str]:
    """The biases whose mean validation loss is within three standard errors (of a 3-seed mean) of the
    lowest."""
    losses = bias_losses(case["seed"])
    means = {b: -float(v.mean()) for b, v in losses.items()}
    errors = {b: float(v.std(ddof=1) / np.sqrt(BIAS_SEEDS_NEEDED)) for b, v in losses.items()}
    return within_noise(means, errors, z=3.0)
