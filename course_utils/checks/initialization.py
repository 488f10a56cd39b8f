"""Exercises of lab 03, weight initialization (``solutions/03_initialization.ipynb``).

Ids: ``init.xavier_std``, ``init.he_std``, ``init.fans``, ``init.init_mlp``,
``init.activation_stds``, ``init.diagnose``.
"""

from __future__ import annotations

import math

import numpy as np

from .compare import close, label
from .engine import Exercise
from .hints import like, ratio, when

SQRT2 = math.sqrt(2.0)
SQRT3 = math.sqrt(3.0)


def _fan_in_out(shape) -> tuple[int, int]:
    receptive_field = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive_field, shape[0] * receptive_field


def _mlp_arguments(case: dict) -> dict:
    """A seeded ReLU MLP with PyTorch's default initialization, to be re-initialized."""
    import torch

    from course_utils.train import mlp

    torch.manual_seed(case.get("seed", 0))
    return {"model": mlp(case["sizes"], "relu"), "scheme": case["scheme"]}


def _layer_summary(result, kwargs) -> list[dict]:
    """What an initialization is judged by: each Linear layer's weight std and largest |bias|."""
    from torch import nn

    model = result if isinstance(result, nn.Module) else kwargs["model"]
    return [
        {"weight_std": layer.weight.std().item(), "bias_max": layer.bias.abs().max().item()}
        for layer in model.modules() if isinstance(layer, nn.Linear)
    ]


def _he(n_in: int, n_out: int) -> float:
    return math.sqrt(2 / n_in)


def _xavier(n_in: int, n_out: int) -> float:
    return math.sqrt(2 / (n_in + n_out))


def _weights_match(got, case: dict, std_of, rtol: float = 0.1) -> bool:
    """Do the learner's per-layer weight stds follow ``std_of(fan_in, fan_out)`` (a typical wrong formula)?"""
    sizes = case["sizes"]
    if not isinstance(got, list) or len(got) != len(sizes) - 1:
        return False
    return all(abs(layer["weight_std"] / std_of(n_in, n_out) - 1) < rtol
               for layer, n_in, n_out in zip(got, sizes[:-1], sizes[1:]))


def _stds_arguments(case: dict) -> dict:
    """A seeded MLP whose weights are N(0, std^2) and a batch of standard normal inputs."""
    import torch

    from course_utils.train import mlp

    generator = torch.Generator().manual_seed(case["seed"])
    model = mlp(case["sizes"], case["activation"])
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, torch.nn.Linear):
                layer.weight.normal_(0.0, case["std"], generator=generator)
                layer.bias.zero_()
    x = torch.randn(case["batch"], case["sizes"][0], generator=generator)
    return {"model": model, "x": x}


def _all(pairs, test) -> bool:
    pairs = list(pairs)
    return bool(pairs) and all(test(g, w) for g, w in pairs)


