"""Exercises of lab 10, transfer learning (``solutions/10_transfer.ipynb``).

Ids: ``transfer.freeze_backbone``, ``transfer.param_groups``, ``transfer.extract_features``,
``transfer.probe_accuracy``, ``transfer.choose_strategy``.
"""

from __future__ import annotations

import numpy as np

from .compare import close, exact, label
from .engine import Exercise
from .hints import like, when


def _model(case: dict):
    """A seeded tiny torchvision ResNet (the lesson's architecture, narrower) with a fresh head."""
    import torch

    from course_utils.transfer import tiny_resnet

    torch.manual_seed(case.get("seed", 0))
    return tiny_resnet(num_classes=case["classes"], widths=tuple(case["widths"]))


def _model_arguments(case: dict) -> dict:
    return {"model": _model(case)}


def _gradient_proof(result, kwargs) -> dict:
    """Which parameters are trainable, and which ones receive a gradient from one backward pass."""
    import torch

    model = result if isinstance(result, torch.nn.Module) else kwargs["model"]
    model.train()
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(6, 1, 12, 12, generator=generator)
    y = torch.arange(6) % model.fc.out_features
    model.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    if loss.requires_grad:
        loss.backward()
    named = list(model.named_parameters())
    return {"trainable": [name for name, p in named if p.requires_grad],
            "gets_gradient": [name for name, p in named if p.grad is not None]}


def _all_names(case: dict) -> list[str]:
    return [name for name, _ in _model(case).named_parameters()]


def _group_arguments(case: dict) -> dict:
    return {"model": _model(case), "backbone_lr": case["backbone_lr"], "head_lr": case["head_lr"]}


def _learning_rates(result, kwargs) -> dict:
    """{parameter name: [learning rate of every group that lists it]} (a group without "lr" -> None)."""
    names = {id(p): name for name, p in kwargs["model"].named_parameters()}
    rates: dict[str, list] = {}
    for group in result:
        params = group["params"]
        params = [params] if hasattr(params, "data") else list(params)
        for p in params:
            rates.setdefault(names.get(id(p), "<not a parameter of the model>"), []).append(group.get("lr"))
    return dict(sorted(rates.items()))


def _swapped_rates(want: dict, case: dict) -> dict:
    swap = {case["backbone_lr"]: case["head_lr"], case["head_lr"]: case["backbone_lr"]}
    return {name: [swap[lr] for lr in lrs] for name, lrs in want.items()}


def _feature_arguments(case: dict) -> dict:
    """A model "after training": BatchNorm running statistics from shifted data, left in train mode."""
    import torch

    model = _model(case)
    generator = torch.Generator().manual_seed(case["seed"] + 100)
    with torch.no_grad():
        for _ in range(3):
            model(0.5 + torch.rand(32, 1, 12, 12, generator=generator))
    model.train()
    x = torch.rand(case["n"], 1, 12, 12, generator=generator)
    return {"model": model, "X": x}


def _observe_features(result, kwargs) -> dict:
    tracks = bool(getattr(result, "requires_grad", False))
    if hasattr(result, "detach"):
        result = result.detach().numpy()
    return {"features": np.asarray(result, dtype=np.float64), "tracks_grad": tracks}


def _train_mode_features(want: dict, case: dict) -> dict:
    import torch

    args = _feature_arguments(case)
    model = args["model"]
    model.fc = torch.nn.Identity()
    with torch.no_grad():
        return {"features": model(args["X"]).numpy(), "tracks_grad": False}


def _shape(got) -> tuple:
    return tuple(np.shape(got["features"]))


def _probe_arguments(case: dict) -> dict:
    """Overlapping Gaussian classes in ``dim`` dimensions, on very different feature scales."""
    rng = np.random.default_rng(case["seed"])
    k, dim = case["classes"], case["dim"]
    means = rng.normal(0, case["separation"], size=(k, dim))
    scales = np.exp(rng.uniform(-3, 3, size=dim))

    def sample(n):
        y = np.arange(n) % k
        return ((means[y] + rng.normal(size=(n, dim))) * scales).astype(np.float32), y

    F_train, y_train = sample(case["n_train"])
    F_test, y_test = sample(case["n_test"])
    return {"train_features": F_train, "train_labels": y_train, "test_features": F_test, "test_labels": y_test}


