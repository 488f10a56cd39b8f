"""The search explorer of lesson 05: grid vs random search, on a log scale, coarse to fine.

The validation error of a model depends strongly on its learning rate and hardly on its weight decay
(a made-up but typical surface, in the logs of both). A grid of n points tries only √n distinct
learning rates; a random search of n points tries n of them.

>>> distinct_values(grid_points(16)[:, 0]), distinct_values(random_points(16, seed=0)[:, 0])
(4, 16)
>>> explorer = search_explorer()
>>> explorer.set(method="random", budget=36).result["distinct_lr"] > explorer.set(method="grid").result["distinct_lr"]
True
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .base import Explorer

LR_RANGE = (-5.0, 0.0)  # log10 of the learning rate
WD_RANGE = (-6.0, -1.0)  # log10 of the weight decay
BUDGETS = np.arange(4, 65)
SEEDS = 30


def validation_error(log_lr: np.ndarray, log_wd: np.ndarray) -> np.ndarray:
    """The surface: a narrow valley in the learning rate (best near 10^-2.3), nearly flat in weight decay."""
    return np.minimum(0.08 + 1.0 * (log_lr + 2.3) ** 2 + 0.004 * (log_wd + 3.5) ** 2, 0.9)


def grid_points(budget: int, box=(LR_RANGE, WD_RANGE)) -> np.ndarray:
    """The largest square grid within the budget: side ⌊√budget⌋, cell centres of the box."""
    side = max(int(np.sqrt(budget)), 1)
    (x0, x1), (z0, z1) = box
    xs = x0 + (np.arange(side) + 0.5) * (x1 - x0) / side
    zs = z0 + (np.arange(side) + 0.5) * (z1 - z0) / side
    return np.array([(x, z) for x in xs for z in zs])


def random_points(budget: int, seed: int, box=(LR_RANGE, WD_RANGE)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    (x0, x1), (z0, z1) = box
    return np.column_stack([rng.uniform(x0, x1, budget), rng.uniform(z0, z1, budget)])


def distinct_values(values: np.ndarray) -> int:
    return int(np.unique(np.round(values, 9)).size)


def search(method: str, budget: int, seed: int = 0, coarse_to_fine: bool = False) -> dict:
    """The points a search tries and the best one; coarse to fine spends half the budget in a box of
    ±0.5 decade (learning rate) and ±1 decade (weight decay) around the coarse stage's best point."""
    def stage(n, box, s):
        return grid_points(n, box) if method == "grid" else random_points(n, s, box)

    if coarse_to_fine:
        coarse = stage(budget // 2, (LR_RANGE, WD_RANGE), seed)
        bx, bz = coarse[np.argmin(validation_error(*coarse.T))]
        box = ((max(bx - 0.5, LR_RANGE[0]), min(bx + 0.5, LR_RANGE[1])),
               (max(bz - 1.0, WD_RANGE[0]), min(bz + 1.0, WD_RANGE[1])))
        points = np.vstack([coarse, stage(budget - budget // 2, box, seed + 1000)])
    else:
        points = stage(budget, (LR_RANGE, WD_RANGE), seed)
    errors = validation_error(*points.T)
    best = int(np.argmin(errors))
    return {"points": points, "best": points[best], "best_error": float(errors[best]),
            "distinct_lr": distinct_values(points[:, 0])}


def best_error_curves() -> dict[str, np.ndarray]:
    """Mean best validation error against the budget, for each method (random: over SEEDS seeds)."""
    curves = {}
    for method in ("grid", "random"):
        for fine in (False, True):
            seeds = range(1) if method == "grid" else range(SEEDS)
            curves[(method, fine)] = np.array([np.mean([search(method, b, s, fine)["best_error"] for s in seeds])
                                               for b in BUDGETS])
    return curves


def search_explorer(method: str = "grid", budget: int = 16, coarse_to_fine: bool = False, seed: int = 0) -> Explorer:
    """Method, budget, coarse to fine and seed -> the points tried on the error surface, and what they find."""
    curves = best_error_curves()
    xs, zs = np.linspace(*LR_RANGE, 200), np.linspace(*WD_RANGE, 200)
    surface = validation_error(*np.meshgrid(xs, zs))
    controls = {
        "method": widgets.ToggleButtons(options=["grid", "random"], value=method, description="search"),
        "budget": widgets.IntSlider(value=budget, min=int(BUDGETS[0]), max=int(BUDGETS[-1]), description="budget"),
        "coarse_to_fine": widgets.Checkbox(value=coarse_to_fine, description="coarse to fine"),
        "seed": widgets.IntSlider(value=seed, min=0, max=9, description="seed"),
    }

    def setup(fig):
        fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.9, wspace=0.28)
        ax, ax_curve = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        ax.contourf(xs, zs, surface, levels=20, cmap="viridis_r")
        ax.set(xlim=LR_RANGE, ylim=WD_RANGE, xlabel="log10 learning rate (important)",
               ylabel="log10 weight decay (hardly matters)", title="validation error and the points tried")
        points = ax.scatter([], [], s=22, color="white", edgecolor="k", lw=0.6, zorder=3)
        rug = ax.scatter([], [], marker="|", s=160, color="tab:red", zorder=4, clip_on=False)
        best, = ax.plot([], [], "*", color="tab:red", ms=14, mec="k", zorder=5)
        styles = {("grid", False): ("tab:blue", "-"), ("random", False): ("tab:orange", "-"),
                  ("grid", True): ("tab:blue", ":"), ("random", True): ("tab:orange", ":")}
        for (name, fine), values in curves.items():
            color, ls = styles[(name, fine)]
            ax_curve.plot(BUDGETS, values, color=color, ls=ls,
                          label=f"{name}{', coarse to fine' if fine else ''}{' (mean of 30 seeds)' if name == 'random' else ''}")
        ax_curve.axhline(0.08, color="0.5", lw=1, ls="--", label="best possible")
        ax_curve.set(xlim=(BUDGETS[0], BUDGETS[-1]), ylim=(0.075, 0.3), xlabel="budget (models trained)",
                     ylabel="best validation error found", title="what each search finds")
        ax_curve.legend(fontsize=7.5)
        marker = ax_curve.axvline(budget, color="0.3", lw=1)
        return {"points": points, "rug": rug, "best": best, "marker": marker}

    def update(artists, method, budget, coarse_to_fine, seed):
        controls["seed"].disabled = method == "grid"  # a grid has no randomness
        found = search(method, budget, seed, coarse_to_fine)
        artists["points"].set_offsets(found["points"])
        artists["rug"].set_offsets(np.column_stack([found["points"][:, 0], np.full(len(found["points"]), WD_RANGE[0])]))
        artists["best"].set_data([found["best"][0]], [found["best"][1]])
        artists["marker"].set_xdata([budget, budget])
        return {"distinct_lr": found["distinct_lr"], "tried": len(found["points"]), "best_error": found["best_error"],
                "best_lr": float(10 ** found["best"][0])}

    def readout(result, **values):
        return (f"{result['tried']} models tried, <b>{result['distinct_lr']} distinct learning rates</b> (red ticks) · "
                f"best error {result['best_error']:.4f} at lr {result['best_lr']:.1e}")

    return Explorer(controls, setup, update, readout=readout, figsize=(10.5, 3.9))
