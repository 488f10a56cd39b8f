"""The periodic 1D heat equation of lesson 09: its exact solution, and the PINN that solves it.

The problem (from the IDRIS methodology course, which gives no value for k or T; the course
takes ``K = 0.01`` and ``T = 1``)::

    u_t - k u_xx = 0,   x in [-1, 1],  t in [0, T]
    u(x, 0) = exp(-(x / 0.1)^2),   u(-1, t) = u(1, t)

**Exact solution.** The initial condition is even, so its Fourier series on the period [-1, 1]
has only cosines, u0(x) = a_0/2 + sum_n a_n cos(n pi x) with a_n = int_{-1}^{1} u0(x) cos(n pi x) dx.
For this Gaussian the integral over [-1, 1] equals the one over the whole line to within
exp(-100), so a_n = 0.1 sqrt(pi) exp(-(n pi / 20)^2). Each mode decays on its own:

    u(x, t) = a_0/2 + sum_n a_n exp(-k (n pi)^2 t) cos(n pi x).

**The PINN** (:class:`HeatPINN`, trained by :func:`train_pinn`): periodic by construction (the
network sees x only through cos(n pi x) and sin(n pi x)), exact at t = 0 (u = u0(x) + t N(x, t)),
trained on the PDE residual alone with Adam on resampled collocation points, then L-BFGS.

>>> x = np.linspace(-1, 1, 5)
>>> bool(np.allclose(exact_solution(x, 0.0), initial_condition(x), atol=1e-12))
True
>>> float(exact_solution(1.0, 0.5)) == float(exact_solution(-1.0, 0.5))
True
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from course_utils.train import torch_threads

K = 0.01      # thermal diffusivity
T_END = 1.0   # final time
WIDTH = 0.1   # u0(x) = exp(-(x / WIDTH)^2)
N_TERMS = 60  # Fourier terms of the exact solution: a_60 ~ exp(-89), far below float64 precision


def initial_condition(x):
    """u0(x) = exp(-(x/0.1)^2), for NumPy arrays and torch tensors alike."""
    if isinstance(x, torch.Tensor):
        return torch.exp(-(x / WIDTH) ** 2)
    return np.exp(-(np.asarray(x, dtype=float) / WIDTH) ** 2)


def fourier_coefficients(n_terms: int = N_TERMS) -> np.ndarray:
    """a_0, a_1, ..., a_{n_terms} of the initial condition (closed form; the series starts with a_0/2)."""
    n = np.arange(n_terms + 1)
    return WIDTH * math.sqrt(math.pi) * np.exp(-(n * math.pi * WIDTH / 2) ** 2)


def exact_solution(x, t, k: float = K, n_terms: int = N_TERMS) -> np.ndarray:
    """u(x, t) from the Fourier series; ``x`` and ``t`` broadcast against each other (float64)."""
    x, t = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(t, dtype=float))
    a = fourier_coefficients(n_terms)
    u = np.full(x.shape, a[0] / 2)
    for n in range(1, n_terms + 1):
        u += a[n] * np.exp(-k * (n * math.pi) ** 2 * t) * np.cos(n * math.pi * x)
    return u


def grid(nx: int = 201, nt: int = 101, t_end: float = T_END) -> tuple[np.ndarray, np.ndarray]:
    """The evaluation grid of the lesson: ``nx`` points in x over [-1, 1], ``nt`` in t over [0, T]."""
    return np.linspace(-1.0, 1.0, nx), np.linspace(0.0, t_end, nt)


def exact_on_grid(x: np.ndarray, t: np.ndarray, k: float = K) -> np.ndarray:
    """The exact solution as an array of shape ``(len(t), len(x))``: one row per time."""
    return exact_solution(x[None, :], t[:, None], k)


@torch.no_grad()
def predict_on_grid(model, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``model(x, t)`` (columns of shape (N, 1)) on the grid, shape ``(len(t), len(x))``, float64."""
    dtype = next(model.parameters()).dtype
    xx, tt = np.meshgrid(x, t)
    column = lambda a: torch.as_tensor(a.reshape(-1, 1), dtype=dtype)  # noqa: E731
    return model(column(xx), column(tt)).double().numpy().reshape(xx.shape)


class HeatPINN(nn.Module):
    """u(x, t) = u0(x) + t * N(cos(n pi x), sin(n pi x) for n = 1..harmonics, 2t/T - 1).

    For any weights, u(-1, t) = u(1, t) (the features have period 2, and u0 is even) and
    u(x, 0) = u0(x) (the factor t). u0 and all its derivatives are below e^-100 at x = +-1, so the
    periodic extension is smooth too. ``N`` is a tanh MLP with ``depth`` hidden layers of ``width``.
    """

    def __init__(self, harmonics: int = 4, width: int = 32, depth: int = 3, t_end: float = T_END):
        super().__init__()
        self.register_buffer("frequencies", math.pi * torch.arange(1, harmonics + 1, dtype=torch.float32))
        self.t_end = t_end
        sizes = [2 * harmonics + 1] + [width] * depth + [1]
        layers: list[nn.Module] = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(n_in, n_out), nn.Tanh()]
        self.net = nn.Sequential(*layers[:-1])

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        phase = x * self.frequencies  # (N, harmonics)
        features = torch.cat([torch.cos(phase), torch.sin(phase), 2 * t / self.t_end - 1], dim=1)
        return initial_condition(x) + t * self.net(features)


