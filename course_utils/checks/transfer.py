"""Exercises of lab 10, transfer learning (``solutions/10_transfer.ipynb``).

Ids: ``transfer.freeze_backbone``, ``transfer.param_groups``, ``transfer.extract_features``,
``transfer.frozen_or_finetune``, ``transfer.feature_layer``.

The last two are decision exercises (:mod:`.decisions`) on the course's pretrained checkpoint: the
learner's function gets a sealed test set and a way to train models on a target task drawn from the
case's seed, which varies per learner (:mod:`course_utils.experiments.transfer`: near or far from the
source task, few or more labels); the decision is judged against the choices the validation evidence
supports, the protocol (choose on validation, three seeds per strategy where training is random, open
the test set once) separately.
"""

from __future__ import annotations


import numpy as np

from course_utils.experiments import transfer as lab

from .choosing import candidate_among, chose_unsupported
from .compare import close, exact
from .decisions import followed, observe_decision, supported
from .engine import Exercise
from .hints import like, when
from .values import AnswerError, as_array, describe, to_plain


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
    return {"trainable": {name: bool(p.requires_grad) for name, p in named},
            "gets_gradient": {name: p.grad is not None for name, p in named}}


def _group_arguments(case: dict) -> dict:
    return {"model": _model(case), "backbone_lr": case["backbone_lr"], "head_lr": case["head_lr"]}


GROUPS_ANSWER = 'a list of two dicts {"params": [...], "lr": ...}'


def _learning_rates(result, kwargs) -> dict:
    """{parameter name: its learning rate} (a group without "lr": -1, the optimizer's default, which this
    exercise never wants). A parameter in two groups, in none, or a tensor that is not a parameter is
    what torch.optim would refuse or never train: a sentence."""
    if isinstance(result, dict) or not isinstance(result, (list, tuple)) or \
            not all(isinstance(group, dict) and "params" in group for group in result):
        raise AnswerError(f"expected {GROUPS_ANSWER}, got {describe(to_plain(result))}")
    names = {id(p): name for name, p in kwargs["model"].named_parameters()}
    rates: dict[str, list] = {}
    for group in result:
        params = group["params"]
        params = [params] if hasattr(params, "data") else list(params)
        lr = group.get("lr", -1.0)
        for p in params:
            if id(p) not in names:
                raise AnswerError("a group holds a tensor that is not a parameter of the model: use the "
                                  "parameters themselves (model.named_parameters())")
            rates.setdefault(names[id(p)], []).append(
                float(lr) if isinstance(lr, (int, float)) and not isinstance(lr, bool) else -1.0)
    if any(len(lrs) > 1 for lrs in rates.values()):
        raise AnswerError("some parameters are listed in two groups (model.parameters() includes fc's): "
                          "torch.optim refuses that; give the backbone group only the parameters outside fc")
    if len(rates) < len(names):
        raise AnswerError("some parameters are in no group, so they would never be updated (BatchNorm's "
                          "weight and bias are parameters too): every parameter outside fc belongs to the "
                          "backbone group")
    return {name: lrs[0] for name, lrs in sorted(rates.items())}


def _swapped_rates(want: dict, case: dict) -> dict:
    swap = {case["backbone_lr"]: case["head_lr"], case["head_lr"]: case["backbone_lr"]}
    return {name: swap[lr] for name, lr in want.items()}


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


FEATURES_ANSWER = "a tensor of shape (n, d): avgpool's output, flattened"


def _observe_features(result, kwargs) -> dict:
    """The features, and whether they carry an autograd graph; the logits of fc and an unflattened avgpool
    output get their own sentence."""
    try:
        features = as_array(result)
    except AnswerError:
        raise AnswerError(f"expected {FEATURES_ANSWER}, got {describe(to_plain(result))}") from None
    head, n = kwargs["model"].fc, len(kwargs["X"])
    if features.shape == (n, head.out_features) and head.out_features != head.in_features:
        raise AnswerError("those are the logits of the head fc; the features are the input of fc (avgpool's "
                          "output, flattened)")
    if features.shape == (n, head.in_features, 1, 1):
        raise AnswerError("flatten avgpool's output to (n, features): torch.flatten(h, 1)")
    return {"features": features, "tracks_grad": bool(getattr(result, "requires_grad", False))}


