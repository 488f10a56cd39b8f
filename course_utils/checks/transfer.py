"""Exercises of lab 10, transfer learning (``solutions/10_transfer.ipynb``).

Ids: ``transfer.freeze_backbone``, ``transfer.param_groups``, ``transfer.extract_features``,
``transfer.probe_accuracy``, ``transfer.choose_strategy``.

``transfer.choose_strategy`` decides from measured learning curves, as lesson 10 does: validation
accuracy of each strategy against the number of samples per class, over several draws of the training
samples (the same draws for every strategy, so differences are paired). Its cases are drawn from two
scenarios (:data:`SCENARIOS`: a target task near the source task and a far one) with a seed; every case
is far from the edge of the decision (tests/test_checks_labs_06_11.py checks that each paired t statistic
is below 1.6 or above 4), so that any correct 95 % interval gives the same answer.
"""

from __future__ import annotations

import functools
import itertools
import json
import math

import numpy as np

from .compare import close, exact, fraction, label
from .engine import Exercise
from .hints import distinct, like, when
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
    return _probe_once(json.dumps(case, sort_keys=True), fit_on, scale_on, score_on)


@functools.lru_cache(maxsize=64)  # each hint rule asks again for every failed case
def _probe_once(case_json: str, fit_on: str, scale_on: str, score_on: str) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    a = _probe_arguments(json.loads(case_json))
    data = {"train": (a["train_features"], a["train_labels"]), "test": (a["test_features"], a["test_labels"])}
    scaler = StandardScaler().fit(data[scale_on][0])
    classifier = LogisticRegression(max_iter=1000).fit(scaler.transform(data[fit_on][0]), data[fit_on][1])
    return float(classifier.score(scaler.transform(data[score_on][0]), data[score_on][1]))


# -- transfer.choose_strategy --------------------------------------------------------------------------

STRATEGIES = ("pixels + LR", "scratch", "features + LR", "fine-tune")  # lesson 10's names
SECONDS = {"pixels + LR": 0.01, "scratch": 0.55, "features + LR": 0.05, "fine-tune": 0.6}  # per run
SIZES = (1, 3, 10, 30, 100)  # samples per class
SCENARIOS = {  # mean validation accuracy of each strategy at each size (5 classes: chance is 0.2)
    "near": {"pixels + LR": (0.27, 0.33, 0.42, 0.50, 0.55), "scratch": (0.21, 0.27, 0.48, 0.76, 0.90),
             "features + LR": (0.45, 0.60, 0.66, 0.70, 0.72), "fine-tune": (0.38, 0.61, 0.74, 0.86, 0.96)},
    "far": {"pixels + LR": (0.25, 0.33, 0.42, 0.50, 0.55), "scratch": (0.21, 0.27, 0.48, 0.72, 0.93),
            "features + LR": (0.30, 0.40, 0.45, 0.49, 0.51), "fine-tune": (0.25, 0.41, 0.56, 0.80, 0.87)},
}


def learning_curves(scenario: str = "near", seed: int = 0, draws: int = 6) -> dict[str, np.ndarray]:
    """Validation accuracy of every strategy, shape ``(len(SIZES), draws)``, in one of the
    :data:`SCENARIOS`: each draw of training samples has an effect shared by every strategy (some draws
    are easier), and each run its own noise.

    >>> curves = learning_curves("far", seed=1)
    >>> sorted(curves), curves["scratch"].shape
    (['features + LR', 'fine-tune', 'pixels + LR', 'scratch'], (5, 6))
    """
    rng = np.random.default_rng(seed)
    shared = rng.normal(0, 0.06, (len(SIZES), draws))
    return {name: np.clip(np.asarray(means)[:, None] + shared + rng.normal(0, 0.015, (len(SIZES), draws)), 0, 1)
            for name, means in SCENARIOS[scenario].items()}


def _curves_arguments(case: dict) -> dict:
    return {"curves": learning_curves(case["scenario"], case["seed"], case["draws"]), "sizes": list(SIZES),
            "seconds": dict(SECONDS), "n_per_class": case["n_per_class"]}


def _t_critical(draws: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.975, draws - 1))


def _beats(b: np.ndarray, a: np.ndarray, paired: bool = True) -> bool:
    """Does strategy b beat a: is the 95 % interval of b - a above 0 (paired), or (the mistake) is b's
    own interval above a's?"""
    crit = _t_critical(len(a))
    if paired:
        d = b - a
        return bool(d.mean() - crit * d.std(ddof=1) / math.sqrt(len(d)) > 0)
    half = lambda x: crit * x.std(ddof=1) / math.sqrt(len(x))  # noqa: E731
    return bool(b.mean() - half(b) > a.mean() + half(a))


