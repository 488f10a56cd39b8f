"""Experiment harnesses of lab 09: choose a PINN's loss weight, and decide which fix to keep, from an ablation.

Each case draws a heat problem from its seed (:func:`problem`: the diffusivity ``k``, the final time
``t_end`` and the number of collocation points), so that the right decision differs from learner to
learner. ``weight_lab(seed)`` and ``fix_lab(seed)`` return ``(vault, train)``:

* ``vault`` (:class:`course_utils.vault.Vault`): ``vault.train`` holds the initial condition (what the
  network is told), ``vault.val`` the exact solution at 200 points of the domain (``X`` of shape
  (200, 2): columns x and t), the sealed test split the exact solution on the whole 101 x 51 grid. Its
  metric is the relative L2 error of a model;
* ``train(candidate, seeds)`` trains one tiny PINN per seed for the candidate (all at once, one batched
  network: :func:`course_utils.heat.train_stack`) and returns the models, one per seed. A model is a
  function: ``model(X)`` is u at the points ``X``; ``model.training_loss`` is the final value of the
  loss it was trained on. Models are trained on first use, every model requested until then together.

The candidates: :data:`WEIGHTS`, the weight of a soft initial-condition term (``weight_lab``); and
:data:`FIXES`, one fix added to the naive recipe (``fix_lab``): the sin/cos embedding is always on,
the initial condition soft (weight 1), the collocation points drawn once, Adam throughout -- and then
either nothing, or the hard initial condition, or resampled points, or L-BFGS for the second half.

Trainings are cheap (:data:`EVALUATIONS` loss evaluations, 16 tanh units in 2 layers) and cached per
(problem, candidate, seed): in one process, a model trained for the learner is the one the evidence uses.

>>> vault, train = weight_lab(0)
>>> X, u = vault.val
>>> X.shape, vault.budget
((200, 2), 16)
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from course_utils.vault import Vault

from .choices import within_noise

WEIGHTS = (0.1, 1.0, 10.0, 100.0)
FIXES = ("none", "hard initial condition", "resampled points", "L-BFGS")
SEEDS_NEEDED = 3
BUDGET = 16            # trainings: four candidates with three seeds each, and a few to spare
EVALUATIONS = 120      # loss-and-gradient evaluations per training
EVIDENCE_SEEDS = 6     # seeds per candidate behind the supported choices
_TRAINED: dict = {}    # (problem, kind, candidate, seed) -> (trained network, final training loss)
_PENDING: dict = {}    # (problem, kind) -> {(candidate, seed)} requested, not trained yet


def problem(seed: int, salt: int = 0) -> dict:
    """The heat problem of a case: diffusivity ``k``, final time ``t_end``, collocation points ``points``."""
    rng = np.random.default_rng([seed, salt])
    return {"k": float(round(10 ** rng.uniform(math.log10(0.002), math.log10(0.05)), 5)),
            "t_end": float(rng.choice([0.3, 0.5, 1.0])), "points": int(rng.choice([32, 64, 128]))}


def relative_l2(u_hat, u) -> float:
    """||u_hat - u|| / ||u|| (the vault's metric, for one model)."""
    u_hat, u = np.asarray(u_hat, dtype=float).reshape(-1), np.asarray(u, dtype=float).reshape(-1)
    return float(np.linalg.norm(u_hat - u) / np.linalg.norm(u))


class PINNModel:
    """One PINN as a function of points: ``model(X)`` -> u at the rows (x, t) of ``X``.

    Trained on first use: every model requested and not trained yet for the same problem is trained
    then, all together (one batched network), so that asking for several candidates costs one training.
    """

    def __init__(self, problem: dict, kind: str, candidate, seed: int):
        self.problem, self.kind, self.candidate, self.seed = problem, kind, candidate, seed

    def _trained(self) -> tuple:
        key = (_key(self.problem), self.kind, self.candidate, self.seed)
        if key not in _TRAINED:
            _train_pending(self.problem, self.kind)
        return _TRAINED[key]

    @property
    def training_loss(self) -> float:
        """The final value of the loss this model was trained on (on its own collocation points)."""
        return self._trained()[1]

    def __call__(self, X) -> np.ndarray:
        import torch

        network = self._trained()[0]
        X = torch.as_tensor(np.asarray(X, dtype=np.float32).reshape(-1, 2))
        with torch.no_grad():
            return network(X[:, :1], X[:, 1:]).double().numpy().reshape(-1)

    def __repr__(self) -> str:
        return f"PINNModel(candidate={self.candidate!r}, seed={self.seed})"


def _metric(model, X, u) -> float:
    return relative_l2(model(X), u)


def _splits(p: dict, seed: int):
    from course_utils import heat

    rng = np.random.default_rng([seed, 7])
    x0 = np.linspace(-1, 1, 65)
    val = np.column_stack([rng.uniform(-1, 1, 200), rng.uniform(0, p["t_end"], 200)])
    xg, tg = np.meshgrid(np.linspace(-1, 1, 101), np.linspace(0, p["t_end"], 51))
    test = np.column_stack([xg.ravel(), tg.ravel()])
    exact = lambda X: heat.exact_solution(X[:, 0], X[:, 1], p["k"])  # noqa: E731
    return ((x0, heat.initial_condition(x0)), (val, exact(val)), (test, exact(test)))


def _recipe(kind: str, candidate) -> dict:
    """train_stack's settings for one candidate (the arm names the optimizer)."""
    if kind == "weight":
        return {"hard_initial": False, "resample": True, "initial_weight": float(candidate), "arm": "Adam"}
    recipe = {"hard_initial": False, "resample": False, "initial_weight": 1.0, "arm": "Adam"}
    if candidate == "hard initial condition":
        recipe["hard_initial"] = True
    elif candidate == "resampled points":
        recipe["resample"] = True
    elif candidate == "L-BFGS":
        recipe["arm"] = "Adam → L-BFGS"
    return recipe


def _train_pending(p: dict, kind: str) -> None:
    """Train every requested (candidate, seed) of this problem not in the cache, in one batched network,
    together with those of the evidence (:func:`evidence`): a member more costs little, a training more
    costs its overhead again.

    Candidates that differ only by the optimizer (the naive recipe with Adam, or switched to L-BFGS) share
    their member: :func:`course_utils.heat.train_stack` runs both arms from the same first half.
    """
    from course_utils import heat
    from course_utils.train import torch_threads

    pending = _PENDING.pop((_key(p), kind), set())
    pending |= {(c, s) for c in (WEIGHTS if kind == "weight" else FIXES) for s in range(EVIDENCE_SEEDS)}
    wanted = sorted({(c, s) for c, s in pending if (_key(p), kind, c, s) not in _TRAINED}, key=repr)
    if not wanted:
        return
    members = sorted({(_member(kind, c), s) for c, s in wanted})
    arms = tuple(sorted({_recipe(kind, c)["arm"] for c, _ in wanted}))
    with torch_threads(1):
        runs = heat.train_stack([s for _, s in members], periodic=True,
                                hard_initial=[m[0] for m, _ in members], resample=[m[1] for m, _ in members],
                                initial_weight=[m[2] for m, _ in members], arms=arms, budget=EVALUATIONS,
                                n_points=p["points"], resample_every=30, width=16, k=p["k"], t_end=p["t_end"])
    for c, s in wanted:
        run, m = runs[_recipe(kind, c)["arm"]], members.index((_member(kind, c), s))
        _TRAINED[(_key(p), kind, c, s)] = (run.model.member(m), float(run.loss[m]))


def _member(kind: str, candidate) -> tuple:
    """The stack member a candidate needs: (hard initial condition, resampled points, initial weight)."""
    r = _recipe(kind, candidate)
    return (r["hard_initial"], r["resample"], r["initial_weight"])


def _request(p: dict, kind: str, candidate, seeds) -> list[PINNModel]:
    _PENDING.setdefault((_key(p), kind), set()).update((candidate, s) for s in seeds)
    return [PINNModel(p, kind, candidate, s) for s in seeds]


def _key(p: dict) -> tuple:
    return (p["k"], p["t_end"], p["points"])


def _lab(seed: int, kind: str, candidates: tuple, budget: int | None):
    p = problem(seed, salt=0 if kind == "weight" else 1)
    train_split, val, test = _splits(p, seed)
    vault = Vault(train_split, val, test, metric=_metric, budget=budget)
    what = "weight" if kind == "weight" else "fix"

    def train(candidate, seeds):
        """One PINN per seed for ``candidate``, trained together; returns the models, one per seed."""
        choice = _candidate(candidate, candidates, what)
        seeds = [int(s) for s in np.atleast_1d(seeds)]
        vault.spend(len(seeds))
        for s in seeds:
            vault.trained(choice, s)
        return _request(p, kind, choice, seeds)

    return vault, train


def _candidate(candidate, candidates: tuple, what: str):
    """The candidate ``candidate`` names (a number equal to a weight, a fix's name), or a sentence."""
    for c in candidates:
        if isinstance(c, float):
            try:
                if math.isclose(float(candidate), c, rel_tol=1e-6):
                    return c
            except (TypeError, ValueError):
                continue
        elif candidate == c:
            return c
    raise ValueError(f"unknown {what} {candidate!r}: choose one of {', '.join(map(repr, candidates))}")


def weight_lab(seed: int, budget: int | None = BUDGET):
    """``(vault, train)`` for choosing the weight of the soft initial-condition term (:data:`WEIGHTS`)."""
    return _lab(seed, "weight", WEIGHTS, budget)


def fix_lab(seed: int, budget: int | None = BUDGET):
    """``(vault, train)`` for deciding which fix to add to the naive recipe (:data:`FIXES`)."""
    return _lab(seed, "fix", FIXES, budget)


@lru_cache(maxsize=32)
def evidence(kind: str, seed: int) -> dict:
    """Per candidate, over :data:`EVIDENCE_SEEDS` seeds: the validation and test errors and training losses."""
    make, candidates = (weight_lab, WEIGHTS) if kind == "weight" else (fix_lab, FIXES)
    vault, train = make(seed, budget=None)
    seeds = list(range(EVIDENCE_SEEDS))
    trained = {c: train(c, seeds) for c in candidates}
    out = {}
    for c, models in trained.items():
        out[c] = {"val": np.array([_metric(m, *vault.val) for m in models]),
                  "test": np.array([_metric(m, *vault.sealed()) for m in models]),
                  "loss": np.array([m.training_loss for m in models])}
    return out


def _acceptable(kind: str, seed: int) -> list:
    """The candidates whose mean validation error (log scale) is within two standard errors of a
    three-seed comparison of the best one's."""
    scores = evidence(kind, seed)
    means = {c: -float(np.mean(np.log10(s["val"]))) for c, s in scores.items()}
    errors = {c: float(np.std(np.log10(s["val"]), ddof=1) / math.sqrt(SEEDS_NEEDED)) for c, s in scores.items()}
    return within_noise(means, errors, z=2.0)


def acceptable_weights(case: dict) -> list[float]:
    return _acceptable("weight", case["seed"])


def acceptable_fixes(case: dict) -> list[str]:
    return _acceptable("fix", case["seed"])


def lowest_training_loss(kind: str, seed: int):
    """The candidate with the lowest mean training loss: a typical wrong choice (the losses of different
    recipes measure different things)."""
    scores = evidence(kind, seed)
    return min(scores, key=lambda c: float(np.mean(scores[c]["loss"])))
