"""Experiment harnesses of lab 07 (regularization): choose the weight decay, choose when to stop.

``weight_decay_lab(seed)`` draws a small, noisy 2-class problem (training size and label noise from
``seed``) and returns a :class:`.seeded.Runs`: ``lab.run(weight_decay, seed)`` trains one network of
:data:`WEIGHT_DECAYS` and returns its curves (``train_loss``, ``val_loss``, ``train_accuracy``,
``val_accuracy``, one value per epoch); ``lab.test(weight_decay)`` opens the test set.
``stopping_lab(seed)`` trains without weight decay for :data:`EPOCHS` epochs: ``lab.run(seed)``
returns the curves of one seed, and the decision is the epoch to stop at.

>>> lab = weight_decay_lab(0)
>>> curves = lab.run(0.01, seed=0)
>>> len(curves["val_loss"]) == EPOCHS + 1, lab.vault.spent
(True, 1)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from course_utils.train import fit_seeds, torch_threads
from course_utils.vault import Vault

from .seeded import Runs, finite, supported_over_seeds, teacher_splits

WEIGHT_DECAYS = (0.0, 1e-2, 3e-2, 0.1, 0.3)
SEEDS = (0, 1, 2, 3, 4)
SEEDS_NEEDED = 3
EPOCHS = 30
WEIGHT_DECAY_BUDGET = 20     # 4 seeds of every candidate
STOPPING_BUDGET = 5
SIZES = [10, 64, 2]


def problem(seed: int) -> dict:
    """The drawn parameters of lab ``seed``'s problem: training size and label noise."""
    rng = np.random.default_rng(seed)
    return {"n_train": int(rng.integers(50, 200)), "noise": float(rng.uniform(0.05, 0.3))}


@lru_cache(maxsize=8)
def _splits(seed: int):
    return teacher_splits(seed, **problem(seed))


@lru_cache(maxsize=64)
def curves(seed: int, weight_decay: float) -> dict[str, np.ndarray]:
    """Every seed's curves for one weight decay (SGD with momentum, the test curves included)."""
    train, val, test = _splits(seed)
    with torch_threads(1):
        result = fit_seeds(SIZES, *train, seeds=SEEDS, epochs=EPOCHS, lr=0.05, momentum=0.9, batch_size=64,
                           weight_decay=weight_decay, validation={"val": val, "test": test})
    return {name: values for name, values in result.items() if name != "model"}


def _vault(seed: int, budget: int | None) -> Vault:
    return Vault(*_splits(seed), budget=budget)


def _final_test_accuracy(curves_: dict, rows: list, candidate) -> float:
    return float(curves_["test_accuracy"][rows, -1].mean())


def weight_decay_lab(seed: int, budget: int | None = WEIGHT_DECAY_BUDGET) -> Runs:
    """The harness of ``reg.weight_decay``: ``run(weight_decay, seed)``, ``test(weight_decay)``."""
    return Runs(_vault(seed, budget), WEIGHT_DECAYS, SEEDS, lambda wd: curves(seed, wd), _final_test_accuracy,
                name="weight decay")


def final_losses(seed: int, split: str = "val") -> dict[float, np.ndarray]:
    """Per weight decay, each seed's loss on ``split`` after the last epoch."""
    return {wd: finite(curves(seed, wd)[f"{split}_loss"][:, -1]) for wd in WEIGHT_DECAYS}


def acceptable_weight_decays(case: dict) -> list[float]:
    """The weight decays whose final validation loss the seeds cannot tell from the best one's."""
    return supported_over_seeds(final_losses(case["seed"]), seeds_needed=SEEDS_NEEDED)


def best_on_training_loss(seed: int) -> float:
    """The weight decay with the lowest final training loss: a typical wrong choice (it is always small)."""
    losses = final_losses(seed, "train")
    return min(losses, key=lambda wd: losses[wd].mean())


# -- reg.stop_epoch ---------------------------------------------------------------------------------------

class StoppingRuns(Runs):
    """One configuration (no weight decay) trained for :data:`EPOCHS` epochs: ``run(seed)`` returns its
    curves; every epoch of the run is a candidate stopping point (``test(epoch)``)."""

    def run(self, seed: int) -> dict[str, np.ndarray]:  # type: ignore[override]
        """Train with ``seed`` for EPOCHS epochs: its curves (one value per epoch, epoch 0 before training)."""
        row = self._row(seed)
        self.vault.spend(1)
        for epoch in self.candidates:
            self.vault.trained(epoch, seed)
        return {name: values[row].copy() for name, values in self._train(None).items()
                if not name.startswith("test_")}


def _test_accuracy_at(curves_: dict, rows: list, epoch: int) -> float:
    return float(curves_["test_accuracy"][rows, epoch].mean())


def stopping_lab(seed: int, budget: int | None = STOPPING_BUDGET) -> StoppingRuns:
    """The harness of ``reg.stop_epoch``: ``run(seed)`` -> curves, ``test(epoch)``."""
    return StoppingRuns(_vault(seed, budget), range(EPOCHS + 1), SEEDS, lambda _: curves(seed, 0.0),
                        _test_accuracy_at, name="epoch")


def losses_by_epoch(seed: int, split: str = "val") -> dict[int, np.ndarray]:
    """Per epoch (0 ... EPOCHS, 0 before training), each seed's loss on ``split`` (no weight decay)."""
    losses = finite(curves(seed, 0.0)[f"{split}_loss"])
    return {epoch: losses[:, epoch] for epoch in range(EPOCHS + 1)}


def acceptable_epochs(case: dict) -> list[int]:
    """The epochs whose mean validation loss the seeds cannot tell from the best epoch's."""
    return supported_over_seeds(losses_by_epoch(case["seed"]), seeds_needed=SEEDS_NEEDED)
