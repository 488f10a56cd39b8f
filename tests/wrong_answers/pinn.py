"""Known-wrong implementations of lab 09's exercises, with the hint each must get."""

import math

import numpy as np
import torch

from course_utils.experiments.pinn import FIXES, WEIGHTS


# -- pinn.cosine_coefficients ---------------------------------------------------------------------

def _quadrature(f_values, n_max, mode, scale=2.0, first_half=False):
    m = len(f_values)
    x = -1.0 + 2.0 * np.arange(m) / m
    a = np.array([scale / m * np.sum(f_values * mode(n, x)) for n in range(n_max + 1)])
    if first_half:
        a[0] /= 2
    return a


def _trapezoid(f_values, n_max):
    m = len(f_values)
    x = -1.0 + 2.0 * np.arange(m) / m
    integrate = getattr(np, "trapezoid", None) or np.trapz
    return np.array([integrate(f_values * np.cos(n * np.pi * x), x) for n in range(n_max + 1)])


_COS = lambda n, x: np.cos(n * np.pi * x)  # noqa: E731


# -- pinn.series_solution -------------------------------------------------------------------------

def _series(a, x, t, k, constant=0.5, decay=lambda n, k, t: np.exp(-k * (n * np.pi) ** 2 * t),
            mode=lambda n, x: np.cos(n * np.pi * x)):
    u = constant * a[0] + 0 * x
    for n in range(1, len(a)):
        u = u + a[n] * decay(n, k, t) * mode(n, x)
    return u


# -- pinn.periodic_features -----------------------------------------------------------------------

def _features(x, n_harmonics, factor=math.pi, blocks=False, first=1):
    n = torch.arange(first, first + n_harmonics, dtype=x.dtype)
    phase = factor * x * n
    if blocks:
        return torch.cat([torch.cos(phase), torch.sin(phase)], dim=1)
    return torch.stack([torch.cos(phase), torch.sin(phase)], dim=2).reshape(len(x), -1)


def _features_numpy(x, n_harmonics):
    values = x.detach().numpy()
    n = np.arange(1, n_harmonics + 1)
    phase = np.pi * values * n
    return torch.from_numpy(np.stack([np.cos(phase), np.sin(phase)], axis=2).reshape(len(values), -1))


# -- pinn.residual --------------------------------------------------------------------------------

def _residual(model, xt, k, combine):
    xt = xt.clone().requires_grad_(True)
    u = model(xt)
    (grad,) = torch.autograd.grad(u.sum(), xt, create_graph=True)
    (grad_x,) = torch.autograd.grad(grad[:, 0].sum(), xt, create_graph=True)
    (grad_t,) = torch.autograd.grad(grad[:, 1].sum(), xt, create_graph=True)
    d = {"u_x": grad[:, 0], "u_t": grad[:, 1], "u_xx": grad_x[:, 0], "u_tt": grad_t[:, 1]}
    return combine(d, k)  # one mistake at a time: the graph is kept


def _residual_without_second_graph(model, xt, k):
    """u_xx from autograd.grad without create_graph: right values, no gradient through k u_xx."""
    xt = xt.clone().requires_grad_(True)
    u = model(xt)
    (grad,) = torch.autograd.grad(u.sum(), xt, create_graph=True)
    (grad_x,) = torch.autograd.grad(grad[:, 0].sum(), xt, retain_graph=True)
    return grad[:, 1] - k * grad_x[:, 0]


def _residual_detached(model, xt, k):
    xt = xt.clone().requires_grad_(True)
    u = model(xt)
    (grad,) = torch.autograd.grad(u.sum(), xt, create_graph=True)
    (grad_x,) = torch.autograd.grad(grad[:, 0].sum(), xt, create_graph=True)
    return (grad[:, 1] - k * grad_x[:, 0]).detach().numpy()


# -- pinn.initial_weight, pinn.keep_fix --------------------------------------------------------------

def _validation_error(model, vault):
    X, u = vault.val
    return np.linalg.norm(model(X) - u) / np.linalg.norm(u)


def _decide(key, candidates, mistake):
    """A decision function for both exercises (``train(candidate, seeds)``), with one mistake."""

    def decide(vault, train):
        seeds = [0] if mistake == "one seed" else [0, 1, 2]
        models = {c: train(c, seeds) for c in candidates}
        val = {c: np.mean([_validation_error(m, vault) for m in ms]) for c, ms in models.items()}
        if mistake == "training loss":
            best = min(models, key=lambda c: np.mean([m.training_loss for m in models[c]]))
        elif mistake == "largest":
            best = max(candidates)
        elif mistake == "on test":
            test = {c: np.mean([vault.test(m, candidate=c) for m in ms]) for c, ms in models.items()}
            return {key: min(test, key=test.get), "test_error": min(test.values())}
        else:
            best = min(val, key=val.get)
        if mistake == "peek":  # a look at another candidate's test error, reported as the choice's
            other = next(c for c in candidates if c != best)
            return {key: best, "test_error": vault.test(models[other][0], candidate=other)}
        if mistake == "no report":
            return {key: best}
        return {key: best, "test_error": np.mean([vault.test(m, candidate=best) for m in models[best]])}

    return decide


