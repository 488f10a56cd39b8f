"""Exercises of lab 03, weight initialization (``solutions/03_initialization.ipynb``).

Ids: ``init.xavier_std``, ``init.he_std``, ``init.init_mlp``, ``init.activation_stds``,
``init.diagnose``, and two decisions: ``init.choose_gain`` (a gain for an activation the learner
measures) and ``init.choose_scheme`` (a scheme chosen on validation over seeds, test reported once).
The decisions' harnesses and evidence are in :mod:`course_utils.experiments.initialization`.
"""

from __future__ import annotations

import math

from ..diagnosis import DIAGNOSES, diagnose, saturated_share
from ..experiments import initialization as lab
from ..vault import same
from .compare import Verdict, close, label
from .decisions import followed, observe_decision, supported
from .engine import Exercise
from .hints import like, when
from .values import AnswerError, as_float, describe, to_plain

SQRT2 = math.sqrt(2.0)
SQRT3 = math.sqrt(3.0)


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


def _he_fan_out(n_in: int, n_out: int) -> float:
    return math.sqrt(2 / n_out)


def _pytorch_default(n_in: int, n_out: int) -> float:
    return 1 / math.sqrt(3 * n_in)


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


def _stds_like(case: dict, slip: str) -> list[float]:
    """A typical wrong list of stds: other layers' outputs, or another statistic."""
    import torch

    a = _stds_arguments(case)
    model, h = a["model"], a["x"]
    values = []
    with torch.no_grad():
        for index, layer in enumerate(model):
            h = layer(h)
            linear = isinstance(layer, torch.nn.Linear)
            if slip == "pre-activations" and linear and index < len(model) - 1:
                values.append(h.std().item())
            elif slip in ("variances", "means") and not linear:
                values.append(h.var().item() if slip == "variances" else h.mean().item())
    return values


def _stds_compare():
    """Each layer's std, the sample std (``.std()``, n - 1) or the population std (``np.std``, n).

    Between the two the ratio is sqrt(n / (n - 1)), n the number of values of the layer: a gap of
    about 1 / (2n), above float noise for a few thousand values. The lab text asks for ``.std()``,
    np.std is as right, so both pass.
    """
    tolerance = close(rtol=1e-4, atol=1e-7)

    def compare(got, want, case):
        verdict = tolerance(got, want)
        if verdict.ok:
            return verdict
        counts = [case["batch"] * width for width in case["sizes"][1:-1]]
        population = [w * math.sqrt((n - 1) / n) for w, n in zip(want, counts)]
        return Verdict(True) if tolerance(got, population).ok else verdict

    compare.uses_case = True
    compare.description = "each std within rtol 1e-4 (sample or population std)"
    return compare


# -- init.diagnose -------------------------------------------------------------------------------------

def _network_measurements(case: dict) -> dict:
    """What the lesson measures at initialization, on a seeded MLP with N(0, sigma^2) weights:

    * ``stds``: the std of each activation layer's output on a batch of standard normal inputs;
    * ``saturation``: the share of each activation layer's outputs within 0.01 of a bound of the
      activation (|a| > 0.99 for tanh, a < 0.01 or a > 0.99 for sigmoid; 0 for ReLU);
    * ``grad_norms``: the norm of the gradient of each Linear layer's weight, first to last, after one
      backward pass of the cross-entropy of that batch with random labels (10 classes).
    """
    from course_utils.train import mlp, torch_threads

    with torch_threads(1):  # small matrices: one thread is fastest, and much faster on shared cores
        return _measure(mlp([case["width"]] * (case["depth"] + 1) + [10], case["activation"]), case)


def _measure(model, case: dict) -> dict:
    """Initialize ``model`` as the case says and measure it (see :func:`_network_measurements`)."""
    import torch
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(case["seed"])
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, torch.nn.Linear):
                layer.weight.normal_(0.0, case["sigma"], generator=generator)
                layer.bias.zero_()
    h = torch.randn(256, case["width"], generator=generator)
    labels = torch.randint(0, 10, (256,), generator=generator)
    stds, saturation = [], []
    for layer in model:
        h = layer(h)
        if not isinstance(layer, torch.nn.Linear):
            stds.append(h.std().item())
            saturation.append(saturated_share(h, case["activation"]))
    F.cross_entropy(h, labels).backward()
    grad_norms = [layer.weight.grad.norm().item() for layer in model if isinstance(layer, torch.nn.Linear)]
    return {"stds": stds, "saturation": saturation, "grad_norms": grad_norms}


def _diagnosis(stds, saturation, grad_norms, *, use_saturation=True, use_gradients=True,
               swapped=False) -> str:
    """The lab's rule (:func:`course_utils.diagnosis.diagnose`), or a mistaken version of it with the
    keyword flags: saturation or gradients ignored, the two directions swapped.

    >>> _diagnosis([0.99, 0.98], saturation=[0.9, 0.85], grad_norms=[5e4, 1.0])  # tanh, sigma = 1
    'saturated'
    >>> _diagnosis([0.04, 0.02], saturation=[0.0, 0.0], grad_norms=[1e-14, 0.3])  # sigmoid, sigma = 0.01
    'vanishing'
    >>> _diagnosis([0.04, 0.02], saturation=[0.0, 0.0], grad_norms=[1e-14, 0.3], use_gradients=False)
    'healthy'
    """
    found = diagnose(stds, sum(saturation) / len(saturation) if use_saturation else 0.0,
                     grad_norms[0] / grad_norms[-1] if use_gradients else 1.0)
    return {"vanishing": "exploding", "exploding": "vanishing"}.get(found, found) if swapped else found