EXERCISES = (
    Exercise(
        id="init.xavier_std",
        title="Xavier (Glorot) normal standard deviation",
        points=1,
        cases=({"fan_in": 784, "fan_out": 256}, {"fan_in": 100, "fan_out": 10}, {"fan_in": 3, "fan_out": 5}),
        compare=close(rtol=1e-6),
        hints=(
            like(lambda want, case: want ** 2,
                 "you returned the variance 2/(fan_in + fan_out); the standard deviation is its square root"),
            like(lambda want, case: math.sqrt(2 / case["fan_in"]),
                 "that is He's std for ReLU, sqrt(2/fan_in); Xavier averages both fans: "
                 "Var = 2/(fan_in + fan_out)"),
            like(lambda want, case: math.sqrt(1 / case["fan_in"]),
                 "that is the forward-only variant Var = 1/fan_in; Glorot's compromise between the "
                 "forward (fan_in) and backward (fan_out) passes is Var = 2/(fan_in + fan_out)"),
            like(lambda want, case: want * SQRT3,
                 "that is the bound a of Xavier's *uniform* U(-a, a), sqrt(6/(fan_in + fan_out)); "
                 "the normal version's std is a/sqrt(3)"),
            like(lambda want, case: want / SQRT2,
                 "the factor 2 is missing: Var = 2/(fan_in + fan_out), not 1/(fan_in + fan_out)"),
        ),
    ),
    Exercise(
        id="init.he_std",
        title="He (Kaiming) normal standard deviation for ReLU",
        points=1,
        cases=({"fan_in": 64}, {"fan_in": 512}, {"fan_in": 3}),
        compare=close(rtol=1e-6),
        hints=(
            like(lambda want, case: want / SQRT2,
                 "your std is sqrt(2) too small: that is Xavier's 1/fan_in. ReLU zeroes half of its "
                 "inputs, so He doubles the variance: Var = 2/fan_in"),
            like(lambda want, case: want ** 2,
                 "you returned the variance 2/fan_in; the standard deviation is its square root"),
            like(lambda want, case: want * SQRT3,
                 "that is the bound of He's *uniform* version, sqrt(6/fan_in); the normal std is sqrt(2/fan_in)"),
            like(lambda want, case: 2 / math.sqrt(case["fan_in"]),
                 "the square root must cover the 2 as well: sqrt(2/fan_in), not 2/sqrt(fan_in)"),
        ),
    ),
    Exercise(
        id="init.fans",
        title="fan_in and fan_out of a weight tensor",
        points=2,
        cases=({"shape": [256, 784]}, {"shape": [10, 100]}, {"shape": [16, 3, 5, 5]}),
        compare=close(rtol=0),
        arguments=lambda case: {"shape": tuple(case["shape"])},
        hints=(
            like(lambda want, case: list(reversed(want)),
                 "fan_in and fan_out are swapped: PyTorch stores a Linear weight as "
                 "(out_features, in_features), so fan_in = shape[1] and fan_out = shape[0]"),
            like(lambda want, case: [case["shape"][1], case["shape"][0]],
                 "for a convolution weight (out_channels, in_channels, kh, kw) each output sees "
                 "in_channels * kh * kw inputs: multiply both fans by the receptive field kh * kw"),
            like(lambda want, case: [case["shape"][0], case["shape"][1]],
                 "swapped, and the receptive field is missing: fan_in = in_channels * kh * kw "
                 "comes from shape[1], not shape[0]"),
        ),
    ),
    Exercise(
        id="init.init_mlp",
        title="Initialize every Linear layer of an MLP by scheme",
        points=2,
        cases=({"sizes": [64, 128, 128, 10], "scheme": "he"},
               {"sizes": [64, 128, 128, 10], "scheme": "xavier"},
               {"sizes": [100, 256, 32], "scheme": "he"}),
        compare=close(rtol=0.1, atol=1e-6),
        arguments=_mlp_arguments,
        observe=_layer_summary,
        hints=(
            when(lambda got, want, case: _weights_match(
                got, case, _xavier if case["scheme"] == "he" else _he),
                 "your weights follow the other scheme: 'he' is Var = 2/fan_in (for ReLU), "
                 "'xavier' is Var = 2/(fan_in + fan_out)"),
            when(lambda got, want, case: case["scheme"] == "he" and _weights_match(
                got, case, lambda n_in, n_out: math.sqrt(2 / n_out)),
                 "your weight stds match sqrt(2/fan_out): fan_in is the number of *inputs* of a layer, "
                 "in_features, i.e. weight.shape[1]"),
            when(lambda got, want, case: _weights_match(got, case, lambda n_in, n_out: 1 / math.sqrt(3 * n_in)),
                 "the weights still have PyTorch's default initialization (uniform within 1/sqrt(fan_in)): "
                 "loop over model.modules() and re-initialize every nn.Linear in place"),
            when(lambda got, want, case: _weights_match(got, case, _he if case["scheme"] == "he" else _xavier)
                 and any(layer["bias_max"] > 1e-6 for layer in got),
                 "the weights are right but the biases still hold their default values: set them to zero"),
        ),
    ),
    Exercise(
        id="init.activation_stds",
        title="Standard deviation of each activation layer's output",
        points=2,
        cases=({"sizes": [100, 100, 100, 100, 100], "activation": "tanh", "std": 0.05, "batch": 256, "seed": 1},
               {"sizes": [100, 100, 100, 100, 100], "activation": "relu", "std": 0.14, "batch": 256, "seed": 2},
               {"sizes": [50, 80, 80, 10], "activation": "tanh", "std": 1.0, "batch": 128, "seed": 3}),
        compare=close(rtol=1e-4, atol=1e-7),
        arguments=_stds_arguments,
        hints=(
            when(lambda got, want, case: isinstance(got, list) and len(got) == len(want) + 1,
                 "one value too many: keep only the outputs of the activation layers (not the network's "
                 "input, nor the last Linear layer's output)"),
            when(lambda got, want, case: isinstance(got, list) and len(got) == 2 * len(want) + 1,
                 "you recorded every layer; keep only the outputs of the activation layers "
                 "(nn.ReLU / nn.Tanh), the Linear layers' outputs are pre-activations"),
            like(lambda want, case: [w ** 2 for w in want],
                 "you returned variances; take the standard deviation (.std())"),
            when(lambda got, want, case: _all(zip(got, want), lambda g, w: g > 1.05 * w),
                 "your values are all larger than the activations' spread: did you record the Linear "
                 "layers' outputs (pre-activations) instead of the activation layers' outputs?"),
            when(lambda got, want, case: _all(zip(got, want), lambda g, w: abs(g) < 0.5 * w),
                 "these look like means, not standard deviations"),
        ),
    ),
    Exercise(
        id="init.diagnose",
        title="Diagnose a network from its per-layer activation stds",
        points=1,
        cases=({"stds": [0.9, 0.3, 0.08, 0.02, 0.004]},
               {"stds": [1.1, 3.5, 12.0, 40.0, 130.0]},
               {"stds": [0.8, 0.62, 0.58, 0.57, 0.57]},
               {"stds": [0.05, 0.048, 0.047, 0.047, 0.046]}),
        compare=label(),
        hints=(
            when(lambda got, want, case: {str(got).lower(), want} == {"vanishing", "exploding"},
                 "vanishing and exploding are swapped: compare the last layer's std with the first's "
                 "(ratio = stds[-1] / stds[0])"),
            when(lambda got, want, case: not isinstance(got, str),
                 "return one of the labels 'vanishing', 'exploding' or 'healthy'"),
            when(lambda got, want, case: want == "healthy" and str(got).lower() in ("vanishing", "exploding")
                 and 0.1 <= ratio(case["stds"][-1], case["stds"][0]) <= 10,
                 "the signal keeps its scale from the first layer to the last: judge the ratio "
                 "stds[-1] / stds[0], not the absolute size of the stds"),
        ),
    ),
)
