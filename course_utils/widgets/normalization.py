"""The scaling explorer of lesson 02: gradient descent on the loss of a linear model with two features,
one of them measured on a larger scale.

For centred features with standard deviations 1 and s, the mean squared error is a quadratic bowl with
curvatures (Hessian eigenvalues) 1 and s²: gradient descent is stable only for lr < 2/s², and along the
first feature it then moves by a factor (1 − lr) per step — about s²/2 times slower than it could.
Standardizing the features makes both curvatures 1.

>>> steps_to_converge(scale=1.0, lr=1.0), steps_to_converge(scale=10.0, lr=0.019) > 300
(1, True)
>>> steps_to_converge(scale=10.0, lr=0.021)  # above 2/s² = 0.02: diverges
-1
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .base import Explorer

START = np.array([-2.0, -2.0])  # in units of the optimum: the optimum is (1, 1)
TOLERANCE = 1e-6  # converged: loss - loss* below this
MAX_STEPS = 2000


def descend(scale: float, lr: float, steps: int = MAX_STEPS) -> np.ndarray:
    """Gradient-descent path of the weights, scaled so that the optimum is (1, 1) in both coordinates.

    Weight j of feature j (std s_j) has curvature s_j²; in the coordinates u_j = w_j / w*_j the
    iteration is u ← u − lr·s_j²·(u − 1) along each axis (independent, since the features are
    uncorrelated)."""
    curvature = np.array([1.0, scale ** 2])
    path = np.empty((steps + 1, 2))
    path[0] = START
    u = START.copy()
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            u = u - lr * curvature * (u - 1.0)
            path[t] = u
    return path


def loss_gap(path: np.ndarray, scale: float) -> np.ndarray:
    """loss − loss* along the path (½ Σ s_j² (u_j − 1)², with the optimum's weights set to 1)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return 0.5 * ((path - 1.0) ** 2 * np.array([1.0, scale ** 2])).sum(axis=1)


def steps_to_converge(scale: float, lr: float) -> int:
    """Steps until loss − loss* < TOLERANCE; −1 if it diverges; MAX_STEPS + 1 if it has not converged."""
    gap = loss_gap(descend(scale, lr), scale)
    if not np.isfinite(gap[-1]) or gap[-1] > gap[0]:
        return -1
    below = np.flatnonzero(gap < TOLERANCE)
    return int(below[0]) if below.size else MAX_STEPS + 1


def scaling_explorer(scale: float = 10.0, lr: float = 0.015, standardize: bool = False) -> Explorer:
    """Scale ratio, learning rate and a 'standardize' switch -> the path on the loss contours."""
    controls = {
        "scale": widgets.FloatLogSlider(value=scale, base=10, min=0, max=1.5, step=0.05, description="scale ratio s"),
        "lr": widgets.FloatLogSlider(value=lr, base=10, min=-4, max=0.3, step=0.05, description="learning rate",
                                     readout_format=".4f"),
        "standardize": widgets.Checkbox(value=standardize, description="standardize the features"),
    }
    t = np.linspace(0, 2 * np.pi, 200)
    levels = np.geomspace(0.05, 50, 7)

    def setup(fig):
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.88, wspace=0.3)
        ax, ax_gap = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        ellipses = [ax.plot([], [], color="0.75", lw=0.8)[0] for _ in levels]
        path, = ax.plot([], [], "-o", color="tab:red", ms=2.5, lw=1)
        ax.plot(*START, "ko", ms=5)
        ax.plot(1, 1, "*", color="k", ms=12)
        ax.set(xlim=(-3, 4), ylim=(-3, 4), xlabel="weight of feature 1 (std 1)",
               ylabel="weight of feature 2 (std s)", title="loss contours and the first 60 steps")
        ax.set_aspect("equal")
        gap, = ax_gap.plot([], [], color="tab:red")
        ax_gap.axhline(TOLERANCE, color="0.5", ls="--", lw=1)
        ax_gap.set(xscale="log", yscale="log", xlim=(1, MAX_STEPS), ylim=(1e-9, 1e4), xlabel="step",
                   ylabel="loss − best loss", title="convergence")
        return {"path": path, "gap": gap, **{f"ellipse{i}": e for i, e in enumerate(ellipses)}}

    def update(artists, scale, lr, standardize):
        s = 1.0 if standardize else scale
        for i, level in enumerate(levels):  # ½(Δ1² + s²Δ2²) = level
            artists[f"ellipse{i}"].set_data(1 + np.sqrt(2 * level) * np.cos(t), 1 + np.sqrt(2 * level) / s * np.sin(t))
        full = descend(s, lr)
        shown = np.clip(full[:61], -50, 50)
        artists["path"].set_data(shown[:, 0], shown[:, 1])
        gaps = loss_gap(full, s)
        artists["gap"].set_data(np.arange(1, MAX_STEPS + 1), np.clip(gaps[1:], 1e-12, 1e6))
        return {"scale": s, "limit": 2 / s ** 2, "steps": steps_to_converge(s, lr)}

    def readout(result, lr, **values):
        steps = result["steps"]
        verdict = ("<b>diverges</b>" if steps < 0 else f"not converged after {MAX_STEPS} steps" if steps > MAX_STEPS
                   else f"converges in <b>{steps} steps</b>")
        return (f"features scaled 1 : {result['scale']:.3g} · stable only for lr < 2/s² = {result['limit']:.3g} · "
                f"lr {lr:.4f}: {verdict}")

    return Explorer(controls, setup, update, readout=readout, figsize=(10, 4.0))
