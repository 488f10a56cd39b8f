"""Experiment harnesses of lab 03 (weight initialization): a gain for an unknown activation, a scheme
chosen on validation.

``gain_lab(seed)`` draws an activation the learner does not see inside (a leaky ReLU with a drawn
negative slope, times a drawn scale) and a depth, and returns ``(vault, measure)``:
``measure(gain, seed)`` builds a fresh deep network with weights N(0, gain² / fan_in) and returns the
std of each activation layer's output on a batch of standard normal inputs (numpy: a millisecond).

``scheme_lab(seed)`` draws a small 2-class problem and a deep network (its activation and depth from
``seed``) and returns ``(vault, fit)``: ``fit(scheme, seed)`` trains the network initialized by one of
:data:`SCHEMES` and returns it (a predict-able model); the vault scores it on validation for free and
on test once.

>>> vault, measure = gain_lab(0)
>>> stds = measure(1.0, seed=0)
>>> len(stds) == gain_problem(0)["depth"], vault.spent
(True, 1)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from course_utils.vault import Vault

from .choices import within_noise
from .validation import accuracy

def single_thread():
    """One BLAS thread: the matrices are small, and on shared cores many threads are much slower."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


# -- init.choose_gain -----------------------------------------------------------------------------------

#: the gains the learner chooses from: a grid in steps of 2^(1/4), 0.5 ... 4
GAINS = tuple(round(2 ** (e / 4), 3) for e in range(-4, 9))
WIDTH, BATCH = 64, 128
GAIN_BUDGET = 40
GAIN_SEEDS = range(1000, 1012)  # the harness's own networks (the learner's seeds are theirs)


def gain_problem(seed: int) -> dict:
    """The drawn parameters: the activation's negative slope and scale, and the network's depth."""
    rng = np.random.default_rng([seed, 3])
    return {"slope": float(rng.uniform(0.0, 0.6)), "scale": float(np.exp(rng.uniform(np.log(0.5), np.log(2.0)))),
            "depth": int(rng.integers(10, 25))}


class Activation:
    """An activation function on numpy arrays (what it is inside is the learner's to measure)."""

    def __init__(self, slope: float, scale: float):
        self._slope, self._scale = slope, scale

    def __call__(self, z):
        z = np.asarray(z, dtype=np.float64)
        return self._scale * np.where(z > 0, z, self._slope * z)

    def __repr__(self) -> str:
        return "<an activation: measure it>"


def _stds(activation, depth: int, gain: float, seed) -> list[float]:
    """The layers' stds; each layer's output is scaled back to std 1 before the next one and the scales
    multiplied up (the same numbers for an activation that commutes with scaling, without the overflow
    or the slow subnormal floats of a signal that grows or shrinks by 10^20)."""
    rng = np.random.default_rng(seed)
    h = rng.normal(size=(BATCH, WIDTH))
    stds, scale = [], 1.0
    with single_thread():
        for _ in range(depth):
            h = activation(h @ rng.normal(0.0, gain / np.sqrt(WIDTH), (WIDTH, WIDTH)))
            std = float(h.std())
            scale *= std
            stds.append(scale)
            h = h / std
    return stds


def gain_lab(seed: int, budget: int | None = GAIN_BUDGET):
    """``(vault, measure)`` for problem ``seed``: ``measure(gain, seed)`` -> the stds of the layers."""
    p = gain_problem(seed)
    activation = Activation(p["slope"], p["scale"])
    empty = (np.zeros((0, WIDTH)), np.zeros(0))
    vault = Vault(empty, empty, empty, budget=budget)

    def measure(gain, seed=0):
        """The std of each activation layer's output of a fresh network with weights N(0, gain² / fan_in),
        drawn from ``seed``, on a batch of standard normal inputs (one measurement of the budget)."""
        gain = float(gain)
        if not gain > 0:
            raise ValueError(f"a gain is a positive number, got {gain!r}")
        vault.spend(what="measurement")
        vault.trained(gain, seed)
        return _stds(activation, p["depth"], gain, [seed, 7])

    measure.activation, measure.depth, measure.gains = activation, p["depth"], GAINS
    return vault, measure


