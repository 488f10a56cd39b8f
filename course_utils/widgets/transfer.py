"""Explorer for lesson 10: learning curves of the transfer strategies against the target data size.

The lesson measures every strategy's test accuracy for several numbers of target samples per class
(a few repeats each) and hands the table to :func:`transfer_explorer`; moving a control only indexes it.

>>> results = {"n_per_class": [1, 10], "accuracy": {"scratch": [[0.2, 0.3], [0.5, 0.6]],
...                                                   "fine-tune": [[0.4, 0.4], [0.7, 0.8]]}}
>>> explorer = transfer_explorer(results)
>>> explorer.set(n_per_class=10, strategy="fine-tune").result["accuracy"]
0.75
>>> round(explorer.result["gain_over_scratch"], 3), explorer.result["best"]
(0.2, 'fine-tune')
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

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
        lines = {}
        for color, name in zip(COLORS, names):
            lines[name], = ax.semilogx(ns, means[name], "o-", color=color, lw=1.2, alpha=0.35, label=name)
        repeats, = ax.semilogx([], [], "k.", ms=7, label="single runs")
        marker, = ax.semilogx([], [], "o", ms=14, mfc="none", mec="black", mew=2)
        cursor = ax.axvline(ns[0], color="black", lw=0.8, ls=":")
        ax.set_xlim(min(ns) / 1.3, max(ns) * 1.3)
        low = min(float(acc.min()) for acc in table.values())
        ax.set_ylim(max(0.0, low - 0.05), 1.0)
        ax.set_xticks(ns)
        ax.set_xticklabels([str(n) for n in ns])
        ax.set_xlabel("target samples per class (log scale)")
        ax.set_ylabel("test accuracy")
        ax.set_title("learning curves of the strategies", fontsize=10)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
        ax.grid(alpha=0.3)
        return {"lines": lines, "repeats": repeats, "marker": marker, "cursor": cursor}

    def update(artists, n_per_class, strategy):
        i = ns.index(int(n_per_class))
        for name, line in artists["lines"].items():
            line.set_alpha(1.0 if name == strategy else 0.3)
            line.set_linewidth(2.5 if name == strategy else 1.0)
        runs = table[strategy][i]
        artists["repeats"].set_data(np.full(len(runs), ns[i]), runs)
        artists["marker"].set_data([ns[i]], [means[strategy][i]])
        artists["cursor"].set_xdata([ns[i], ns[i]])
        at_n = {name: float(means[name][i]) for name in names}
        return {"accuracy": at_n[strategy], "runs": [float(r) for r in runs],
                "gain_over_scratch": at_n[strategy] - at_n[reference],
                "best": max(at_n, key=at_n.get), "all": at_n}

    def readout(result, n_per_class, strategy):
        return (f"{strategy} with {n_per_class} per class: accuracy {result['accuracy']:.3f} "
                f"({result['gain_over_scratch']:+.3f} vs scratch) · best here: <b>{result['best']}</b>")

    return Explorer(controls, setup, update, readout=readout)
