"""The run explorer of lesson 12: a broken run's curves and monitors next to a healthy run's.

The runs are trained before the explorer is built (a run takes a fraction of a second, a redraw
must take a fraction of that); the explorer only switches between what they recorded.

>>> from course_utils.clinic import broken_run, healthy_run
>>> explorer = run_explorer({"A": broken_run(23), "B": broken_run(9)}, healthy_run(0))
>>> explorer.set(run="B", monitor="weight norm").result["ratio_to_healthy"] > 10
True
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .base import Explorer

#: monitor name shown -> where the run keeps it
MONITORS = {"update ratio": ("monitors", "update_ratio"), "dead share": ("monitors", "dead_share"),
            "activation std": ("monitors", "activation_std"), "weight norm": ("monitors", "weight_norm"),
            "learning rate": ("history", "lr")}


def _series(run, monitor: str) -> np.ndarray:
    where, key = MONITORS[monitor]
    return np.asarray(getattr(run, where)[key], dtype=float)


def _positive(values: np.ndarray) -> np.ndarray:
    """Values for a log axis: non-positive or non-finite ones drawn at the bottom of the panel."""
    values = np.where(np.isfinite(values), values, np.nan)
    return np.where(values > 0, values, np.nan)


def run_explorer(runs: dict, healthy, run: str | None = None, monitor: str = "update ratio") -> Explorer:
    """Pick a run and a monitor: its losses and that monitor per epoch, the healthy run's in grey."""
    names = list(runs)
    controls = {
        "run": widgets.Dropdown(options=names, value=run or names[0], description="run"),
        "monitor": widgets.Dropdown(options=list(MONITORS), value=monitor, description="monitor"),
    }

    def setup(fig):
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.88, wspace=0.3)
        ax_loss, ax_monitor = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        epochs = np.arange(1, len(healthy.history["train_loss"]) + 1)
        ax_loss.plot(epochs, healthy.history["train_loss"], color="0.6", ls="--", marker="s", ms=3,
                     label="healthy run (train)")
        train, = ax_loss.plot([], [], color="tab:red", marker="o", ms=4, label="this run (train)")
        ax_loss.set(yscale="log", xlabel="epoch", ylabel="training loss", title="training loss per epoch")
        ax_loss.legend(fontsize=7.5, loc="upper right")
        reference, = ax_monitor.plot([], [], color="0.6", ls="--", marker="s", ms=3, label="healthy run")
        shown, = ax_monitor.plot([], [], color="tab:red", marker="o", ms=4, label="this run")
        ax_monitor.set(yscale="log", xlabel="epoch", title="monitor per epoch")
        ax_monitor.legend(fontsize=7.5, loc="upper right")
        return {"train": train, "reference": reference, "shown": shown, "loss": ax_loss, "monitor": ax_monitor}

    def update(artists, run, monitor):
        chosen = runs[run]
        loss = _positive(np.asarray(chosen.history["train_loss"], dtype=float))
        artists["train"].set_data(np.arange(1, len(loss) + 1), loss)
        share = monitor == "dead share"  # a share, 0 when healthy: a linear axis
        clean = (lambda v: v) if share else _positive
        mine, theirs = clean(_series(chosen, monitor)), clean(_series(healthy, monitor))
        artists["shown"].set_data(np.arange(1, len(mine) + 1), mine)
        artists["reference"].set_data(np.arange(1, len(theirs) + 1), theirs)
        artists["monitor"].set_yscale("linear" if share else "log")
        for ax, series in ((artists["loss"], [loss, healthy.history["train_loss"]]), (artists["monitor"], [mine, theirs])):
            values = np.concatenate([np.asarray(s, dtype=float) for s in series])
            values = values[np.isfinite(values) & (values > 0)]
            low, high = (values.min(), values.max()) if values.size else (1e-3, 1.0)
            ax.set_xlim(0.5, max(len(loss), len(theirs)) + 0.5)
            if ax is artists["monitor"] and share:
                ax.set_ylim(-0.05, 1.05)
            else:
                ax.set_ylim(low / 2, high * 2)
        artists["monitor"].set_ylabel(monitor)
        last, first = np.nanmean(mine[-1:]) if mine.size else np.nan, np.nanmean(theirs[-1:])
        return {"last_line": chosen.log[-1], "monitor_last": float(last), "healthy_last": float(first),
                "ratio_to_healthy": float(last / first) if first else float("nan")}

    def readout(result, run, monitor):
        return (f"run {run}: <i>{result['last_line']}</i> · last {monitor} {result['monitor_last']:.3g} "
                f"(healthy run: {result['healthy_last']:.3g})")

    return Explorer(controls, setup, update, readout=readout, figsize=(10.5, 3.6))