def _diagnose_slip(**slip):
    """A hint test: the learner's label is what the rule with ``slip`` gives, and it is wrong."""
    def test(got, want, case):
        return isinstance(got, str) and got.strip().lower() == _diagnosis(**_network_measurements(case), **slip) \
            != want
    return test


def _either(*tests):
    return lambda got, want, case: any(test(got, want, case) for test in tests)


def _distinct(case: dict, wrong, right) -> bool:
    """Does the wrong formula give another std than the right one in some layer (by more than 10 %)?"""
    sizes = case["sizes"]
    return any(abs(wrong(i, o) / right(i, o) - 1) > 0.2 for i, o in zip(sizes[:-1], sizes[1:]))


# -- init.choose_gain ----------------------------------------------------------------------------------

GAIN = "one of measure.gains: the gain you choose (a number, or a dict {\"gain\": ...})"


def _gain_observe(result, kwargs) -> float:
    """The chosen gain, which must be one of the grid's."""
    choice = result.get("gain", result) if isinstance(result, dict) else result
    if isinstance(choice, dict):
        raise AnswerError("expected a dict with the key 'gain' (your decision), got the keys "
                          + ", ".join(map(repr, list(choice)[:5])))
    gain = as_float(choice, GAIN)
    if not any(same(gain, g) for g in lab.GAINS):
        raise AnswerError(f"{gain:g} is not one of measure.gains: choose from the grid")
    return next(g for g in lab.GAINS if same(gain, g))


def _gain_direction(sign: int):
    """A hint test: the chosen gain is not supported and the signal grows (sign 1) or shrinks (-1) with it."""
    def test(got, want, case):
        supported_gains = lab.acceptable_gains(case)
        mean = lab.gain_evidence(case["seed"])[got][0]
        return not any(same(got, g) for g in supported_gains) and mean * sign > 0
    return test


def _is_gain(value: float):
    return lambda got, want, case: same(got, value) and not any(same(got, g) for g in lab.acceptable_gains(case))


# -- init.choose_scheme --------------------------------------------------------------------------------

def _scheme_arguments(case: dict) -> dict:
    vault, fit = lab.scheme_lab(case["seed"])
    return {"vault": vault, "fit": fit}


def _scheme(choice) -> str:
    if not isinstance(choice, str) or choice not in lab.SCHEMES:
        raise AnswerError(f"the scheme is one of {', '.join(map(repr, lab.SCHEMES))}, got {describe(to_plain(choice))}")
    return choice


def _chose(scheme: str):
    """A hint test: the decision is ``scheme``, reached by the protocol, and the evidence does not support it."""
    def test(got, want, case):
        return (got["decision"] == scheme and got["protocol"] == "followed"
                and scheme not in lab.acceptable_schemes(case))
    return test