def decide(curves: dict, sizes, seconds: dict, n_per_class: int, paired: bool = True) -> str:
    """The cheapest strategy that no other strategy beats at ``n_per_class`` (the reference rule)."""
    row = list(sizes).index(n_per_class)
    beaten = {a for a, b in itertools.permutations(curves, 2)
              if _beats(np.asarray(curves[b][row]), np.asarray(curves[a][row]), paired)}
    return min((name for name in curves if name not in beaten), key=seconds.get)


def _strategy_mistake(case: dict, mistake: str) -> str:
    a = _curves_arguments(case)
    curves, row = a["curves"], SIZES.index(case["n_per_class"])
    if mistake == "highest mean":
        return max(curves, key=lambda name: curves[name][row].mean())
    if mistake == "unpaired":
        return decide(curves, SIZES, SECONDS, case["n_per_class"], paired=False)
    if mistake == "cheapest":
        return min(curves, key=SECONDS.get)
    if mistake == "largest size":
        return decide(curves, SIZES, SECONDS, SIZES[-1])
    if mistake == "rule of thumb":  # frozen features below about 1000 samples (5 classes here)
        return "features + LR" if 5 * case["n_per_class"] < 1000 else "fine-tune"
    raise ValueError(mistake)


def _is_mistake(mistake: str):
    return lambda got, want, case: got.strip() == _strategy_mistake(case, mistake)


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
        id="transfer.probe_accuracy",
        title="Frozen features + an external classifier (standardization + logistic regression)",
        points=2,
        cases=({"seed": 0, "classes": 4, "dim": 16, "separation": 0.6, "n_train": 40, "n_test": 200},
               {"seed": 1, "classes": 3, "dim": 24, "separation": 0.5, "n_train": 30, "n_test": 300}),
        compare=fraction(lambda case: case["n_test"]),  # k correct out of n_test
        arguments=_probe_arguments,
        answer="one number: the test accuracy, a fraction in [0, 1]",
        hints=(*distinct((
            like(lambda want, case: _probe(case, fit_on="test", scale_on="test"),
                 "the classifier was fitted on the test features: fit it on the training features only",
                 rtol=1e-9),
            like(lambda want, case: _probe(case, score_on="train"),
                 "that is the training accuracy; score on the test features and labels", rtol=1e-9),
            like(lambda want, case: _probe(case, scale_on="test"),
                 "the scaler was fitted on the test features: fit StandardScaler on the training features "
                 "and only transform the test features with it", rtol=1e-9))),
            when(lambda got, want, case: float(np.asarray(got, dtype=float).reshape(())) > 1,
                 "return the accuracy as a fraction in [0, 1], not a percentage or a count"),
        ),
    ),
    Exercise(
        id="transfer.choose_strategy",
        title="Choose a transfer strategy from measured learning curves",
        points=2,
        cases=({"scenario": "near", "seed": 0, "draws": 6, "n_per_class": 10},
               {"scenario": "far", "seed": 0, "draws": 6, "n_per_class": 3},
               {"scenario": "far", "seed": 1, "draws": 6, "n_per_class": 30},
               {"scenario": "near", "seed": 6, "draws": 6, "n_per_class": 30}),
        compare=label(choices=STRATEGIES),
        arguments=_curves_arguments,
        answer="the name of one strategy (a key of curves)",
        hints=distinct((
            when(_is_mistake("highest mean"),
                 "that strategy has the highest mean, but its lead over a cheaper one is within the noise of "
                 "the draws (the paired interval contains 0): when the measurements cannot tell two strategies "
                 "apart, take the cheaper one"),
            when(_is_mistake("unpaired"),
                 "compare draw by draw: every strategy was trained on the same draws, so use the paired "
                 "differences b - a (course_utils.stats.paired). Two separate intervals also carry the "
                 "spread between draws, which both strategies share, and hide a resolved difference"),
            when(_is_mistake("cheapest"),
                 "the cheapest strategy is the answer only when no other beats it: here another strategy "
                 "is better on the paired draws, with an interval above 0"),
            when(_is_mistake("largest size"),
                 "decide at n_per_class: use the row sizes.index(n_per_class) of every curve, not the "
                 "largest size"),
            when(_is_mistake("rule of thumb"),
                 "'frozen features below about 1000 samples' is a rule of thumb, not a measurement: at "
                 "n_per_class the curves show another strategy beating them on the paired draws"),
        )),
    ),
)
