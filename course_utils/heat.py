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

Stated with u(-1, t) = u(1, t) alone, the problem has many solutions (heat both ends alike:
:func:`heated_ends`); the Fourier series is the one whose u_x is periodic too. While the periodic
images of the Gaussian are negligible, it equals the free-space closed form
(:func:`free_space_solution`): sqrt(0.25 / (0.25 + t)) exp(-x^2 / (0.04 (0.25 + t))) for k = 0.01.

**The PINN** (:class:`HeatPINN`, trained by :func:`train_pinn`): periodic by construction (the
network sees x only through cos(n pi x) and sin(n pi x)), exact at t = 0 (u = u0(x) + t N(x, t)),
trained on the PDE residual alone with Adam on resampled collocation points, then L-BFGS.

**The ablation** (:func:`train_stack`): several seeds of one recipe -- each fix on or off -- trained
as one batched model (:class:`PINNStack`), Adam and a batched L-BFGS (:func:`lbfgs_members`) sharing
one budget of loss evaluations.

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

from course_utils.train import StackedMLP, progress_bar, torch_threads

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


def free_space_solution(x, t, k: float = K) -> np.ndarray:
    """The Gaussian u0 diffusing on the whole real line, in closed form:
    WIDTH / sqrt(WIDTH^2 + 4kt) * exp(-x^2 / (WIDTH^2 + 4kt)); for WIDTH = 0.1 and k = 0.01 that is
    sqrt(0.25 / (0.25 + t)) * exp(-x^2 / (0.04 (0.25 + t))).

    The periodic solution is the sum of this Gaussian and its images at x + 2m (:func:`periodic_images`);
    on [-1, 1] the two agree as long as the images are negligible.

    >>> float(free_space_solution(0.0, 0.75))  # sqrt(0.25 / 1.0)
    0.5
    """
    x, t = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(t, dtype=float))
    spread = WIDTH ** 2 + 4 * k * t
    return WIDTH / np.sqrt(spread) * np.exp(-x ** 2 / spread)


def periodic_images(x, t, k: float = K, images: int = 1) -> np.ndarray:
    """:func:`free_space_solution` summed over its images at x + 2m, m = -images..images (method of images).

    >>> x = np.linspace(-1, 1, 11)
    >>> bool(np.abs(periodic_images(x, 1.0) - exact_solution(x, 1.0)).max() < 1e-14)
    True
    """
    return sum(free_space_solution(np.asarray(x, dtype=float) + 2 * m, t, k) for m in range(-images, images + 1))


def heated_ends(x, t, rate: float = 0.5, k: float = K, n_terms: int = 400) -> np.ndarray:
    """w(x, t) with w_t = k w_xx, w(x, 0) = 0 and w(-1, t) = w(1, t) = rate * t: both ends heated alike.

    exact_solution + w meets every condition of the problem as the IDRIS course states it (the
    equation, u(x, 0) = u0(x), u(-1, t) = u(1, t)) and is another function: the condition on u alone
    does not make the solution unique. Its u_x is not periodic (w_x(-1, t) = -w_x(1, t) != 0).
    Closed form: rate * [t + (x^2 - 1) / (2k) - sum_n b_n exp(-k l_n^2 t) cos(l_n x)], l_n = (n + 1/2) pi,
    b_n = -2 (-1)^n / (k l_n^3) (the cosine series of (x^2 - 1) / (2k), which is 0 at x = +-1).

    >>> float(heated_ends(1.0, 0.6)), float(heated_ends(-1.0, 0.6))
    (0.3, 0.3)
    """
    x, t = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(t, dtype=float))
    w = t + (x ** 2 - 1) / (2 * k)
    for n in range(n_terms):
        wavenumber = (n + 0.5) * math.pi
        b = -2 * (-1) ** n / (k * wavenumber ** 3)
        w = w - b * np.exp(-k * wavenumber ** 2 * t) * np.cos(wavenumber * x)
    edge = np.isclose(np.abs(x), 1.0, rtol=0, atol=1e-15)
    return rate * np.where(edge, t, w)  # cos(l_n) = 0 exactly at the ends; float rounding says ~1e-16


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


def pinn_features(x: torch.Tensor, t: torch.Tensor, frequencies: torch.Tensor, t_end: float = T_END,
                  periodic: bool = True) -> torch.Tensor:
    """The network's input at the points (x, t) (columns, or stacks of columns): cos(n pi x), sin(n pi x)
    for every frequency n pi and 2t/T - 1 when ``periodic`` (period 2 in x whatever the weights); else x
    and 2t/T - 1."""
    time = 2 * t / t_end - 1
    if not periodic:
        return torch.cat([x, time], dim=-1)
    phase = x * frequencies
    return torch.cat([torch.cos(phase), torch.sin(phase), time], dim=-1)


