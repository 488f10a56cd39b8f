"""Explorer for lesson 09: a trained PINN against the exact solution of the heat equation.

Controls: which model, and the time t. Left: u(x, t) of the model and of the exact solution at
that time. Right: log10 of the absolute error over the whole (t, x) domain (time left to right,
x top to bottom, as in the IDRIS figure), with the chosen time marked.

Everything is computed at build time: the explorer receives each model's predictions on the
grid, so an update only picks a row.

>>> import numpy as np
>>> from course_utils import heat
>>> x, t = heat.grid(41, 11)
>>> exact = heat.exact_on_grid(x, t)
>>> explorer = pinn_explorer(x, t, exact, {"exact + 1%": exact * 1.01})
>>> round(explorer.set(t=0.5).result["rel_l2_t"], 6)
0.01
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .base import Explorer

LOG_ERROR_RANGE = (-6.0, 0.0)  # colour scale of log10 |error|, the same for every model


def pinn_explorer(x: np.ndarray, t: np.ndarray, exact: np.ndarray, predictions: dict[str, np.ndarray]) -> Explorer:
    """Model and time -> u(x, t) against the exact solution, and the error map of the model.

    ``x`` (nx,) and ``t`` (nt,) are the grid; ``exact`` and every prediction have shape (nt, nx).
    """
    x, times, exact = np.asarray(x, float), np.asarray(t, float), np.asarray(exact, float)
    predictions = {name: np.asarray(u, float) for name, u in predictions.items()}
    for name, u in predictions.items():
        if u.shape != exact.shape:
            raise ValueError(f"prediction {name!r} has shape {u.shape}, the exact solution {exact.shape}")
    with np.errstate(divide="ignore"):
        log_errors = {name: np.log10(np.abs(u - exact)).clip(*LOG_ERROR_RANGE) for name, u in predictions.items()}
    def rel_l2(u, reference):  # ||u - reference|| / ||reference||, over every point given
        return float(np.linalg.norm(u - reference) / np.linalg.norm(reference))

    overall = {name: rel_l2(u, exact) for name, u in predictions.items()}
    dt = times[1] - times[0] if len(times) > 1 else 1.0
    low = min(exact.min(), *(u.min() for u in predictions.values()))
    high = max(exact.max(), *(u.max() for u in predictions.values()))
    margin = 0.05 * (high - low or 1.0)

    names = list(predictions)
    controls = {
        "model": widgets.Dropdown(options=names, value=names[-1], description="model"),
        "t": widgets.FloatSlider(value=float(times[len(times) // 2]), min=float(times[0]), max=float(times[-1]),
                                 step=float(dt),
                                 description="t", readout_format=".2f"),
    }

    def setup(fig):
        profile_ax, map_ax = fig.subplots(1, 2, width_ratios=[1, 1.25])
        fig.subplots_adjust(left=0.07, right=0.93, bottom=0.15, top=0.9, wspace=0.25)
        exact_line, = profile_ax.plot(x, exact[0], color="black", lw=2.5, alpha=0.35, label="exact")
        model_line, = profile_ax.plot(x, exact[0], color="tab:red", lw=1.2, label="PINN")
        profile_ax.set_xlim(x[0], x[-1])
        profile_ax.set_ylim(low - margin, high + margin)
        profile_ax.set_xlabel("x")
        profile_ax.set_ylabel("u(x, t)")
        profile_ax.legend(loc="upper right", fontsize=8)
        title = profile_ax.text(0.02, 0.95, "", transform=profile_ax.transAxes, fontsize=9, va="top")
        image = map_ax.imshow(log_errors[names[-1]].T, aspect="auto", origin="lower", cmap="viridis",
                              extent=(times[0] - dt / 2, times[-1] + dt / 2, x[0], x[-1]),
                              vmin=LOG_ERROR_RANGE[0], vmax=LOG_ERROR_RANGE[1], interpolation="nearest")
        fig.colorbar(image, ax=map_ax, label="log10 |error|", fraction=0.06, pad=0.02)
        marker = map_ax.axvline(times[0], color="white", lw=1.2, ls="--")
        map_ax.set_xlabel("t")
        map_ax.set_ylabel("x")
        map_ax.set_title("error of the model over the whole domain", fontsize=10)
        return {"profile_ax": profile_ax, "map_ax": map_ax, "exact_line": exact_line, "model_line": model_line,
                "image": image, "marker": marker, "title": title}

    def update(artists, model, t):
        index = int(np.clip(round((t - times[0]) / dt), 0, len(times) - 1))
        u, reference = predictions[model][index], exact[index]
        artists["exact_line"].set_ydata(reference)
        artists["model_line"].set_ydata(u)
        artists["image"].set_data(log_errors[model].T)
        artists["marker"].set_xdata([times[index], times[index]])
        artists["title"].set_text(f"t = {times[index]:.2f}")
        return {"t": float(times[index]), "index": index, "rel_l2_t": rel_l2(u, reference),
                "max_error_t": float(np.abs(u - reference).max()), "rel_l2": overall[model]}

    def readout(result, model, **_):
        return (f"{model} at t = {result['t']:.2f}: relative L2 error {result['rel_l2_t']:.2e}, "
                f"largest |error| {result['max_error_t']:.2e} · over the whole domain: "
                f"<b>relative L2 {result['rel_l2']:.2e}</b>")

    return Explorer(controls, setup, update, readout=readout, figsize=(10.0, 3.6))