_PROTOCOL = ((("on test", "choosing on test"), ("peek", "peeking"), ("one seed", "too few seeds"),
              ("no report", "reported no test score")))


WRONG = {
    "pinn.cosine_coefficients": [
        (lambda f_values, n_max: _quadrature(f_values, n_max - 1, _COS),
         "expected an array of the n_max + 1 coefficients"),
        (lambda f_values, n_max: _quadrature(f_values, n_max, _COS, first_half=True), "a_0 is half"),
        (lambda f_values, n_max: _quadrature(f_values, n_max, _COS, scale=1.0), "grid step is 2/m"),
        (lambda f_values, n_max: _quadrature(f_values, n_max, lambda n, x: np.cos(n * x)), "not cos(n x)"),
        (lambda f_values, n_max: _quadrature(f_values, n_max, lambda n, x: np.cos(2 * n * np.pi * x)),
         "cos(2 n pi x) has period 1/n"),
        (lambda f_values, n_max: _quadrature(f_values, n_max, lambda n, x: np.sin(n * np.pi * x)),
         "sine coefficients"),
        (_trapezoid, "misses the last interval"),
    ],
    "pinn.series_solution": [
        (lambda a, x, t, k: _series(a, x, t, k, constant=1.0), "a_0/2, not a_0"),
        (lambda a, x, t, k: _series(a, x, t, k, decay=lambda n, k, t: np.exp(-k * n ** 2 * t)), "pi^2 is missing"),
        (lambda a, x, t, k: _series(a, x, t, k, decay=lambda n, k, t: np.exp(-k * n * np.pi * t)),
         "k (n pi)^2, squared"),
        (lambda a, x, t, k: _series(a, x, t, k, decay=lambda n, k, t: np.exp(k * (n * np.pi) ** 2 * t)),
         "your modes grow"),
        (lambda a, x, t, k: _series(a, x, t, k, mode=lambda n, x: np.cos(n * x)), "not cos(n x)"),
    ],
    "pinn.periodic_features": [
        (_features_numpy, "autograd cannot differentiate"),
        (lambda x, n_harmonics: _features(x, n_harmonics, blocks=True), "wrong order"),
        (lambda x, n_harmonics: _features(x, n_harmonics, factor=2 * math.pi), "period 1/n"),
        (lambda x, n_harmonics: _features(x, n_harmonics, factor=1.0), "multiply by pi"),
        (lambda x, n_harmonics: _features(x, n_harmonics, first=0), "start at n = 1"),
        (lambda x, n_harmonics: _features_numpy(x, n_harmonics).requires_grad_(True), "autograd cannot differentiate"),
    ],
    "pinn.residual": [
        (lambda model, xt, k: _residual(model, xt, k, lambda d, k: d["u_t"] + k * d["u_xx"]), "sign error"),
        (lambda model, xt, k: _residual(model, xt, k, lambda d, k: d["u_t"] - k * d["u_x"]), "first derivative"),
        (lambda model, xt, k: _residual(model, xt, k, lambda d, k: d["u_t"] - d["u_xx"]), "k is missing"),
        (lambda model, xt, k: _residual(model, xt, k, lambda d, k: d["u_x"] - k * d["u_tt"]), "swapped"),
        (lambda model, xt, k: _residual(model, xt, k, lambda d, k: d["u_t"]), "u_t alone"),
        (_residual_without_second_graph, "training cannot learn from the k u_xx term"),
        (_residual_detached, "they carry no autograd graph"),
        (lambda model, xt, k: _residual_detached(model, xt, k)[:-1], "expected a tensor of N values"),
    ],
    "pinn.initial_weight": [
        (_decide("weight", WEIGHTS, "training loss"), "lowest training loss"),
        (_decide("weight", WEIGHTS, "largest"), "largest weight is not the safest"),
        *[(_decide("weight", WEIGHTS, mistake), says) for mistake, says in _PROTOCOL],
        (lambda vault, train: {"lambda": 1.0}, "expected a dict with the key 'weight'"),
        (lambda vault, train: {"weight": 3.0}, "expected the weight, one of 0.1, 1.0, 10.0, 100.0"),
    ],
    "pinn.keep_fix": [
        (_decide("fix", FIXES, "training loss"), "lowest training loss"),
        *[(_decide("fix", FIXES, mistake), says) for mistake, says in _PROTOCOL],
        (lambda vault, train: {"fix": "all of them"}, "expected the fix, one of 'none'"),
    ],
}
