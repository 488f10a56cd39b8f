"""The regularization-strength explorer of lesson 07: a degree-d polynomial fitted to 20 noisy points with
an L2 (ridge) penalty λ·‖w‖²; λ moves the fit from memorizing the noise to ignoring the data.

>>> curves = strength_curves(degree=15)
>>> best = int(np.argmin(curves["val"]))
>>> bool(curves["train"][0] < curves["val"][0])  # weakest penalty: the training points are memorized
True
>>> 0 < best < len(LAMBDAS) - 1  # the best strength is in between
True
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .base import Explorer

LAMBDAS = np.logspace(-9, 2, 45)
NOISE = 0.3


def _features(x: np.ndarray, degree: int) -> np.ndarray:
    return np.polynomial.legendre.legvander(2 * x - 1, degree)


def _data(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x_train, x_val = np.sort(rng.uniform(0, 1, 20)), rng.uniform(0, 1, 300)
    truth = lambda x: np.sin(2 * np.pi * x)  # noqa: E731
    return {"x_train": x_train, "y_train": truth(x_train) + NOISE * rng.standard_normal(20),
            "x_val": x_val, "y_val": truth(x_val) + NOISE * rng.standard_normal(300)}


DATA = _data()


def ridge(x: np.ndarray, y: np.ndarray, degree: int, lam: float) -> np.ndarray:
    """Coefficients minimizing ‖Φw − y‖² + λ‖w‖² (the constant term is not penalized)."""
    phi = _features(x, degree)
    penalty = lam * np.eye(degree + 1)
    penalty[0, 0] = 0.0
    return np.linalg.solve(phi.T @ phi + penalty, phi.T @ y)


def rmse(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((_features(x, len(w) - 1) @ w - y) ** 2)))


def strength_curves(degree: int) -> dict[str, np.ndarray]:
    """Training and validation RMSE against λ."""
    fits = [ridge(DATA["x_train"], DATA["y_train"], degree, lam) for lam in LAMBDAS]
    return {"train": np.array([rmse(w, DATA["x_train"], DATA["y_train"]) for w in fits]),
            "val": np.array([rmse(w, DATA["x_val"], DATA["y_val"]) for w in fits])}


def strength_explorer(lam: float = 1e-6, degree: int = 15) -> Explorer:
    """L2 strength and polynomial degree -> the fitted curve, and training / validation error against λ."""
    grid = np.linspace(0, 1, 300)
    cache: dict[int, dict] = {}
    controls = {
        "lam": widgets.FloatLogSlider(value=lam, base=10, min=-9, max=2, step=0.25, description="λ (L2)",
                                      readout_format=".0e"),
        "degree": widgets.IntSlider(value=degree, min=1, max=15, description="degree"),
    }

    def setup(fig):
        fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.9, wspace=0.25)
        ax, ax_err = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        ax.plot(grid, np.sin(2 * np.pi * grid), color="0.6", lw=2, label="truth")
        ax.scatter(DATA["x_train"], DATA["y_train"], s=18, color="tab:blue", zorder=3, label="20 training points")
        fitted, = ax.plot([], [], color="tab:red", lw=1.6, label="fit")
        ax.set(xlim=(0, 1), ylim=(-2, 2), xlabel="x", ylabel="y", title="the fit")
        ax.legend(loc="lower left", fontsize=8)
        train, = ax_err.plot([], [], color="tab:blue", label="training")
        val, = ax_err.plot([], [], color="tab:orange", label="validation")
        ax_err.axhline(NOISE, color="0.5", ls="--", lw=1, label="noise level")
        marker = ax_err.axvline(lam, color="0.3", lw=1)
        ax_err.set(xscale="log", xlim=(LAMBDAS[0], LAMBDAS[-1]), ylim=(0, 1.0), xlabel="λ",
                   ylabel="RMSE", title="error against the penalty strength")
        ax_err.legend(loc="upper center", fontsize=8)
        return {"fitted": fitted, "train": train, "val": val, "marker": marker}

    def update(artists, lam, degree):
        if degree not in cache:
            cache[degree] = strength_curves(degree)
        curves = cache[degree]
        w = ridge(DATA["x_train"], DATA["y_train"], degree, lam)
        artists["fitted"].set_data(grid, np.clip(_features(grid, degree) @ w, -5, 5))
        artists["train"].set_data(LAMBDAS, np.minimum(curves["train"], 0.99))
        artists["val"].set_data(LAMBDAS, np.minimum(curves["val"], 0.99))
        artists["marker"].set_xdata([lam, lam])
        train, val = rmse(w, DATA["x_train"], DATA["y_train"]), rmse(w, DATA["x_val"], DATA["y_val"])
        return {"train": train, "val": val, "gap": val - train, "weight_norm": float(np.linalg.norm(w[1:]))}

    def readout(result, **values):
        return (f"training RMSE {result['train']:.3f} · validation RMSE {result['val']:.3f} · "
                f"<b>gap {result['gap']:.3f}</b> · ‖w‖ {result['weight_norm']:.1f}")

    return Explorer(controls, setup, update, readout=readout, figsize=(10.5, 3.8))