def log_ratio(stds) -> float:
    """ln(stds[-1] / stds[0]): 0 when the signal keeps its scale, > 0 when it grows, < 0 when it shrinks."""
    return float(np.log(stds[-1] / stds[0]))


@lru_cache(maxsize=64)
def gain_evidence(seed: int) -> dict:
    """Per gain of the grid: the mean and std of ln(last std / first std) over the harness's networks."""
    p = gain_problem(seed)
    activation = Activation(p["slope"], p["scale"])
    # the activation commutes with positive scaling, so a network's ln ratio at gain g is its ln ratio at
    # gain 1 plus (depth - 1) ln g: one network per seed gives every gain's
    ratios = np.array([log_ratio(_stds(activation, p["depth"], 1.0, [s, 7])) for s in GAIN_SEEDS])
    return {gain: (float(ratios.mean() + (p["depth"] - 1) * np.log(gain)), float(ratios.std(ddof=1)))
            for gain in GAINS}


def acceptable_gains(case: dict) -> list[float]:
    """The gains whose |ln ratio| is within the noise of one network (3 of its stds) of the best gain's."""
    evidence = gain_evidence(case["seed"])
    closeness = {g: -abs(m) for g, (m, _) in evidence.items()}
    noise = max(s for _, s in evidence.values())
    return within_noise(closeness, {g: noise for g in evidence}, z=3.0 / np.sqrt(2))


# -- init.choose_scheme ---------------------------------------------------------------------------------

SCHEMES = ("N(0, 0.01)", "xavier", "he", "N(0, 1)")
SCHEME_SEEDS_NEEDED = 3
SCHEME_BUDGET = 16
SCHEME_SEEDS = range(100, 108)  # the harness's own seeds for the evidence
HIDDEN, STEPS, LR = 24, 60, 0.1


def scheme_problem(seed: int) -> dict:
    """The drawn parameters: the network's activation and depth, the data's size and noise."""
    rng = np.random.default_rng([seed, 4])
    return {"activation": str(rng.choice(["relu", "tanh"])), "depth": int(rng.integers(3, 11)),
            "n": int(rng.integers(200, 400)), "noise": float(rng.uniform(0.1, 0.3))}


def _scheme_std(scheme: str, fan_in: int, fan_out: int) -> float:
    if scheme == "xavier":
        return float(np.sqrt(2.0 / (fan_in + fan_out)))
    if scheme == "he":
        return float(np.sqrt(2.0 / fan_in))
    if scheme in SCHEMES:
        return float(scheme[len("N(0, "):-1])
    raise ValueError(f"unknown scheme {scheme!r}: choose one of {', '.join(map(repr, SCHEMES))}")


class Network:
    """Trained MLPs (numpy), one per seed stacked on the first axis: ``predict(X)`` gives class labels
    (of the first one; ``networks`` splits a stack)."""

    def __init__(self, weights, biases, activation: str):
        self.weights, self.biases, self.activation = weights, biases, activation

    def forward(self, X):
        hs = [np.broadcast_to(np.asarray(X, dtype=np.float64), (len(self.weights[0]),) + np.shape(X))]
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            z = hs[-1] @ W + b[:, None, :]
            last = i == len(self.weights) - 1
            hs.append(z if last else np.maximum(z, 0.0) if self.activation == "relu" else np.tanh(z))
        return hs

    def predict(self, X):
        with single_thread():
            return np.argmax(self.forward(X)[-1][0], axis=1)

    def networks(self) -> list["Network"]:
        return [Network([W[i:i + 1] for W in self.weights], [b[i:i + 1] for b in self.biases], self.activation)
                for i in range(len(self.weights[0]))]


