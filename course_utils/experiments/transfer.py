"""Experiment harnesses of lab 10: frozen features or fine-tuning, and which layer's features, measured on
the course's own pretrained checkpoint (``course_utils/assets/tiny_resnet_digits04.pt``).

Each case draws a target task from its seed (:func:`task`): the digits 5-9 of lesson 10, as they are or
inverted (white digits on black become black on white) or rotated by a quarter turn, and the number of
labelled images per class the learner has. ``strategy_lab(seed)`` and ``layer_lab(seed)`` return
``(vault, fit)``:

* ``vault`` (:class:`course_utils.vault.Vault`): ``vault.train`` the labelled images ``(n, 1, 12, 12)``
  and their labels, ``vault.val`` 150 validation images, the sealed test split 300 more; its metric is
  the accuracy of ``model.predict(X)``;
* ``fit(candidate, seed)`` trains one model on ``vault.train`` and returns it (``model.predict(X)`` ->
  labels). For ``strategy_lab`` the candidates are :data:`STRATEGIES`: ``"features + LR"`` (the frozen
  backbone's penultimate features, standardized, and a logistic regression: the seed changes nothing)
  and ``"fine-tune"`` (the whole network, Adam with parameter groups, 24 steps on batches of 32 drawn
  with the seed). For ``layer_lab`` they are :data:`LAYERS`: the frozen features after ``layer2``,
  ``layer3`` or ``layer4`` (each average-pooled), then the same logistic regression.

>>> vault, fit = layer_lab(0)
>>> X, y = vault.val
>>> tuple(X.shape), vault.budget
((150, 1, 12, 12), 6)
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from course_utils.vault import Vault

from .choices import paired_within_noise, within_noise

STRATEGIES = ("features + LR", "fine-tune")
LAYERS = ("layer2", "layer3", "layer4")
KINDS = ("as they are", "inverted", "rotated")
SEEDS_NEEDED = 3
STRATEGY_BUDGET = 8
LAYER_BUDGET = 6
EVIDENCE_SEEDS = 6
STEPS, BATCH, RATES = 24, 32, (3e-3, 3e-2)  # fine-tuning: Adam steps, batch, (backbone, head) learning rates


def task(seed: int) -> dict:
    """The target task of a case: how its images differ from the source task's, labelled images per class."""
    rng = np.random.default_rng([seed, 10])
    return {"kind": str(rng.choice(KINDS, p=[0.5, 0.25, 0.25])), "n_per_class": int(rng.choice([5, 10, 20, 30]))}


@lru_cache(maxsize=8)
def _data(seed: int):
    """Labelled, validation and test images of the case's task (tensors), and its description."""
    import torch

    from course_utils.transfer import split_per_class, target_task

    t = task(seed)
    X, y = target_task(seed=int(np.random.default_rng([seed, 13]).integers(1_000_000)))
    if t["kind"] == "inverted":
        X = 1.0 - X
    elif t["kind"] == "rotated":
        X = torch.rot90(X, 1, (2, 3)).contiguous()
    order = np.random.default_rng([seed, 14]).permutation(len(y))
    val, test, pool = order[:150], order[150:450], order[450:]
    labelled = pool[split_per_class(y[pool].numpy(), t["n_per_class"], seed)]
    return (X[labelled], y[labelled]), (X[val], y[val]), (X[test], y[test]), t


def _backbone():
    from course_utils.transfer import load_backbone

    return load_backbone(num_classes=5)


def features(model, X, layer: str = "layer4") -> np.ndarray:
    """The frozen features of ``X`` after ``layer`` (average-pooled, flattened): eval mode, no gradient."""
    import torch

    model.eval()
    with torch.no_grad():
        h = model.maxpool(model.relu(model.bn1(model.conv1(X))))
        for name in ("layer1", "layer2", "layer3", "layer4"):
            h = getattr(model, name)(h)
            if name == layer:
                break
        return torch.flatten(torch.nn.functional.adaptive_avg_pool2d(h, 1), 1).numpy()


class FrozenProbe:
    """Frozen features of one layer, standardized, and a logistic regression: ``predict(X)`` -> labels."""

    def __init__(self, layer: str = "layer4"):
        self.layer, self.backbone = layer, _backbone()

    def fit(self, X, y):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        self.classifier.fit(features(self.backbone, X, self.layer), np.asarray(y))
        return self

    def predict(self, X) -> np.ndarray:
        return self.classifier.predict(features(self.backbone, X, self.layer))