def _residual(model, x: torch.Tensor, t: torch.Tensor, k: float) -> torch.Tensor:
    """u_t - k u_xx at the points (x, t), by automatic differentiation (differentiable)."""
    x = x.detach().requires_grad_(True)
    t = t.detach().requires_grad_(True)
    u = model(x, t)
    u_x, u_t = torch.autograd.grad(u.sum(), (x, t), create_graph=True)
    (u_xx,) = torch.autograd.grad(u_x.sum(), x, create_graph=True)
    return u_t - k * u_xx


@dataclass
class PINNRun:
    """What :func:`train_pinn` returns: the model, its error, its cost and its learning curves."""

    model: HeatPINN
    rel_l2: float
    seconds: float       # wall clock
    cpu_seconds: float   # time.process_time(): all threads of this process
    history: dict = field(default_factory=dict)
    lbfgs_iterations: int = 0


def train_pinn(seed: int = 0, *, k: float = K, t_end: float = T_END, harmonics: int = 4, width: int = 32,
               depth: int = 3, adam_steps: int = 300, lr: float = 3e-3, n_points: int = 1024,
               resample_every: int | None = 100, lbfgs_iterations: int = 600, n_lbfgs_points: int = 2000,
               record_every: int = 50, dtype: torch.dtype = torch.float32, threads: int | None = 1) -> PINNRun:
    """Train a :class:`HeatPINN`: Adam (cosine-decayed learning rate) on collocation points drawn
    afresh every ``resample_every`` steps (``None``: drawn once), then L-BFGS with a strong-Wolfe
    line search for ``lbfgs_iterations`` iterations on one fixed set of ``n_lbfgs_points``.

    The loss is the mean squared PDE residual, the only term: the boundary and initial conditions
    hold by construction. ``history`` records, every ``record_every`` steps (Adam) or loss
    evaluations (L-BFGS): ``step``, ``loss`` (on the current points), ``fresh_loss`` (on points
    never trained on) and ``rel_l2`` (against :func:`exact_solution` on :func:`grid`), with
    ``phase`` = "adam" or "lbfgs". Seeded: the same arguments give the same model.

    ``threads``: torch's intra-op threads during training (restored afterwards; ``None`` keeps
    the current setting). One is the default: matrices of 32 columns gain little from a second
    thread on an idle machine, and lose several times over when the cores are shared.
    """
    with torch_threads(threads):
        return _train(seed, k, t_end, harmonics, width, depth, adam_steps, lr, n_points, resample_every,
                      lbfgs_iterations, n_lbfgs_points, record_every, dtype)


def _train(seed, k, t_end, harmonics, width, depth, adam_steps, lr, n_points, resample_every, lbfgs_iterations,
           n_lbfgs_points, record_every, dtype) -> PINNRun:
    from course_utils.data import set_seed

    start_wall, start_cpu = time.perf_counter(), time.process_time()
    set_seed(seed)
    model = HeatPINN(harmonics, width, depth, t_end).to(dtype)
    generator = torch.Generator().manual_seed(seed)

    def points(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = 2 * torch.rand(n, 1, generator=generator, dtype=dtype) - 1
        t = t_end * torch.rand(n, 1, generator=generator, dtype=dtype)
        return x, t

    x_grid, t_grid = grid(t_end=t_end)
    exact = exact_on_grid(x_grid, t_grid, k)
    x_fresh, t_fresh = points(2000)  # a held-out set of collocation points, never trained on
    history = {key: [] for key in ("phase", "step", "loss", "fresh_loss", "rel_l2")}

    def record(phase: str, step: int, loss: float) -> None:
        error = predict_on_grid(model, x_grid, t_grid) - exact
        history["phase"].append(phase)
        history["step"].append(step)
        history["loss"].append(loss)
        history["fresh_loss"].append(_residual(model, x_fresh, t_fresh, k).pow(2).mean().item())
        history["rel_l2"].append(float(np.linalg.norm(error) / np.linalg.norm(exact)))

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(adam_steps, 1))
    x, t = points(n_points)
    for step in range(adam_steps):
        if resample_every and step > 0 and step % resample_every == 0:
            x, t = points(n_points)
        loss = _residual(model, x, t, k).pow(2).mean()
        if step % record_every == 0:
            record("adam", step, loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()

    done = 0
    if lbfgs_iterations > 0:
        x, t = points(n_lbfgs_points)
        # torch's defaults stop after max_iter=20 iterations per .step() (and max_eval = 1.25 max_iter
        # loss evaluations), or earlier when a tolerance is met: ask for the iterations explicitly
        # and switch the tolerances off.
        lbfgs = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=lbfgs_iterations,
                                  max_eval=2 * lbfgs_iterations, history_size=50,
                                  tolerance_grad=0.0, tolerance_change=0.0, line_search_fn="strong_wolfe")
        evaluations = [0]

        def closure():
            lbfgs.zero_grad()
            loss = _residual(model, x, t, k).pow(2).mean()
            loss.backward()
            if evaluations[0] % record_every == 0:
                record("lbfgs", adam_steps + evaluations[0], loss.item())
            evaluations[0] += 1
            return loss

        lbfgs.step(closure)
        done = lbfgs.state[lbfgs._params[0]]["n_iter"]

    loss = _residual(model, x, t, k).pow(2).mean().item()
    record("end", adam_steps + (evaluations[0] if lbfgs_iterations > 0 else 0), loss)
    seconds, cpu_seconds = time.perf_counter() - start_wall, time.process_time() - start_cpu
    return PINNRun(model, history["rel_l2"][-1], seconds, cpu_seconds, history, done)

