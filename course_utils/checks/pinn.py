"""Exercises of lab 09, a physics-informed network for the heat equation (``solutions/09_pinn.ipynb``).

Ids: ``pinn.cosine_coefficients``, ``pinn.series_solution``, ``pinn.periodic_features``,
``pinn.residual``, ``pinn.initial_weight``, ``pinn.keep_fix``.

The cases name test functions, seeds and sizes; ``arguments`` builds the arrays, tensors and
models from them. The hints recompute typical wrong answers from the same inputs.

Values are not enough where training differentiates through the answer: the periodic features are
differentiated with respect to x, and the residual's mean square is back-propagated into the model's
weights and the gradient of every weight compared (a u_xx computed without ``create_graph=True`` has the
right values and no gradient through the diffusion term).

The last two are decision exercises (:mod:`.decisions`): the learner's function gets a sealed test set
and a way to train tiny PINNs (:mod:`course_utils.experiments.pinn`, a heat problem drawn from the case's
seed, which varies per learner); the decision is judged against the choices the validation evidence
supports, the protocol (choose on validation, three seeds per candidate, open the test set once)
separately.
"""

from __future__ import annotations

import math

import numpy as np

from course_utils.experiments import pinn as lab

from .compare import close
from .decisions import followed, observe_decision, supported
from .engine import Exercise
from .hints import like, when
from .choosing import candidate_among, chose_unsupported
from .values import AnswerError, as_array, describe, to_plain

# -- Fourier coefficients and the series solution ----------------------------------------------

# Period-2 test functions on [-1, 1] (the lab's u0 is "gaussian").
FUNCTIONS = {
    "gaussian": lambda x: np.exp(-(x / 0.1) ** 2),
    "skewed": lambda x: np.exp(-((x - 0.3) / 0.2) ** 2),
    "box": lambda x: (np.abs(x) < 0.5).astype(float),
    "triangle": lambda x: 1.0 - np.abs(x),
    "modes": lambda x: 0.5 + np.cos(3 * np.pi * x) + 0.25 * np.cos(np.pi * x),
}


def _periodic_grid(m: int) -> np.ndarray:
    """x_j = -1 + 2 j / m, j = 0..m-1: one period, the end point x = 1 not repeated."""
    return -1.0 + 2.0 * np.arange(m) / m


def _coefficient_arguments(case: dict) -> dict:
    return {"f_values": FUNCTIONS[case["function"]](_periodic_grid(case["m"])), "n_max": case["n_max"]}


def _coefficients_with(case: dict, mode, scale: float = 1.0) -> list[float]:
    """sum_j f(x_j) mode(n, x_j) * scale * 2/m: the quadrature with a wrong mode or factor."""
    x = _periodic_grid(case["m"])
    f = FUNCTIONS[case["function"]](x)
    return [float(scale * 2.0 / case["m"] * np.sum(f * mode(n, x))) for n in range(case["n_max"] + 1)]


def _coefficients_trapezoid(case: dict) -> list[float]:
    """np.trapz over the given samples only: the last interval, from x_{m-1} to 1, is missing."""
    x = _periodic_grid(case["m"])
    f = FUNCTIONS[case["function"]](x)
    return [float(np.sum((f * np.cos(n * np.pi * x))[1:] + (f * np.cos(n * np.pi * x))[:-1]) / case["m"])
            for n in range(case["n_max"] + 1)]


def _series_arguments(case: dict) -> dict:
    if "a" in case:
        a = np.asarray(case["a"], dtype=float)
    else:  # the closed-form coefficients of the lab's Gaussian
        n = np.arange(case["n_terms"] + 1)
        a = 0.1 * math.sqrt(math.pi) * np.exp(-(n * math.pi / 20) ** 2)
    return {"a": a, "x": np.linspace(-1.0, 1.0, case["nx"]), "t": float(case["t"]), "k": float(case["k"])}


