"""Experiment harnesses of lab 08 (optimizers): choose the learning rate, choose the optimizer.

``learning_rate_lab(seed)`` draws a 2-class problem whose input scale comes from ``seed`` (so the good
learning rates move by decades from one learner to the next) and returns a :class:`LearningRateRuns`:
``lab.range_test()`` runs one LR range test, ``lab.run(lr, seed)`` trains a network with plain SGD at
one of :data:`LEARNING_RATES` and returns its curves, ``lab.test(lr)`` opens the test set.
``optimizer_lab(seed)`` draws a problem whose inputs have scales spread over decades (from ``seed``)
and compares :data:`OPTIMIZERS` at their usual settings: ``lab.run(name, seed)``, ``lab.test(name)``.

>>> lab = learning_rate_lab(0)
>>> test = lab.range_test()
>>> len(test["lrs"]) == len(test["losses"]) == RANGE_STEPS, lab.vault.spent
(True, 1)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from course_utils.train import fit_seeds, torch_threads
from course_utils.vault import Vault

from .seeded import Runs, finite, supported_over_seeds, teacher_splits

LEARNING_RATES = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0)
OPTIMIZERS = {"sgd": {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9},   # SGD with momentum 0.9
              "adam": {"optimizer": "adam", "lr": 3e-3}}
SEEDS = (0, 1, 2, 3, 4)
SEEDS_NEEDED = 3
EPOCHS = 15
RANGE_STEPS = 200
RANGE = (1e-4, 30.0)
LEARNING_RATE_BUDGET = 19   # a range test and 6 of the 8 candidates with 3 seeds
OPTIMIZER_BUDGET = 10       # 5 seeds of each
SIZES = [8, 32, 2]
D = 8


def problem(seed: int) -> dict:
    """The drawn parameters of lab ``seed``'s problems: the scale of the inputs (the learning-rate lab), and
    for the optimizer lab a typical scale and how it is spread over the inputs (decades between the
    smallest and the largest)."""
    rng = np.random.default_rng(seed)
    return {"scale": float(10 ** rng.uniform(-0.7, 1.0)), "mixed_scale": float(10 ** rng.uniform(-0.8, 0.4)),
            "spread": float(rng.uniform(0.0, 2.5))}


@lru_cache(maxsize=16)
def _splits(seed: int, spread: bool):
    p = problem(seed)
    scales = p["mixed_scale"] * np.logspace(-p["spread"] / 2, p["spread"] / 2, D) if spread else p["scale"]
    return teacher_splits(seed, n_train=240, noise=0.05, d=D, scales=scales)


@lru_cache(maxsize=64)
def curves(seed: int, spread: bool, settings: tuple) -> dict[str, np.ndarray]:
    """Every seed's curves for one optimizer setting (``settings``: sorted ``fit_seeds`` keywords)."""
    train, val, test = _splits(seed, spread)
    with torch_threads(1):
        result = fit_seeds(SIZES, *train, seeds=SEEDS, epochs=EPOCHS, batch_size=32,
                           validation={"val": val, "test": test}, **dict(settings))
    return {name: finite(values) if name.endswith("loss") else values
            for name, values in result.items() if name != "model"}


def _settings(candidate) -> tuple:
    """The ``fit_seeds`` keywords of a candidate: a learning rate (plain SGD) or an optimizer's name."""
    chosen = OPTIMIZERS[candidate] if isinstance(candidate, str) else {"optimizer": "sgd", "lr": float(candidate)}
    return tuple(sorted(chosen.items()))


def _final_test_accuracy(curves_: dict, rows: list, candidate) -> float:
    return float(curves_["test_accuracy"][rows, -1].mean())


def final_val_losses(seed: int, spread: bool, candidates) -> dict:
    """Per candidate, each seed's validation loss after the last epoch (a diverged run counts as 10)."""
    return {c: curves(seed, spread, _settings(c))["val_loss"][:, -1] for c in candidates}