class HeatPINN(nn.Module):
    """u(x, t) = u0(x) + t * N(cos(n pi x), sin(n pi x) for n = 1..harmonics, 2t/T - 1).

    For any weights, u(-1, t) = u(1, t) (the features have period 2, and u0 is even) and
    u(x, 0) = u0(x) (the factor t). u0 and all its derivatives are below e^-100 at x = +-1, so the
    periodic extension is smooth too. ``N`` is a tanh MLP with ``depth`` hidden layers of ``width``.
    ``periodic=False`` feeds N with (x, 2t/T - 1) instead, ``hard_initial=False`` returns N itself:
    the naive PINN, whose conditions must be learned from soft loss terms.
    """

    def __init__(self, harmonics: int = 4, width: int = 32, depth: int = 3, t_end: float = T_END,
                 periodic: bool = True, hard_initial: bool = True):
        super().__init__()
        self.register_buffer("frequencies", math.pi * torch.arange(1, harmonics + 1, dtype=torch.float32))
        self.t_end, self.periodic, self.hard_initial = t_end, periodic, hard_initial
        sizes = [2 * harmonics + 1 if periodic else 2] + [width] * depth + [1]
        layers: list[nn.Module] = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(n_in, n_out), nn.Tanh()]
        self.net = nn.Sequential(*layers[:-1])

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        out = self.net(pinn_features(x, t, self.frequencies, self.t_end, self.periodic))
        return initial_condition(x) + t * out if self.hard_initial else out


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



# -- the ablation: several seeds of several recipes as one batched model ----------------------------

class PINNStack(nn.Module):
    """One :class:`HeatPINN` per seed, evaluated together (a :class:`course_utils.train.StackedMLP` inside).

    Member ``m`` starts exactly as ``torch.manual_seed(seeds[m]); HeatPINN(...)`` would. ``hard_initial``
    may differ from member to member (a bool, or one per seed); ``periodic`` is shared, since it changes
    the network's input. ``forward`` takes stacks of columns ``(members, n, 1)`` (or columns ``(n, 1)``
    shared by every member) and returns ``(members, n, 1)``. The loss of the stack is the sum of the
    members' losses, so Adam, which works element-wise, trains every member as if it were alone.

    >>> stack = PINNStack([0, 1], width=8, depth=2, hard_initial=[True, False])
    >>> x, t = torch.rand(5, 1), torch.rand(5, 1)
    >>> torch.allclose(stack(x, t)[1], stack.member(1)(x, t)), stack.member(1).hard_initial
    (True, False)
    """

    def __init__(self, seeds, harmonics: int = 4, width: int = 16, depth: int = 2, t_end: float = T_END,
                 periodic: bool = True, hard_initial=True):
        super().__init__()
        self.seeds, self.harmonics, self.width, self.depth = list(seeds), harmonics, width, depth
        self.t_end, self.periodic = t_end, periodic
        self.register_buffer("frequencies", math.pi * torch.arange(1, harmonics + 1, dtype=torch.float32))
        self.register_buffer("hard", _per_member(hard_initial, len(self.seeds), torch.bool))
        sizes = [2 * harmonics + 1 if periodic else 2] + [width] * depth + [1]
        self.net = StackedMLP(sizes, self.seeds, "tanh")

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x, t = x.expand(len(self.seeds), *x.shape), t.expand(len(self.seeds), *t.shape)
        out = self.net(pinn_features(x, t, self.frequencies, self.t_end, self.periodic))
        return torch.where(self.hard[:, None, None], initial_condition(x) + t * out, out)

    def member(self, m: int) -> HeatPINN:
        """Member ``m`` as a stand-alone :class:`HeatPINN` (a copy of its current weights)."""
        model = HeatPINN(self.harmonics, self.width, self.depth, self.t_end, self.periodic, bool(self.hard[m]))
        model.net.load_state_dict(self.net.member(m).state_dict())
        return model


def _per_member(value, members: int, dtype: torch.dtype) -> torch.Tensor:
    """A setting given once for all members, or once per member, as a tensor of shape (members,)."""
    return torch.as_tensor(np.broadcast_to(np.asarray(value), (members,)).copy(), dtype=dtype)


