"""Explorer for lesson 10: learning curves of the transfer strategies against the target data size.

The lesson measures every strategy's test accuracy for several numbers of target samples per class
(a few repeats each, the same draws for every strategy) and hands the table to
:func:`transfer_explorer`; moving a control only indexes it. Every number the explorer reads out
carries its uncertainty: the strategy's 95 % interval over the repeats (drawn as a band), its gain
over scratch and the best strategy's lead, each paired over the repeats and said to be resolved or not.

>>> results = {"n_per_class": [1, 10], "accuracy": {"scratch": [[0.2, 0.3], [0.5, 0.6]],
...                                                   "fine-tune": [[0.4, 0.4], [0.7, 0.75]]}}
>>> explorer = transfer_explorer(results)
>>> explorer.set(n_per_class=10, strategy="fine-tune").result["accuracy"]
0.725
>>> round(explorer.result["gain_over_scratch"], 3), explorer.result["best"]
(0.175, 'fine-tune')
>>> explorer.result["gain_resolved"], explorer.result["best_resolved"]  # two repeats: too few to tell
(False, False)
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from ..stats import mean_interval
from .base import Explorer

COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]  # the lesson's colours


def transfer_explorer(results: dict) -> Explorer:
    """Samples per class and strategy -> the strategy's accuracy curve, highlighted among all of them.

    ``results = {"n_per_class": [n1, n2, ...], "accuracy": {strategy: array (len(n), repeats)}}``;
    a strategy named ``"scratch"`` is the reference of the readout's gain.
    """
    ns = [int(n) for n in results["n_per_class"]]
    table = {name: np.asarray(acc, dtype=float) for name, acc in results["accuracy"].items()}
    names = list(table)
    means = {name: acc.mean(axis=1) for name, acc in table.items()}
    reference = "scratch" if "scratch" in table else names[0]

    controls = {
        "n_per_class": widgets.SelectionSlider(options=ns, value=ns[len(ns) // 2], description="per class"),
        "strategy": widgets.Dropdown(options=names, value=names[-1], description="strategy"),
    }

    def setup(fig):
        ax = fig.subplots()
        fig.subplots_adjust(left=0.09, right=0.72, bottom=0.14, top=0.9)
        for color, name in zip(COLORS, names):  # every curve, faint: part of the kept background
            ax.semilogx(ns, means[name], "o-", color=color, lw=1.0, alpha=0.3, label=name)
        highlight, = ax.semilogx([], [], "o-", lw=2.5)  # the chosen strategy's curve, drawn over them
        band_low, = ax.semilogx([], [], "k--", lw=0.8, label="95% interval")
        band_high, = ax.semilogx([], [], "k--", lw=0.8)
        repeats, = ax.semilogx([], [], "k.", ms=7, label="single draws")
        marker, = ax.semilogx([], [], "o", ms=14, mfc="none", mec="black", mew=2)
        cursor = ax.axvline(ns[0], color="black", lw=0.8, ls=":")
        ax.set_xlim(min(ns) / 1.3, max(ns) * 1.3)
        low = min(float(acc.min()) for acc in table.values())
        ax.set_ylim(max(0.0, low - 0.05), 1.0)
        ax.set_xticks(ns)
        ax.set_xticklabels([str(n) for n in ns])
        ax.minorticks_off()  # no 3x10^0-style labels between the sizes
        ax.set_xlabel("target samples per class (log scale)")
        ax.set_ylabel("test accuracy")
        ax.set_title("learning curves of the strategies", fontsize=10)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
        ax.grid(alpha=0.3)
        return {"highlight": highlight, "repeats": repeats, "marker": marker, "cursor": cursor,
                "band_low": band_low, "band_high": band_high}

    def update(artists, n_per_class, strategy):
        i = ns.index(int(n_per_class))
        artists["highlight"].set_data(ns, means[strategy])
        artists["highlight"].set_color(COLORS[names.index(strategy) % len(COLORS)])
        runs = table[strategy][i]
        artists["repeats"].set_data(np.full(len(runs), ns[i]), runs)
        artists["marker"].set_data([ns[i]], [means[strategy][i]])
        artists["cursor"].set_xdata([ns[i], ns[i]])
        curve = [mean_interval(row) for row in table[strategy]]
        artists["band_low"].set_data(ns, [e.low for e in curve])
        artists["band_high"].set_data(ns, [e.high for e in curve])
        at_n = {name: float(means[name][i]) for name in names}
        ranked = sorted(at_n, key=at_n.get, reverse=True)
        gain = mean_interval(runs - table[reference][i])  # paired over the draws
        lead = mean_interval(table[ranked[0]][i] - table[ranked[1]][i]) if len(ranked) > 1 else None
        return {"accuracy": at_n[strategy], "runs": [float(r) for r in runs], "interval": curve[i].half_width,
                "gain_over_scratch": at_n[strategy] - at_n[reference], "gain_resolved": gain.excludes(0.0),
                "best": ranked[0], "runner_up": ranked[1] if lead else None,
                "best_resolved": bool(lead and lead.excludes(0.0)), "all": at_n}

    def readout(result, n_per_class, strategy):
        said = {True: "resolved", False: "not resolved"}
        best = f"best here: <b>{result['best']}</b>"
        if result["runner_up"]:
            best += f" ({said[result['best_resolved']]} against {result['runner_up']})"
        return (f"{strategy} with {n_per_class} per class: accuracy {result['accuracy']:.3f} "
                f"± {result['interval']:.3f} ({len(result['runs'])} draws); "
                f"{result['gain_over_scratch']:+.3f} vs {reference}, {said[result['gain_resolved']]} · {best}")

    return Explorer(controls, setup, update, readout=readout)