# -- opt.learning_rate ------------------------------------------------------------------------------------

class LearningRateRuns(Runs):
    """:class:`.seeded.Runs` over :data:`LEARNING_RATES`, with an LR range test."""

    def range_test(self) -> dict[str, np.ndarray]:
        """One LR range test (one training of the budget): a network of seed 0 trained with plain SGD for
        RANGE_STEPS mini-batches, the learning rate growing exponentially from 1e-4 to 30; returns
        ``{"lrs": ..., "losses": ...}``, the learning rate and the training loss of every step."""
        self.vault.spend(1)
        return {name: values.copy() for name, values in range_test(self._seed).items()}


@lru_cache(maxsize=16)
def range_test(seed: int) -> dict[str, np.ndarray]:
    """The LR range test of lab ``seed`` (see :meth:`LearningRateRuns.range_test`)."""
    import torch

    from course_utils.train import mlp

    (X, y), _, _ = _splits(seed, False)
    X, y = torch.as_tensor(X), torch.as_tensor(y)
    lrs = np.geomspace(*RANGE, RANGE_STEPS)
    losses = []
    with torch_threads(1):
        torch.manual_seed(0)
        model = mlp(SIZES)
        optimizer = torch.optim.SGD(model.parameters(), lr=lrs[0])
        generator = torch.Generator().manual_seed(0)
        for lr in lrs:
            batch = torch.randint(0, len(X), (32,), generator=generator)
            for group in optimizer.param_groups:
                group["lr"] = float(lr)
            loss = torch.nn.functional.cross_entropy(model(X[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return {"lrs": lrs, "losses": finite(losses)}


def learning_rate_lab(seed: int, budget: int | None = LEARNING_RATE_BUDGET) -> LearningRateRuns:
    """The harness of ``opt.learning_rate``: ``range_test()``, ``run(lr, seed)``, ``test(lr)``."""
    lab = LearningRateRuns(Vault(*_splits(seed, False), budget=budget), LEARNING_RATES, SEEDS,
                           lambda lr: curves(seed, False, _settings(lr)), _final_test_accuracy,
                           name="learning rate", seeds_needed=SEEDS_NEEDED)
    lab._seed = seed
    return lab


def acceptable_learning_rates(case: dict) -> list[float]:
    """The learning rates whose final validation loss the seeds cannot tell from the best one's."""
    return supported_over_seeds(final_val_losses(case["seed"], False, LEARNING_RATES), seeds_needed=SEEDS_NEEDED)


def range_test_minimum(seed: int) -> float:
    """The candidate nearest the minimum of the raw range-test curve: a typical wrong choice (too large)."""
    test = range_test(seed)
    at = float(test["lrs"][int(np.argmin(test["losses"]))])
    return min(LEARNING_RATES, key=lambda lr: abs(np.log(lr / at)))


# -- opt.optimizer ----------------------------------------------------------------------------------------

def optimizer_lab(seed: int, budget: int | None = OPTIMIZER_BUDGET) -> Runs:
    """The harness of ``opt.optimizer``: ``run(name, seed)``, ``test(name)`` for ``name`` in OPTIMIZERS."""
    return Runs(Vault(*_splits(seed, True), budget=budget), tuple(OPTIMIZERS), SEEDS,
                lambda name: curves(seed, True, _settings(name)), _final_test_accuracy,
                name="optimizer", seeds_needed=SEEDS_NEEDED)


def acceptable_optimizers(case: dict) -> list[str]:
    """The optimizers whose final validation loss the seeds cannot tell from the best one's."""
    return supported_over_seeds(final_val_losses(case["seed"], True, tuple(OPTIMIZERS)), seeds_needed=SEEDS_NEEDED)


def best_on_training_loss(seed: int) -> str:
    """The optimizer with the lowest mean final training loss (a typical wrong way to choose)."""
    losses = {name: curves(seed, True, _settings(name))["train_loss"][:, -1].mean() for name in OPTIMIZERS}
    return min(losses, key=losses.get)