EXERCISES = (
    Exercise(
        id="init.xavier_std",
        title="Xavier (Glorot) normal standard deviation",
        points=1,
        cases=({"fan_in": 784, "fan_out": 256}, {"fan_in": 100, "fan_out": 10}, {"fan_in": 3, "fan_out": 5}),
        compare=close(rtol=1e-6),
        answer="one number: the standard deviation",
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
        answer="one number: the standard deviation",
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
        id="init.init_mlp",
        title="Initialize every Linear layer of an MLP by scheme",
        points=2,
        cases=({"sizes": [64, 128, 128, 10], "scheme": "he"},
               {"sizes": [64, 128, 128, 10], "scheme": "xavier"},
               {"sizes": [100, 256, 32], "scheme": "he"}),
        compare=close(rtol=0.1, atol=1e-6),
        arguments=_mlp_arguments,
        observe=_layer_summary,
        answer="the model, re-initialized in place",
        hints=(
            when(lambda got, want, case: _weights_match(got, case, _xavier if case["scheme"] == "he" else _he),
                 "your weights follow the other scheme: 'he' is Var = 2/fan_in (for ReLU), "
                 "'xavier' is Var = 2/(fan_in + fan_out)"),
            when(lambda got, want, case: case["scheme"] == "he" and _distinct(case, _he_fan_out, _he)
                 and _weights_match(got, case, _he_fan_out),
                 "your weight stds match sqrt(2/fan_out): fan_in is the number of *inputs* of a layer, "
                 "in_features, i.e. weight.shape[1]"),
            when(lambda got, want, case: _weights_match(got, case, _pytorch_default),
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
        compare=_stds_compare(),
        arguments=_stds_arguments,
        answer="a list of numbers: the std of each activation layer's output, in order",
        hints=(
            when(lambda got, want, case: isinstance(got, list) and len(got) == len(want) + 1,
                 "one value too many: keep only the outputs of the activation layers (not the network's "
                 "input, nor the last Linear layer's output)"),
            when(lambda got, want, case: isinstance(got, list) and len(got) == 2 * len(want) + 1,
                 "you recorded every layer; keep only the outputs of the activation layers "
                 "(nn.ReLU / nn.Tanh), the Linear layers' outputs are pre-activations"),
            like(lambda want, case: _stds_like(case, "variances"),
                 "you returned variances; take the standard deviation (.std())", rtol=1e-3),
            like(lambda want, case: _stds_like(case, "pre-activations"),
                 "these are the stds of the Linear layers' outputs (pre-activations): record the outputs of "
                 "the activation layers instead", rtol=1e-3),
            like(lambda want, case: _stds_like(case, "means"),
                 "these are means, not standard deviations", rtol=1e-3),
        ),
    ),
    Exercise(
        id="init.diagnose",
        title="Diagnose a network from its activations, saturation and gradients",
        points=1,
        cases=({"activation": "tanh", "sigma": 0.01, "depth": 10, "width": 256, "seed": 0},
               {"activation": "sigmoid", "sigma": 0.01, "depth": 10, "width": 256, "seed": 0},
               {"activation": "tanh", "sigma": 1.0, "depth": 10, "width": 256, "seed": 0},
               {"activation": "relu", "sigma": 0.15, "depth": 10, "width": 256, "seed": 0},
               {"activation": "tanh", "sigma": 0.0884, "depth": 10, "width": 256, "seed": 0}),
        compare=label(choices=DIAGNOSES),
        arguments=_network_measurements,
        answer="one of the labels 'vanishing', 'exploding', 'saturated', 'healthy'",
        hints=(
            when(lambda got, want, case: want == "saturated" and _either(
                _diagnose_slip(use_saturation=False), _diagnose_slip(use_saturation=False, use_gradients=False))(
                got, want, case),
                 "more than half of the units are saturated (mean of saturation > 0.5): tanh and sigmoid are "
                 "flat there, so these units barely learn whatever the stds and gradient norms say. Check "
                 "the saturation first"),
            when(_diagnose_slip(use_gradients=False),
                 "the activations keep their scale but the gradients do not: grad_norms[0] / grad_norms[-1] "
                 "is far outside [0.1, 10], so the first layers learn at another speed than the last ones"),
            when(_diagnose_slip(swapped=True),
                 "vanishing and exploding are swapped: a ratio last / first below 0.1 (stds) or first / last "
                 "below 0.1 (gradient norms) means the signal vanishes"),
        ),
    ),
    Exercise(
        id="init.choose_gain",
        title="Choose the gain for an activation you measure",
        points=1,
        cases=({"seed": 0},),
        varies=("seed",),
        arguments=lambda case: {"measure": lab.gain_lab(case["seed"])[1]},
        observe=_gain_observe,
        compare=supported(lab.acceptable_gains, what="the gain"),
        answer=GAIN,
        hints=(
            when(_is_gain(round(SQRT2, 3)),
                 "sqrt(2) = 1.414 is He's gain for a plain ReLU; this activation is another one (another slope "
                 "for negative inputs, another scale): measure each gain and keep the one whose "
                 "stds[-1] / stds[0] is closest to 1"),
            when(_is_gain(1.0),
                 "a gain of 1 keeps the scale only for a linear layer; this activation changes the scale of "
                 "what passes through it: measure each gain and keep the one whose stds[-1] / stds[0] is "
                 "closest to 1"),
            when(_gain_direction(+1), "with this gain the std grows from the first layer to the last "
                                      "(exploding): a smaller gain keeps it"),
            when(_gain_direction(-1), "with this gain the std shrinks from the first layer to the last "
                                      "(vanishing): a larger gain keeps it"),
        ),
    ),
    Exercise(
        id="init.choose_scheme",
        title="Choose an initialization scheme on validation, report test once",
        points=1,
        cases=({"seed": 3},),
        varies=("seed",),
        arguments=_scheme_arguments,
        observe=observe_decision("scheme", seeds_needed=lab.SCHEME_SEEDS_NEEDED, candidates=len(lab.SCHEMES),
                                 convert=_scheme),
        compare={"decision": supported(lab.acceptable_schemes, what="the scheme"), "protocol": followed()},
        parts=("decision", "protocol"),
        timeout=30.0,
        answer='a dict {"scheme": one of fit.schemes, "test": the test accuracy of that scheme}',
        hints=(
            when(_chose("N(0, 0.01)"),
                 "N(0, 0.01) makes the signal vanish in a deep network: the gradients of the first layers are "
                 "tiny and the network barely leaves chance. Compare the schemes' mean validation accuracies "
                 "over the seeds"),
            when(_chose("N(0, 1)"),
                 "N(0, 1) ignores the fans: the signal explodes or saturates in a deep network. Compare the "
                 "schemes' mean validation accuracies over the seeds"),
        ),
    ),
)