@torch.no_grad()
def stack_on_grid(stack: PINNStack, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Every member's u on the grid: shape ``(members, len(t), len(x))``, float64."""
    xx, tt = np.meshgrid(x, t)
    column = lambda a: torch.as_tensor(a.reshape(-1, 1), dtype=torch.float32)  # noqa: E731
    return stack(column(xx), column(tt)).double().numpy().reshape(len(stack.seeds), *xx.shape)


def relative_l2(u_hat: np.ndarray, u: np.ndarray) -> np.ndarray:
    """||u_hat - u|| / ||u|| over the last two axes (the grid): one number per leading index.

    >>> relative_l2(np.ones((2, 3, 4)) * [[[1.0]], [[1.1]]], np.ones((3, 4)))
    array([0. , 0.1])
    """
    u_hat, u = np.asarray(u_hat, dtype=float), np.asarray(u, dtype=float)
    return np.linalg.norm(u_hat - u, axis=(-2, -1)) / np.linalg.norm(u)


def boundary_gap(model, t: torch.Tensor) -> torch.Tensor:
    """(u(-1, t) - u(1, t))^2 + (u_x(-1, t) - u_x(1, t))^2, averaged over the times of each member:
    the soft periodic boundary condition, on u *and* u_x (u alone does not define a unique solution)."""
    ends = [torch.full_like(t, side).requires_grad_(True) for side in (-1.0, 1.0)]
    u = [model(x, t) for x in ends]
    u_x = [torch.autograd.grad(value.sum(), x, create_graph=True)[0] for value, x in zip(u, ends)]
    return ((u[0] - u[1]) ** 2 + (u_x[0] - u_x[1]) ** 2).mean(dim=(-2, -1))


def stack_losses(stack: PINNStack, points: dict, initial_weight: torch.Tensor, k: float = K) -> dict:
    """The loss terms of every member, each of shape ``(members,)``: ``residual`` (mean squared PDE
    residual at the collocation points ``x``, ``t``), and the soft terms the recipe needs --
    ``initial`` at the points ``x0`` of the line t = 0 (exactly 0 for a member with the hard initial
    condition; weighted by ``initial_weight``) and ``boundary`` at the times ``tb`` (without the
    periodic embedding) -- and their weighted sum ``total``."""
    terms = {"residual": _residual(stack, points["x"], points["t"], k).pow(2).mean(dim=(1, 2))}
    terms["total"] = terms["residual"]
    if not stack.hard.all():
        x0 = points["x0"]
        terms["initial"] = (stack(x0, torch.zeros_like(x0)) - initial_condition(x0)).pow(2).mean(dim=(1, 2))
        terms["total"] = terms["total"] + initial_weight * terms["initial"]
    if not stack.periodic:
        terms["boundary"] = boundary_gap(stack, points["tb"])
        terms["total"] = terms["total"] + terms["boundary"]
    return terms


def lbfgs_members(losses, params: list[torch.Tensor], evaluations: int, history_size: int = 50,
                  max_halvings: int = 20) -> torch.Tensor:
    """L-BFGS run separately on every member of a stack, batched: ``evaluations`` calls of ``losses()``.

    ``losses()`` returns one loss per member, shape ``(members,)``; every tensor of ``params`` has the
    members along its first axis. Each member has its own memory of the last ``history_size`` steps
    (two-loop recursion, first step scaled like torch's: min(1, 1/|g|_1)) and its own backtracking
    line search (Armijo condition, step halved up to ``max_halvings`` times); a pair (s, y) without
    positive curvature is not used. A member that has found its step waits (its loss is evaluated
    again, unchanged) while the others search: the members never influence each other, and each
    gets at most ``evaluations`` evaluations. Returns the final losses; ``params`` hold the result.

    >>> A = torch.tensor([[[3.0, 1.0], [1.0, 2.0]], [[10.0, 0.0], [0.0, 0.1]]])
    >>> theta = torch.zeros(2, 2, requires_grad=True)
    >>> quadratic = lambda: 0.5 * torch.einsum("mi,mij,mj->m", theta, A, theta) - theta.sum(1)
    >>> _ = lbfgs_members(quadratic, [theta], evaluations=40)
    >>> torch.allclose(theta, torch.linalg.solve(A, torch.ones(2, 2)), atol=1e-4)
    True
    """
    members = params[0].shape[0]
    sizes = [p[0].numel() for p in params]

    def flat(tensors) -> torch.Tensor:
        return torch.cat([tensor.reshape(members, -1) for tensor in tensors], dim=1)

    def evaluate(theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            for p, block in zip(params, torch.split(theta, sizes, dim=1)):
                p.copy_(block.reshape(p.shape))
        value = losses()
        gradient = torch.autograd.grad(value.sum(), params)
        return value.detach(), flat(gradient).detach()

    def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a * b).sum(dim=1, keepdim=True)

    theta = flat([p.detach() for p in params]).clone()
    loss, gradient = evaluate(theta)
    used, memory = 1, []  # memory: (s, y, rho) of the last steps, rho = 0 where a pair is not used
    while used < evaluations:
        q, alphas = gradient.clone(), []
        for s, y, rho in reversed(memory):
            alpha = rho * dot(s, q)
            q -= alpha * y
            alphas.append(alpha)
        if memory:
            s, y, rho = memory[-1]
            scale = torch.where(rho > 0, dot(s, y) / dot(y, y).clamp_min(1e-30), torch.ones_like(rho))
            step = torch.ones_like(loss)
        else:
            scale = torch.ones(members, 1)
            step = (1 / gradient.abs().sum(dim=1)).clamp(max=1.0)
        r = scale * q
        for (s, y, rho), alpha in zip(memory, reversed(alphas)):
            r += s * (alpha - rho * dot(y, r))
        direction = -r
        slope = dot(gradient, direction)[:, 0]
        uphill = slope >= 0  # should not happen; fall back to steepest descent for that member
        direction[uphill] = -gradient[uphill]
        slope = dot(gradient, direction)[:, 0]

        new_theta, new_loss, new_gradient = theta.clone(), loss.clone(), gradient.clone()
        searching = torch.ones(members, dtype=torch.bool)
        for _ in range(max_halvings + 1):
            if used >= evaluations or not searching.any():
                break
            trial = torch.where(searching[:, None], theta + step[:, None] * direction, new_theta)
            trial_loss, trial_gradient = evaluate(trial)
            used += 1
            accept = searching & (trial_loss <= loss + 1e-4 * step * slope)
            new_theta[accept], new_loss[accept], new_gradient[accept] = \
                trial[accept], trial_loss[accept], trial_gradient[accept]
            searching &= ~accept
            step = torch.where(searching, step / 2, step)
        s, y = new_theta - theta, new_gradient - gradient
        curvature = dot(s, y)
        rho = torch.where(curvature > 1e-10, 1 / curvature.clamp_min(1e-10), torch.zeros_like(curvature))
        memory = (memory + [(s, y, rho)])[-history_size:]
        theta, loss, gradient = new_theta, new_loss, new_gradient
    with torch.no_grad():
        for p, block in zip(params, torch.split(theta, sizes, dim=1)):
            p.copy_(block.reshape(p.shape))
    return loss


@dataclass
class StackRun:
    """One optimizer arm of :func:`train_stack`: per member (seed), the error and the final losses."""

    model: PINNStack
    rel_l2: np.ndarray       # (members,) against exact_solution on grid()
    loss: np.ndarray         # (members,) final weighted loss on the member's current points
    fresh_loss: np.ndarray   # (members,) mean squared residual on 1000 points never trained on
    history: dict            # "evaluation": (records,); every loss term and "rel_l2": (records, members)
    cpu_seconds: float       # time.process_time() of this arm (its share of a common first half included)


ARMS = ("Adam", "Adam → L-BFGS")


def train_stack(seeds, *, periodic: bool = True, hard_initial=True, resample=True, initial_weight=1.0,
                arms=ARMS, budget: int = 400, n_points: int = 192, resample_every: int = 50, lr: float = 1e-2,
                harmonics: int = 4, width: int = 16, depth: int = 2, k: float = K, t_end: float = T_END,
                record_every: int | None = None, threads: int | None = 1,
                progress: bool | str = False) -> dict[str, StackRun]:
    """Train one PINN per seed, all at once (a :class:`PINNStack`), with ``budget`` loss-and-gradient
    evaluations; return one :class:`StackRun` per optimizer arm.

    The recipe of each member: ``periodic`` (sin/cos embedding; off: a soft boundary term on u and
    u_x), ``hard_initial`` (u0 + t N; off: a soft initial term weighted by ``initial_weight``),
    ``resample`` (a fresh draw of every point set every ``resample_every`` evaluations; off: one draw
    for the whole run). ``hard_initial``, ``resample`` and ``initial_weight`` take one value for all
    members or one per seed, so one stack holds several recipes. The arms: ``"Adam"`` runs Adam for the
    whole budget, its learning rate ``lr`` decaying to 0 along a cosine; ``"Adam → L-BFGS"`` is the same
    run switched at half the budget to :func:`lbfgs_members` -- the arms share their first half, so
    their difference is the switch alone. L-BFGS restarts its memory every ``resample_every``
    evaluations in every member (fixed points or not: the recipes differ only by the points).

    Seeded: member m draws its points from a generator seeded with ``seeds[m]``, so a seed draws the
    same points in every recipe. ``n_points`` collocation points per member; the soft terms use 64
    points on the line t = 0 and 32 boundary times. Records every ``record_every`` evaluations.
    ``progress=True`` (or a label) shows a bar over the evaluations of every arm (:func:`progress_bar`).
    """
    with torch_threads(threads):
        return _train_stack(list(seeds), periodic, hard_initial, resample, initial_weight, tuple(arms), budget,
                            n_points, resample_every, lr, harmonics, width, depth, k, t_end, record_every, progress)


def _train_stack(seeds, periodic, hard_initial, resample, initial_weight, arms, budget, n_points, resample_every,
                 lr, harmonics, width, depth, k, t_end, record_every, progress=False) -> dict[str, StackRun]:
    import copy

    unknown = set(arms) - set(ARMS)
    if unknown:
        raise ValueError(f"unknown arms {sorted(unknown)}; choose from {ARMS}")
    start_cpu = time.process_time()
    members = len(seeds)
    stack = PINNStack(seeds, harmonics, width, depth, t_end, periodic, hard_initial)
    redraw = _per_member(resample, members, torch.bool)
    weight = _per_member(initial_weight, members, torch.float32)
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    sizes = {"x": n_points, "t": n_points, "x0": 64, "tb": 32}
    low_width = {"x": (-1.0, 2.0), "t": (0.0, t_end), "x0": (-1.0, 2.0), "tb": (0.0, t_end)}

    def draw() -> dict:
        uniform = {name: torch.stack([torch.rand(n, 1, generator=g) for g in generators]) for name, n in sizes.items()}
        return {name: low_width[name][0] + low_width[name][1] * value for name, value in uniform.items()}

    state = {"points": draw(), "history": {"evaluation": []}}
    fresh = {"x": 2 * torch.rand(members, 1000, 1, generator=torch.Generator().manual_seed(10_000)) - 1,
             "t": t_end * torch.rand(members, 1000, 1, generator=torch.Generator().manual_seed(10_001))}
    x_grid, t_grid = grid(t_end=t_end)
    exact = exact_on_grid(x_grid, t_grid, k)

    def losses() -> dict:
        return stack_losses(stack, state["points"], weight, k)

    def record(evaluation: int) -> None:
        history = state["history"]
        history["evaluation"].append(evaluation)
        for name, value in losses().items():
            history.setdefault(name, []).append(value.detach().numpy())
        history.setdefault("rel_l2", []).append(relative_l2(stack_on_grid(stack, x_grid, t_grid), exact))

    def before(evaluation: int) -> None:
        """Resample (where asked) and record, before the evaluation number ``evaluation``."""
        if evaluation > 0 and evaluation % resample_every == 0 and redraw.any():
            new = draw()
            state["points"] = {name: torch.where(redraw[:, None, None], new[name], old)
                               for name, old in state["points"].items()}
        if record_every and evaluation % record_every == 0:
            record(evaluation)

    def finish(seconds: float) -> StackRun:
        record(budget)
        fresh_loss = _residual(stack, fresh["x"], fresh["t"], k).pow(2).mean(dim=(1, 2)).detach().numpy()
        curves = {name: np.asarray(values) for name, values in state["history"].items()}
        return StackRun(copy.deepcopy(stack), curves["rel_l2"][-1], curves["total"][-1], fresh_loss, curves,
                        seconds)

    def adam(start: int, stop: int) -> None:
        for evaluation in range(start, stop):
            before(evaluation)
            loss = losses()["total"].sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            bar.update()

    optimizer = torch.optim.Adam(stack.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, budget)
    half = budget // 2
    bar = progress_bar(progress=progress, total=half + (budget - half) * len(arms), unit="evaluation")
    adam(0, half)
    shared = time.process_time() - start_cpu
    switch = {"stack": copy.deepcopy(stack.state_dict()), "generators": [g.get_state() for g in generators],
              "points": dict(state["points"]), "history": copy.deepcopy(state["history"])}
    runs = {}
    if "Adam" in arms:
        start = time.process_time()
        adam(half, budget)
        runs["Adam"] = finish(shared + time.process_time() - start)
    if "Adam → L-BFGS" in arms:
        start = time.process_time()
        stack.load_state_dict(switch["stack"])
        for generator, saved in zip(generators, switch["generators"]):
            generator.set_state(saved)
        state["points"], state["history"] = switch["points"], switch["history"]
        params = list(stack.parameters())
        done = half
        while done < budget:
            before(done)
            segment = min(resample_every - done % resample_every, budget - done)
            lbfgs_members(lambda: losses()["total"], params, segment)
            done += segment
            bar.update(segment)
        runs["Adam → L-BFGS"] = finish(shared + time.process_time() - start)
    bar.close()
    return runs