def _probe(case: dict, fit_on: str = "train", scale_on: str = "train", score_on: str = "test") -> float:
    """A typical wrong probe: which features the scaler and the classifier were fitted on, which scored."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    a = _probe_arguments(case)
    data = {"train": (a["train_features"], a["train_labels"]), "test": (a["test_features"], a["test_labels"])}
    scaler = StandardScaler().fit(data[scale_on][0])
    classifier = LogisticRegression(max_iter=1000).fit(scaler.transform(data[fit_on][0]), data[fit_on][1])
    return float(classifier.score(scaler.transform(data[score_on][0]), data[score_on][1]))


def _strategy(n: int, similar: bool) -> str:
    if n < 1000:
        return "features"
    if n <= 5000:
        return "fine-tune"
    return "fine-tune" if similar else "scratch"


EXERCISES = (
    Exercise(
        id="transfer.freeze_backbone",
        title="Freeze the backbone, keep the head trainable, and prove it with gradients",
        points=2,
        cases=({"seed": 0, "widths": [4, 8, 8, 16], "classes": 3},
               {"seed": 1, "widths": [8, 8, 16, 16], "classes": 5}),
        compare=exact(),
        arguments=_model_arguments,
        observe=_gradient_proof,
        hints=(
            when(lambda got, want, case: got["trainable"] == _all_names(case),
                 "every parameter is still trainable and gets a gradient: model.eval() only switches "
                 "BatchNorm and Dropout to inference behaviour, it freezes nothing; set requires_grad=False"),
            when(lambda got, want, case: got["trainable"] == [],
                 "the head is frozen too: nothing would learn; leave model.fc's weight and bias trainable"),
            when(lambda got, want, case: any(".bn" in name or name.startswith("bn") for name in got["trainable"]),
                 "BatchNorm's weight and bias are parameters too and still train: freeze every parameter "
                 "outside fc (loop over model.named_parameters())"),
        ),
    ),
    Exercise(
        id="transfer.param_groups",
        title="Parameter groups: a small learning rate for the backbone, a larger one for the head",
        points=2,
        cases=({"seed": 0, "widths": [4, 8, 8, 16], "classes": 3, "backbone_lr": 1e-4, "head_lr": 1e-2},
               {"seed": 2, "widths": [8, 8, 16, 16], "classes": 5, "backbone_lr": 3e-4, "head_lr": 3e-3}),
        compare=close(rtol=1e-9, atol=0),
        arguments=_group_arguments,
        observe=_learning_rates,
        hints=(
            like(_swapped_rates,
                 "the two learning rates are swapped: the pretrained backbone gets the small one "
                 "(backbone_lr), the new head fc the large one (head_lr)"),
            when(lambda got, want, case: any(len(lrs) > 1 for lrs in got.values()),
                 "some parameters are listed in two groups (model.parameters() includes fc's): torch.optim "
                 "refuses that; give the backbone group only the parameters outside fc"),
            when(lambda got, want, case: set(got) < set(want),
                 "some parameters are in no group, so they would never be updated (BatchNorm's weight and "
                 "bias are parameters too): every parameter outside fc belongs to the backbone group"),
        ),
    ),
    Exercise(
        id="transfer.extract_features",
        title="Penultimate-layer features: eval mode, no gradient",
        points=2,
        cases=({"seed": 0, "widths": [4, 8, 8, 16], "classes": 3, "n": 10},
               {"seed": 3, "widths": [8, 8, 16, 32], "classes": 5, "n": 7}),
        compare=close(rtol=1e-4, atol=1e-5),
        arguments=_feature_arguments,
        observe=_observe_features,
        hints=(
            like(_train_mode_features,
                 "your features were computed in train mode: BatchNorm normalized with the batch's own "
                 "statistics (and updated its running ones); call model.eval() first"),
            when(lambda got, want, case: _shape(got) == (_shape(want)[0], case["classes"]),
                 "those are the logits of the head fc; the features are the input of fc (avgpool's output, "
                 "flattened)"),
            when(lambda got, want, case: _shape(got) == _shape(want) + (1, 1),
                 "flatten avgpool's output to (n, features): torch.flatten(h, 1)"),
            when(lambda got, want, case: got["tracks_grad"] and got["features"].shape == want["features"].shape
                 and np.allclose(got["features"], want["features"], rtol=1e-4, atol=1e-5),
                 "the values are right but they carry the autograd graph: compute them under "
                 "torch.no_grad() (the graph costs memory and time for nothing)"),
        ),
    ),
    Exercise(
        id="transfer.probe_accuracy",
        title="Frozen features + an external classifier (standardization + logistic regression)",
        points=2,
        cases=({"seed": 0, "classes": 4, "dim": 16, "separation": 0.6, "n_train": 40, "n_test": 200},
               {"seed": 1, "classes": 3, "dim": 24, "separation": 0.5, "n_train": 30, "n_test": 300}),
        compare=close(rtol=0, atol=0.006),
        arguments=_probe_arguments,
        hints=(
            like(lambda want, case: _probe(case, fit_on="test", scale_on="test"),
                 "the classifier was fitted on the test features: fit it on the training features only",
                 rtol=1e-9),
            like(lambda want, case: _probe(case, score_on="train"),
                 "that is the training accuracy; score on the test features and labels", rtol=1e-9),
            like(lambda want, case: _probe(case, scale_on="test"),
                 "the scaler was fitted on the test features: fit StandardScaler on the training features "
                 "and only transform the test features with it", rtol=1e-9),
            when(lambda got, want, case: isinstance(got, (int, float)) and got > 1,
                 "return the accuracy as a fraction in [0, 1], not a percentage or a count"),
        ),
    ),
    Exercise(
        id="transfer.choose_strategy",
        title="Choose a transfer strategy from the size of the target data set",
        points=1,
        cases=({"n_per_class": 20, "n_classes": 10, "similar": True},
               {"n_per_class": 150, "n_classes": 10, "similar": True},
               {"n_per_class": 2000, "n_classes": 5, "similar": False},
               {"n_per_class": 2000, "n_classes": 5, "similar": True},
               {"n_per_class": 100, "n_classes": 10, "similar": False}),
        compare=label(),
        hints=(
            when(lambda got, want, case: case["n_per_class"] * case["n_classes"] == 1000 and got == "features",
                 "n = 1000 is not below 1000: from 1000 to 5000 samples, fine-tune (with augmentation)"),
            when(lambda got, want, case: want == "scratch" and got == "fine-tune",
                 "with more than 5000 samples of a task unlike the source, the pretrained features are not "
                 "worth keeping: train from scratch"),
            when(lambda got, want, case: str(got).lower() == _strategy(case["n_per_class"], case["similar"])
                 and got != want,
                 "the thresholds apply to the total number of samples, n_per_class * n_classes, "
                 "not to the number per class"),
        ),
    ),
)