def _train_mode_features(want: dict, case: dict) -> dict:
    import torch

    from course_utils.train import torch_threads

    with torch_threads(1):  # a hint runs outside the check's own single-thread block
        args = _feature_arguments(case)
        model = args["model"]
        model.fc = torch.nn.Identity()
        with torch.no_grad():
            return {"features": model(args["X"]).numpy(), "tracks_grad": False}


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
        answer="the model, with every parameter outside fc frozen",
        parts=("trainable", "gets_gradient"),
        hints=(
            when(lambda got, want, case: all(got["trainable"].values()),
                 "every parameter is still trainable and gets a gradient: model.eval() only switches "
                 "BatchNorm and Dropout to inference behaviour, it freezes nothing; set requires_grad=False"),
            when(lambda got, want, case: not any(got["trainable"].values()),
                 "the head is frozen too: nothing would learn; leave model.fc's weight and bias trainable"),
            when(lambda got, want, case: any(trainable and (".bn" in name or name.startswith("bn"))
                                             for name, trainable in got["trainable"].items()),
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
        compare=exact(),  # the learning rates are given: copied, not computed
        arguments=_group_arguments,
        observe=_learning_rates,
        answer=GROUPS_ANSWER,
        hints=(
            when(lambda got, want, case: -1.0 in got.values(),
                 'every group needs its own "lr": a group without one silently takes the optimizer\'s default'),
            like(_swapped_rates,
                 "the two learning rates are swapped: the pretrained backbone gets the small one "
                 "(backbone_lr), the new head fc the large one (head_lr)"),
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
        answer=FEATURES_ANSWER,
        hints=(
            like(_train_mode_features,
                 "your features were computed in train mode: BatchNorm normalized with the batch's own "
                 "statistics (and updated its running ones); call model.eval() first"),
            when(lambda got, want, case: got["tracks_grad"] and got["features"].shape == want["features"].shape
                 and np.allclose(got["features"], want["features"], rtol=1e-4, atol=1e-5),
                 "the values are right but they carry the autograd graph: compute them under "
                 "torch.no_grad() (the graph costs memory and time for nothing)"),
        ),
    ),
    Exercise(
        id="transfer.frozen_or_finetune",
        title="Frozen features or fine-tuning: decide from your own measurements",
        points=2,
        cases=({"seed": 2},),
        varies=("seed",),
        arguments=lambda case: dict(zip(("vault", "fit"), lab.strategy_lab(case["seed"]))),
        observe=observe_decision("strategy", seeds_needed=lab.SEEDS_NEEDED, candidates=len(lab.STRATEGIES),
                                 convert=candidate_among(lab.STRATEGIES, "strategy")),
        compare={"decision": supported(lab.acceptable_strategies, what="strategy"), "protocol": followed()},
        parts=("decision", "protocol"),
        answer="a dict {'strategy': 'features + LR' or 'fine-tune', 'test_accuracy': the test accuracy of that "
               "strategy}",
        timeout=20.0,
        hints=(
            when(chose_unsupported(lambda case: "features + LR", lab.acceptable_strategies),
                 "'frozen features below about 1000 samples' is a rule of thumb, not a measurement: on this "
                 "task the fine-tuned networks are clearly better on vault.val, over the seeds"),
        ),
    ),
    Exercise(
        id="transfer.feature_layer",
        title="Which layer's frozen features: choose on validation",
        points=2,
        cases=({"seed": 4},),
        varies=("seed",),
        arguments=lambda case: dict(zip(("vault", "fit"), lab.layer_lab(case["seed"]))),
        observe=observe_decision("layer", convert=candidate_among(lab.LAYERS, "layer")),
        compare={"decision": supported(lab.acceptable_layers, what="layer"), "protocol": followed()},
        parts=("decision", "protocol"),
        answer="a dict {'layer': 'layer2', 'layer3' or 'layer4', 'test_accuracy': the test accuracy of its model}",
        hints=(
            when(chose_unsupported(lambda case: "layer4", lab.acceptable_layers),
                 "the penultimate layer is the default, not the rule: its features are the most specific to "
                 "the source task, and on a task this far from it an earlier layer's features classify "
                 "better on vault.val"),
        ),
    ),
)