def _series_with(case: dict, constant=0.5, decay=lambda n, k, t: math.exp(-k * (n * math.pi) ** 2 * t),
                 mode=lambda n, x: np.cos(n * np.pi * x)) -> list[float]:
    """The series with a wrong constant term, decay or mode (a typical wrong answer)."""
    args = _series_arguments(case)
    a, x, t, k = args["a"], args["x"], args["t"], args["k"]
    u = np.full_like(x, constant * a[0])
    for n in range(1, len(a)):
        u = u + a[n] * decay(n, k, t) * mode(n, x)
    return u.tolist()


# -- periodic embedding --------------------------------------------------------------------------

def _features_arguments(case: dict) -> dict:
    import torch

    generator = torch.Generator().manual_seed(case["seed"])
    x = (2 * torch.rand(case["n"], 1, generator=generator, dtype=torch.float64) - 1).requires_grad_(True)
    return {"x": x, "n_harmonics": case["n_harmonics"]}


def _features_are(got, values) -> bool:
    """Do the learner's feature values equal ``values`` (a typical wrong embedding)?"""
    return close(rtol=1e-5, atol=1e-8)(got["values"], values).ok


FEATURES_ANSWER = "a tensor of shape (N, 2 * n_harmonics)"


def _features_observe(result, kwargs) -> dict:
    """The feature values, and their derivative with respect to x by autograd (zeros when autograd cannot
    reach x from them: NumPy, .detach(), a new tensor)."""
    import torch

    x = kwargs["x"]
    try:
        values = as_array(result)
    except AnswerError:
        raise AnswerError(f"expected {FEATURES_ANSWER}, got {describe(to_plain(result))}") from None
    derivative = np.zeros(len(x))
    reaches = False
    if isinstance(result, torch.Tensor) and result.requires_grad and result.dim() == 2:
        weights = torch.linspace(1.0, 2.0, result.shape[1], dtype=result.dtype)  # columns must not cancel
        (grad,) = torch.autograd.grad((result * weights).sum(), x, allow_unused=True)
        if grad is not None:
            derivative, reaches = grad.detach().double().numpy().reshape(-1), True
    return {"values": values, "derivative": derivative, "differentiable": reaches}


def _features_with(case: dict, factor: float = math.pi, order: str = "interleaved", first: int = 1) -> np.ndarray:
    x = _features_arguments(case)["x"].detach().numpy()
    n = np.arange(first, first + case["n_harmonics"])
    cos, sin = np.cos(factor * n * x), np.sin(factor * n * x)
    if order == "blocks":
        return np.concatenate([cos, sin], axis=1)
    return np.stack([cos, sin], axis=2).reshape(len(x), -1)


# -- residual -----------------------------------------------------------------------------------

def _model_and_points(case: dict):
    """A seeded tanh MLP (2 -> width -> width -> 1, float64) and points (x, t) in [-1, 1] x [0, 1]."""
    import torch

    from course_utils.train import mlp

    torch.manual_seed(case["seed"])
    model = mlp([2, case["width"], case["width"], 1], "tanh").double()
    generator = torch.Generator().manual_seed(case["seed"] + 1000)
    x = 2 * torch.rand(case["n"], 1, generator=generator, dtype=torch.float64) - 1
    t = torch.rand(case["n"], 1, generator=generator, dtype=torch.float64)
    return model, x, t


def _residual_arguments(case: dict) -> dict:
    import torch

    model, x, t = _model_and_points(case)
    return {"model": model, "xt": torch.cat([x, t], dim=1), "k": case["k"]}


RESIDUAL_ANSWER = "a tensor of N values, shape (N,) or (N, 1)"