class FineTuned:
    """The pretrained network with a new head, fine-tuned as a whole: ``predict(X)`` -> labels."""

    def __init__(self, seed: int):
        self.seed = seed

    def fit(self, X, y):
        import torch

        from course_utils.train import torch_threads

        with torch_threads(1):
            torch.manual_seed(self.seed)
            net = _backbone()
            groups = [{"params": [p for n, p in net.named_parameters() if not n.startswith("fc.")], "lr": RATES[0]},
                      {"params": list(net.fc.parameters()), "lr": RATES[1]}]
            optimizer = torch.optim.Adam(groups)
            generator = torch.Generator().manual_seed(self.seed)
            net.train()
            for _ in range(STEPS):
                batch = torch.randint(len(X), (min(BATCH, len(X)),), generator=generator)
                optimizer.zero_grad()
                torch.nn.functional.cross_entropy(net(X[batch]), y[batch]).backward()
                optimizer.step()
        self.net = net.eval()
        return self

    def predict(self, X) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.net(X).argmax(1).numpy()


def accuracy(model, X, y) -> float:
    """The vault's metric: the fraction of ``model.predict(X)`` equal to ``y``."""
    return float(np.mean(np.asarray(model.predict(X)) == np.asarray(y)))


_FITTED: dict = {}  # (case seed, candidate, seed) -> fitted model: a model fitted for the learner is the evidence's


def _fit(case_seed: int, candidate: str, seed: int):
    key = (case_seed, candidate, seed)
    if key not in _FITTED:
        (X, y), _, _, _ = _data(case_seed)
        if candidate == "fine-tune":
            model = FineTuned(seed)
        elif candidate == "features + LR":
            model = FrozenProbe("layer4")
        else:
            model = FrozenProbe(candidate)
        _FITTED[key] = model.fit(X, y)
    return _FITTED[key]


def _lab(case_seed: int, candidates: tuple, what: str, budget: int | None):
    train, val, test, _ = _data(case_seed)
    vault = Vault(train, val, test, metric=accuracy, budget=budget)

    def fit(candidate, seed=0):
        """Train one model for ``candidate`` (with ``seed``) on vault.train and return it."""
        if candidate not in candidates:
            raise ValueError(f"unknown {what} {candidate!r}: choose one of {', '.join(map(repr, candidates))}")
        vault.spend()
        vault.trained(candidate, int(seed))
        return _fit(case_seed, candidate, int(seed))

    return vault, fit


def strategy_lab(seed: int, budget: int | None = STRATEGY_BUDGET):
    """``(vault, fit)`` for deciding between frozen features and fine-tuning (:data:`STRATEGIES`)."""
    return _lab(seed, STRATEGIES, "strategy", budget)


def layer_lab(seed: int, budget: int | None = LAYER_BUDGET):
    """``(vault, fit)`` for choosing the layer whose frozen features feed the classifier (:data:`LAYERS`)."""
    return _lab(seed, LAYERS, "layer", budget)


@lru_cache(maxsize=16)
def strategy_scores(seed: int) -> dict:
    """Per strategy: validation accuracy over EVIDENCE_SEEDS seeds, and test accuracy."""
    vault, fit = strategy_lab(seed, budget=None)
    out = {}
    for candidate in STRATEGIES:
        models = [fit(candidate, s) for s in range(EVIDENCE_SEEDS if candidate == "fine-tune" else 1)]
        out[candidate] = {"val": np.array([accuracy(m, *vault.val) for m in models]),
                          "test": np.array([accuracy(m, *vault.sealed()) for m in models])}
    return out


def acceptable_strategies(case: dict) -> list[str]:
    """The strategies whose mean validation accuracy is within two standard errors of a three-seed
    comparison of the best one's (the frozen features do not depend on the seed: no spread)."""
    scores = strategy_scores(case["seed"])
    means = {c: float(s["val"].mean()) for c, s in scores.items()}
    errors = {c: float(s["val"].std(ddof=1) / math.sqrt(SEEDS_NEEDED)) if len(s["val"]) > 1 else 0.0
              for c, s in scores.items()}
    return within_noise(means, errors, z=2.0)


@lru_cache(maxsize=16)
def layer_right(seed: int) -> dict:
    """Per layer: which validation images its model gets right, and its test accuracy."""
    vault, fit = layer_lab(seed, budget=None)
    return {layer: {"right": np.asarray(fit(layer).predict(vault.val.X)) == np.asarray(vault.val.y),
                    "test": accuracy(fit(layer), *vault.sealed())} for layer in LAYERS}


def acceptable_layers(case: dict) -> list[str]:
    """The layers within one standard error (paired, on the validation images) of the best one."""
    return paired_within_noise({layer: s["right"] for layer, s in layer_right(case["seed"]).items()})