def train_networks(X, y, scheme: str, activation: str, depth: int, seeds) -> list[Network]:
    """Full-batch gradient descent with momentum on the cross-entropy, weights initialized by ``scheme``:
    one network per seed, all trained at once (stacked)."""
    sizes = [X.shape[1]] + [HIDDEN] * depth + [2]
    rngs = [np.random.default_rng([seed, 5]) for seed in seeds]
    weights = [np.stack([rng.normal(0.0, _scheme_std(scheme, a, b), (a, b)) for rng in rngs])
               for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [np.zeros((len(rngs), b)) for b in sizes[1:]]
    net = Network(weights, biases, activation)
    with single_thread():
        _descend(net, X, np.eye(2)[y])
    return net.networks()


def _descend(net: Network, X, onehot) -> None:
    weights, biases, activation = net.weights, net.biases, net.activation
    velocity = [np.zeros_like(p) for p in weights + biases]
    for _ in range(STEPS):
        hs = net.forward(X)
        z = hs[-1] - hs[-1].max(axis=2, keepdims=True)
        grad = (np.exp(z) / np.exp(z).sum(axis=2, keepdims=True) - onehot) / len(X)
        grads_w, grads_b = [], []
        for i in range(len(weights) - 1, -1, -1):
            grads_w.insert(0, hs[i].transpose(0, 2, 1) @ grad)
            grads_b.insert(0, grad.sum(axis=1))
            if i:
                grad = grad @ weights[i].transpose(0, 2, 1)
                grad = grad * (hs[i] > 0) if activation == "relu" else grad * (1.0 - hs[i] ** 2)
        for p, v, g in zip(weights + biases, velocity, grads_w + grads_b):
            v *= 0.9
            v -= LR * np.clip(g, -1e3, 1e3)
            p += v


def _scheme_data(seed: int):
    from course_utils.data import make_moons

    p = scheme_problem(seed)
    X, y = make_moons(p["n"] + 400, noise=p["noise"], seed=seed % (2 ** 31))
    n_train = p["n"] // 2
    return (X[:n_train], y[:n_train]), (X[n_train:p["n"]], y[n_train:p["n"]]), (X[p["n"]:], y[p["n"]:])


def scheme_lab(seed: int, budget: int | None = SCHEME_BUDGET):
    """``(vault, fit)`` for problem ``seed``: ``fit(scheme, seed)`` -> the network trained from that init."""
    p = scheme_problem(seed)
    vault = Vault(*_scheme_data(seed), metric=accuracy, budget=budget)

    def fit(scheme, seed=0):
        """Train the lab's network initialized by ``scheme`` (one of SCHEMES) with ``seed`` on vault.train."""
        scheme = str(scheme)
        _scheme_std(scheme, 1, 1)  # an unknown scheme is a sentence, before the budget is spent
        vault.spend()
        vault.trained(scheme, seed)
        return train_networks(*vault.train, scheme, p["activation"], p["depth"], [seed])[0]

    fit.schemes, fit.activation, fit.depth = SCHEMES, p["activation"], p["depth"]
    return vault, fit


@lru_cache(maxsize=64)
def scheme_scores(seed: int) -> dict:
    """Per scheme: validation, training and test accuracies of the harness's networks (one per seed)."""
    vault, fit = scheme_lab(seed, budget=None)
    scores = {}
    p = scheme_problem(seed)
    for scheme in SCHEMES:
        models = train_networks(*vault.train, scheme, p["activation"], p["depth"], SCHEME_SEEDS)
        scores[scheme] = {split: np.array([accuracy(m, *data) for m in models])
                          for split, data in (("val", vault.val), ("train", vault.train), ("test", vault.sealed()))}
    return scores


def acceptable_schemes(case: dict) -> list[str]:
    """The schemes whose mean validation accuracy is within three standard errors (of a mean over the
    seeds the lab asks for: 3) of the best scheme's."""
    scores = scheme_scores(case["seed"])
    means = {s: float(v["val"].mean()) for s, v in scores.items()}
    errors = {s: float(v["val"].std(ddof=1) / np.sqrt(SCHEME_SEEDS_NEEDED)) for s, v in scores.items()}
    return within_noise(means, errors, z=3.0)


def best_on(seed: int, split: str) -> str:
    """The scheme with the best mean accuracy on ``split`` ("train" or "test"): typical wrong choices."""
    scores = scheme_scores(seed)
    return max(SCHEMES, key=lambda s: scores[s][split].mean())