def _residual_probe(function, kwargs) -> dict:
    """The residual's values, and the gradient norm of every model parameter after back-propagating the
    mean squared residual: what training does with it. A residual whose u_xx was computed without
    ``create_graph=True`` has the right values but sends no gradient through the diffusion term."""
    import torch

    model = kwargs["model"]
    result = function(**kwargs)
    n = len(kwargs["xt"])
    try:
        values = as_array(result)
    except AnswerError:
        values = None
    if values is None or values.size != n or values.ndim > 2:
        raise AnswerError(f"expected {RESIDUAL_ANSWER}, got {describe(to_plain(result))}")
    norms = [0.0] * len(list(model.parameters()))
    if isinstance(result, torch.Tensor) and result.requires_grad:
        loss = (result.reshape(-1) ** 2).mean()
        grads = torch.autograd.grad(loss, list(model.parameters()), allow_unused=True)
        norms = [0.0 if g is None else float(g.detach().norm()) for g in grads]
    return {"values": values.reshape(-1), "gradient_norms": norms}


def _derivatives(case: dict) -> dict:
    """u_x, u_t, u_xx and u_tt of the case's model at its points (what wrong residuals are made of)."""
    import torch

    model, x, t = _model_and_points(case)
    x.requires_grad_(True)
    t.requires_grad_(True)
    u = model(torch.cat([x, t], dim=1))
    u_x, u_t = torch.autograd.grad(u.sum(), (x, t), create_graph=True)
    (u_xx,) = torch.autograd.grad(u_x.sum(), x, retain_graph=True)
    (u_tt,) = torch.autograd.grad(u_t.sum(), t)
    return {name: value.detach().numpy().reshape(-1) for name, value in
            [("u_x", u_x), ("u_t", u_t), ("u_xx", u_xx), ("u_tt", u_tt)]}


def _wrong_residual(combine):
    """A rule: the residual's values are wrong, and equal ``combine(derivatives, k)``, a typical wrong one."""
    return lambda got, want, case: (not _values_right(got, want) and close(rtol=1e-4, atol=1e-10)(
        got["values"], combine(_derivatives(case), case["k"])).ok)


def _values_right(got, want) -> bool:
    return close(rtol=1e-5, atol=1e-8)(got["values"], want["values"]).ok


