"""Explorer for lesson 08: seven optimizers on three 2-D loss surfaces.

Controls: the surface (an ill-conditioned quadratic bowl, Rosenbrock's banana valley, a saddle
between two minima), the optimizer (SGD, momentum, Nesterov, AdaGrad, RMSProp, AdaDelta, Adam), the learning
rate, the momentum (β1 for Adam; the other optimizers have none) and the number of steps. Left: the
path on the contours of the surface. Right: the distance to the minimum's value, f − f*, per step
(log scale).

The update rules follow ``torch.optim`` exactly (same conventions, same default eps, betas, alpha
and rho; tests/test_topic_08_optimizers.py checks the paths against ``torch.optim``), written in
NumPy so that an update needs no PyTorch: :func:`descend` runs a whole path, for one learning rate
or for many at once (vectorized over the learning rates).

>>> explorer = optimizer_explorer()
>>> explorer.set(surface="quadratic", optimizer="sgd", lr=0.03).result["diverged_at"] is not None  # > 2/100
True
>>> explorer.set(lr=0.015).result["diverged_at"] is None
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import ipywidgets as widgets
import numpy as np

from .base import Explorer

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam")
WITH_MOMENTUM = ("momentum", "nesterov", "adam")  # the momentum slider is Adam's beta1
MAX_STEPS = 400
TOLERANCE = 1e-3  # "converged" once f - f* is below this
GAP_RANGE = (1e-10, 1e4)  # the loss panel's y-axis
BLOW_UP = 1e6  # a coordinate beyond this counts as diverged
# torch.optim's defaults
ADAM_BETA2, ADAM_EPS = 0.999, 1e-8
RMSPROP_ALPHA, RMSPROP_EPS = 0.99, 1e-8
ADAGRAD_EPS = 1e-10
ADADELTA_RHO, ADADELTA_EPS = 0.9, 1e-6


@dataclass(frozen=True)
class Surface:
    """A 2-D loss f(x, y), its gradient, a start point, its minima and the region shown."""

    name: str
    f: Callable[[np.ndarray, np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
    start: tuple[float, float]
    minima: tuple[tuple[float, float], ...]
    f_min: float
    xlim: tuple[float, float]
    ylim: tuple[float, float]


QUADRATIC_CURVATURES = (1.0, 100.0)  # condition number 100: the largest stable SGD lr is 2/100

SURFACES = {
    "quadratic": Surface(
        "quadratic: f = (x² + 100 y²)/2",
        lambda x, y: 0.5 * (x * x + 100.0 * y * y),
        lambda x, y: (x, 100.0 * y),
        start=(-4.5, 0.6), minima=((0.0, 0.0),), f_min=0.0, xlim=(-5.0, 5.0), ylim=(-1.0, 1.0)),
    "rosenbrock": Surface(
        "Rosenbrock: f = (1 − x)² + 100 (y − x²)²",
        lambda x, y: (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2,
        lambda x, y: (-2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)),
        start=(-1.2, 1.0), minima=((1.0, 1.0),), f_min=0.0, xlim=(-2.0, 2.0), ylim=(-0.8, 2.2)),
    "saddle": Surface(
        "saddle: f = 5 x² + y⁴/4 − y²/2",
        lambda x, y: 5.0 * x * x + 0.25 * y ** 4 - 0.5 * y * y,
        lambda x, y: (10.0 * x, y ** 3 - y),
        start=(-2.0, 1e-3), minima=((0.0, -1.0), (0.0, 1.0)), f_min=-0.25, xlim=(-2.5, 2.5), ylim=(-1.8, 1.8)),
}


def descend(surface: Surface | str, optimizer: str, lr, momentum: float = 0.9, steps: int = 200,
            start: tuple[float, float] | None = None) -> np.ndarray:
    """The path of ``optimizer`` on ``surface``: an array (steps + 1, 2), row 0 the start.

    ``lr`` may be an array of k learning rates: the k paths are computed at once and the result has
    shape (steps + 1, k, 2). ``momentum`` is mu for "momentum" and "nesterov" and beta1 for "adam".
    A path that leaves the region |x|, |y| < 1e6 has diverged: its later rows are NaN.
    """
    surface = SURFACES[surface] if isinstance(surface, str) else surface
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
    lrs = np.asarray(lr, dtype=float)
    single = lrs.ndim == 0
    lrs = lrs.reshape(-1, 1)
    p = np.tile(np.asarray(surface.start if start is None else start, dtype=float), (len(lrs), 1))
    buf = np.zeros_like(p)  # momentum buffer, Adam's first moment, or AdaDelta's average of squared updates
    sq = np.zeros_like(p)  # AdaGrad's sum, or RMSProp's / AdaDelta's / Adam's average, of squared gradients
    path = np.empty((steps + 1,) + p.shape)
    path[0] = p
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            g = np.stack(surface.grad(p[:, 0], p[:, 1]), axis=1)
            if optimizer == "sgd":
                p = p - lrs * g
            elif optimizer in ("momentum", "nesterov"):
                buf = momentum * buf + g
                p = p - lrs * (g + momentum * buf if optimizer == "nesterov" else buf)
            elif optimizer == "adagrad":
                sq = sq + g * g
                p = p - lrs * g / (np.sqrt(sq) + ADAGRAD_EPS)
            elif optimizer == "rmsprop":
                sq = RMSPROP_ALPHA * sq + (1 - RMSPROP_ALPHA) * g * g
                p = p - lrs * g / (np.sqrt(sq) + RMSPROP_EPS)
            elif optimizer == "adadelta":  # eps inside both square roots, as torch.optim.Adadelta
                sq = ADADELTA_RHO * sq + (1 - ADADELTA_RHO) * g * g
                delta = np.sqrt(buf + ADADELTA_EPS) / np.sqrt(sq + ADADELTA_EPS) * g
                buf = ADADELTA_RHO * buf + (1 - ADADELTA_RHO) * delta * delta
                p = p - lrs * delta
            else:  # adam
                buf = momentum * buf + (1 - momentum) * g
                sq = ADAM_BETA2 * sq + (1 - ADAM_BETA2) * g * g
                p = p - lrs * (buf / (1 - momentum ** t)) / (np.sqrt(sq / (1 - ADAM_BETA2 ** t)) + ADAM_EPS)
            p[~(np.abs(p) < BLOW_UP).all(axis=1)] = np.nan  # diverged (or already NaN): stays NaN
            path[t] = p
    return path[:, 0] if single else path


def loss_gap(surface: Surface | str, path: np.ndarray) -> np.ndarray:
    """f − f* along a path (NaN where it diverged)."""
    surface = SURFACES[surface] if isinstance(surface, str) else surface
    with np.errstate(over="ignore", invalid="ignore"):
        return surface.f(path[..., 0], path[..., 1]) - surface.f_min


def summary(gap: np.ndarray, tolerance: float = TOLERANCE) -> dict:
    """What a path achieved: its final gap, the first step below ``tolerance``, the step it diverged."""
    diverged = np.flatnonzero(~np.isfinite(gap))
    below = np.flatnonzero(gap < tolerance)
    return {"final_gap": float(gap[-1]) if np.isfinite(gap[-1]) else math.inf,
            "steps_to_tolerance": int(below[0]) if len(below) else None,
            "diverged_at": int(diverged[0]) if len(diverged) else None}


def _contours(surface: Surface, levels: int = 14, n: int = 240) -> tuple[np.ndarray, list[np.ndarray]]:
    """A shaded image of log(f − f* + small) and the contour lines (log-spaced levels) of a surface."""
    import contourpy

    x = np.linspace(*surface.xlim, n)
    y = np.linspace(*surface.ylim, n)
    X, Y = np.meshgrid(x, y)
    gap = surface.f(X, Y) - surface.f_min
    shade = np.log10(gap + 1e-2)
    positive = gap[gap > 0]
    values = np.geomspace(max(positive.min(), 1e-3), positive.max(), levels + 2)[1:-1]
    generator = contourpy.contour_generator(X, Y, gap)
    lines = [segment for value in values for segment in generator.lines(value)]
    return shade, lines


def optimizer_explorer() -> Explorer:
    """Surface, optimizer, learning rate, momentum and steps -> the path and its loss curve."""
    from matplotlib.collections import LineCollection

    drawings = {name: _contours(surface) for name, surface in SURFACES.items()}  # once, at build time

    controls = {
        "surface": widgets.Dropdown(options=list(SURFACES), value="quadratic", description="surface"),
        "optimizer": widgets.Dropdown(options=list(OPTIMIZERS), value="sgd", description="optimizer"),
        "lr": widgets.FloatLogSlider(value=0.015, base=10, min=-4, max=0.5, step=0.05, description="lr",
                                     readout_format=".3g"),
        "momentum": widgets.FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01, description="momentum"),
        "steps": widgets.IntSlider(value=200, min=10, max=MAX_STEPS, step=10, description="steps"),
    }

    def setup(fig):
        path_ax, loss_ax = fig.subplots(1, 2, width_ratios=[1.35, 1])
        fig.subplots_adjust(left=0.06, right=0.98, bottom=0.14, top=0.9, wspace=0.2)
        shade = path_ax.imshow(np.zeros((2, 2)), origin="lower", cmap="Blues_r", aspect="auto",
                               interpolation="bilinear", vmin=-2.0, vmax=4.0, alpha=0.55)
        contour = LineCollection([], colors="0.35", linewidths=0.6)
        path_ax.add_collection(contour)
        minima, = path_ax.plot([], [], "*", color="gold", ms=13, mec="k", mew=0.6)
        path, = path_ax.plot([], [], ".-", color="tab:red", lw=1.2, ms=3)
        start, = path_ax.plot([], [], "o", color="k", ms=6)
        end, = path_ax.plot([], [], "X", color="tab:red", ms=9, mec="k", mew=0.6)
        title = path_ax.set_title("", fontsize=10)
        loss_ax.set_yscale("log")
        loss_ax.set(xlim=(0, MAX_STEPS), ylim=GAP_RANGE, xlabel="step")
        loss_line, = loss_ax.plot([], [], color="tab:red", lw=1.5, scalex=False, scaley=False)
        loss_ax.axhline(TOLERANCE, color="grey", lw=0.8, ls="--")
        loss_ax.text(MAX_STEPS, TOLERANCE * 1.6, f"{TOLERANCE:g} ", ha="right", fontsize=8, color="grey")
        loss_ax.set_title("f − f*  (log scale)", fontsize=10)
        return {"path_ax": path_ax, "shade": shade, "contour": contour, "minima": minima, "path": path,
                "start": start, "end": end, "title": title, "loss": loss_line}

    def update(artists, surface, optimizer, lr, momentum, steps):
        spec = SURFACES[surface]
        shade, lines = drawings[surface]
        artists["path_ax"].set_xlim(spec.xlim)
        artists["path_ax"].set_ylim(spec.ylim)
        artists["shade"].set_data(shade)
        artists["shade"].set_extent(spec.xlim + spec.ylim)
        artists["contour"].set_segments(lines)
        artists["minima"].set_data(*zip(*spec.minima))
        artists["start"].set_data([spec.start[0]], [spec.start[1]])
        path = descend(spec, optimizer, lr, momentum, steps)
        gap = loss_gap(spec, path)
        shown = path[np.isfinite(path).all(axis=1)]
        artists["path"].set_data(shown[:, 0], shown[:, 1])
        artists["end"].set_data([shown[-1, 0]], [shown[-1, 1]])
        artists["loss"].set_data(np.arange(len(gap)), np.clip(np.nan_to_num(gap, nan=np.inf), *GAP_RANGE))
        artists["title"].set_text(spec.name)
        return {"surface": surface, "optimizer": optimizer, "lr": lr, "path": path, "gap": gap,
                **summary(gap)}

    def on_change(controls, optimizer, **_):
        controls["momentum"].disabled = optimizer not in WITH_MOMENTUM
        controls["momentum"].description = "beta1" if optimizer == "adam" else "momentum"

    def readout(result, steps, **_):
        if result["diverged_at"] is not None:
            verdict = f"<b>diverged</b> at step {result['diverged_at']}"
        elif result["steps_to_tolerance"] is not None:
            verdict = f"f − f* < {TOLERANCE:g} after <b>{result['steps_to_tolerance']}</b> steps"
        else:
            verdict = f"<b>not converged</b>: f − f* = {result['final_gap']:.3g} after {steps} steps"
        return f"{result['optimizer']} · lr {result['lr']:.3g} · {verdict}"

    return Explorer(controls, setup, update, readout=readout, on_change=on_change)