EXERCISES = (
    Exercise(
        id="pinn.cosine_coefficients",
        title="Cosine coefficients of a periodic function, by quadrature",
        points=2,
        cases=({"function": "gaussian", "m": 200, "n_max": 8},
               {"function": "skewed", "m": 128, "n_max": 5},
               {"function": "modes", "m": 64, "n_max": 6}),
        compare=close(rtol=1e-6, atol=1e-9),
        arguments=_coefficient_arguments,
        answer="an array of the n_max + 1 coefficients a_0, a_1, ..., a_{n_max} (a_0 included)",
        hints=(
            when(lambda got, want, case: len(got) == len(want) and np.isclose(got[0], want[0] / 2, rtol=1e-6)
                 and np.allclose(got[1:], want[1:], rtol=1e-6, atol=1e-9),
                 "your a_0 is half the expected value: a_0 is the same integral as every a_n (with cos(0) = 1); "
                 "the 1/2 belongs to the series, a_0/2 + sum a_n cos(n pi x)"),
            like(lambda want, case: [w / 2 for w in want],
                 "every coefficient is half the expected value: the grid step is 2/m (the period is 2), not 1/m"),
            like(lambda want, case: _coefficients_with(case, lambda n, x: np.cos(n * x)),
                 "the period is 2, so the n-th mode is cos(n pi x), not cos(n x)"),
            like(lambda want, case: _coefficients_with(case, lambda n, x: np.cos(2 * n * np.pi * x)),
                 "cos(2 n pi x) has period 1/n: the modes of a period-2 function are cos(n pi x)"),
            like(lambda want, case: _coefficients_with(case, lambda n, x: np.sin(n * np.pi * x)),
                 "these are sine coefficients: a_n multiplies cos(n pi x)"),
            like(lambda want, case: _coefficients_trapezoid(case),
                 "the trapezoid rule over the m samples misses the last interval, from x_{m-1} to 1: "
                 "on a periodic grid the exact rule is the plain sum times the step 2/m"),
        ),
    ),
    Exercise(
        id="pinn.series_solution",
        title="The heat equation's solution from its Fourier coefficients",
        points=2,
        cases=({"a": [0.5, 1.0, -0.5, 0.25], "nx": 9, "t": 0.2, "k": 0.1},
               {"n_terms": 40, "nx": 21, "t": 0.5, "k": 0.01},
               {"a": [2.0, 0.0, 1.0], "nx": 5, "t": 0.0, "k": 1.0}),
        compare=close(rtol=1e-6, atol=1e-9),
        arguments=_series_arguments,
        answer="an array of u(x, t), one value per x",
        hints=(
            like(lambda want, case: _series_with(case, constant=1.0),
                 "the constant term of the series is a_0/2, not a_0"),
            like(lambda want, case: _series_with(case, decay=lambda n, k, t: math.exp(-k * n ** 2 * t)),
                 "each mode decays as exp(-k (n pi)^2 t): the pi^2 is missing"),
            like(lambda want, case: _series_with(case, decay=lambda n, k, t: math.exp(-k * n * math.pi * t)),
                 "the decay rate is k (n pi)^2, squared: it comes from the second derivative u_xx"),
            like(lambda want, case: _series_with(case, decay=lambda n, k, t: math.exp(k * (n * math.pi) ** 2 * t)),
                 "your modes grow: heat diffuses, every mode decays as exp(-k (n pi)^2 t), with a minus sign"),
            like(lambda want, case: _series_with(case, mode=lambda n, x: np.cos(n * x)),
                 "the modes of a period-2 function are cos(n pi x), not cos(n x)"),
        ),
    ),
    Exercise(
        id="pinn.periodic_features",
        title="A periodic input embedding: cos(n pi x), sin(n pi x)",
        points=1,
        cases=({"seed": 0, "n": 6, "n_harmonics": 1},
               {"seed": 1, "n": 10, "n_harmonics": 3}),
        compare=close(rtol=1e-5, atol=1e-8),
        arguments=_features_arguments,
        observe=_features_observe,
        answer=FEATURES_ANSWER,
        hints=(
            when(lambda got, want, case: _features_are(got, want["values"]) and not got["differentiable"],
                 "the values are right but autograd cannot differentiate through them: use torch "
                 "functions (torch.cos, torch.sin, torch.cat) on x itself, not NumPy, .detach() or a new "
                 "tensor"),
            when(lambda got, want, case: case["n_harmonics"] > 1
                 and _features_are(got, _features_with(case, order="blocks")),
                 "columns in the wrong order: interleave them, cos(pi x), sin(pi x), cos(2 pi x), sin(2 pi x), ..."),
            when(lambda got, want, case: _features_are(got, _features_with(case, 2 * math.pi)),
                 "cos(2 n pi x) has period 1/n: for the period 2 of [-1, 1] use cos(n pi x) and sin(n pi x)"),
            when(lambda got, want, case: _features_are(got, _features_with(case, 1.0)),
                 "cos(n x) is not periodic on [-1, 1]: multiply by pi, cos(n pi x)"),
            when(lambda got, want, case: _features_are(got, _features_with(case, first=0)),
                 "the harmonics start at n = 1: n = 0 gives a constant column cos(0) = 1 and a zero column"),
        ),
    ),
    Exercise(
        id="pinn.residual",
        title="The PDE residual u_t - k u_xx by automatic differentiation",
        points=2,
        cases=({"seed": 0, "n": 8, "width": 16, "k": 0.01},
               {"seed": 1, "n": 20, "width": 8, "k": 0.5},
               {"seed": 2, "n": 5, "width": 32, "k": 1.0}),
        compare=close(rtol=1e-5, atol=1e-8),
        arguments=_residual_arguments,
        probe=_residual_probe,
        answer=RESIDUAL_ANSWER,
        hints=(
            when(_wrong_residual(lambda d, k: d["u_t"] + k * d["u_xx"]),
                 "sign error: the heat equation is u_t - k u_xx = 0"),
            when(_wrong_residual(lambda d, k: d["u_t"] - k * d["u_x"]),
                 "you used the first derivative u_x: differentiate u_x once more with respect to x "
                 "(create_graph=True the first time) to get u_xx"),
            when(_wrong_residual(lambda d, k: d["u_t"] - d["u_xx"]),
                 "the diffusivity k is missing: u_t - k u_xx"),
            when(_wrong_residual(lambda d, k: d["u_x"] - k * d["u_tt"]),
                 "x and t are swapped: column 0 of xt is x, column 1 is t"),
            when(_wrong_residual(lambda d, k: d["u_t"]),
                 "you returned u_t alone: subtract k u_xx"),
            when(lambda got, want, case: _values_right(got, want) and not any(got["gradient_norms"]),
                 "the values are right but they carry no autograd graph (.detach(), .item() or NumPy): training "
                 "back-propagates the residual into the weights, so return the tensor itself"),
            when(lambda got, want, case: _values_right(got, want) and any(got["gradient_norms"]),
                 "the values are right but training cannot learn from the k u_xx term: the second "
                 "autograd.grad also needs create_graph=True, otherwise u_xx is a constant for the optimizer "
                 "and the gradient of the loss misses the diffusion term"),
        ),
    ),
    Exercise(
        id="pinn.initial_weight",
        title="Choose the weight of a soft initial condition on validation",
        points=2,
        cases=({"seed": 1},),
        varies=("seed",),
        arguments=lambda case: dict(zip(("vault", "train"), lab.weight_lab(case["seed"]))),
        observe=observe_decision("weight", seeds_needed=lab.SEEDS_NEEDED, candidates=len(lab.WEIGHTS),
                                 convert=candidate_among(lab.WEIGHTS, "weight")),
        compare={"decision": supported(lab.acceptable_weights, what="weight"), "protocol": followed()},
        parts=("decision", "protocol"),
        answer="a dict {'weight': one of 0.1, 1.0, 10.0, 100.0, 'test_error': the test error of that weight}",
        timeout=20.0,
        hints=(
            when(chose_unsupported(lambda case: lab.lowest_training_loss("weight", case["seed"]),
                                   lab.acceptable_weights),
                 "you chose the weight with the lowest training loss: a smaller weight makes the initial "
                 "term count less, so the loss is smaller whatever the error -- each weight's loss measures "
                 "something else. Compare the models' errors on vault.val"),
            when(chose_unsupported(lambda case: 100.0, lab.acceptable_weights),
                 "the largest weight is not the safest choice: the initial term then drowns the PDE residual, "
                 "which the network barely learns within its budget. Let the validation errors decide"),
        ),
    ),
    Exercise(
        id="pinn.keep_fix",
        title="Decide which fix to keep from an ablation",
        points=2,
        cases=({"seed": 2},),
        varies=("seed",),
        arguments=lambda case: dict(zip(("vault", "train"), lab.fix_lab(case["seed"]))),
        observe=observe_decision("fix", seeds_needed=lab.SEEDS_NEEDED, candidates=len(lab.FIXES),
                                 convert=candidate_among(lab.FIXES, "fix")),
        compare={"decision": supported(lab.acceptable_fixes, what="fix"), "protocol": followed()},
        parts=("decision", "protocol"),
        answer="a dict {'fix': one of 'none', 'hard initial condition', 'resampled points', 'L-BFGS', "
               "'test_error': the test error of that recipe}",
        timeout=20.0,
        hints=(
            when(chose_unsupported(lambda case: lab.lowest_training_loss("fix", case["seed"]),
                                   lab.acceptable_fixes),
                 "you chose the recipe with the lowest training loss: the losses of different recipes measure "
                 "different things (a hard initial condition drops a term, L-BFGS drives the loss down on its "
                 "own points, fixed points flatter it). Compare the models' errors on vault.val"),
        ),
    ),
)
