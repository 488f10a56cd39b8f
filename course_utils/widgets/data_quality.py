"""Explorer for lesson 01: the near-duplicate threshold and the test score it corrects.

A small "scraped" dataset (600 digits plus exact and re-scanned copies, as in
the lesson) is split at random; a network is trained once on the training
part. For every test image the distance to its nearest training image is
precomputed. The threshold flags the test images closer than it as leaked;
the explorer shows the accuracy measured on the test images that remain, next
to the accuracy on the truly unseen ones, and how many flags are right.

>>> explorer = duplicate_explorer()
>>> explorer.set(threshold=0.0).result["flagged"] < explorer.set(threshold=0.4).result["flagged"]
True
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .base import Explorer

MAX_THRESHOLD = 1.5
GRID = np.linspace(0.0, MAX_THRESHOLD, 151)


def scraped_digits(n_originals: int = 600, exact: float = 0.10, near: float = 0.40, seed: int = 0):
    """Lesson 01's scraped dataset: ``(X, y, source)``, ``source[i]`` = the original digit row ``i`` shows."""
    from course_utils.data import duplicate_samples, load_digits, set_seed

    X, y = load_digits()
    rng = set_seed(seed)
    originals = rng.permutation(len(X))[:n_originals]
    X0, y0 = X[originals], y[originals]
    X_exact, y_exact, src_exact = duplicate_samples(X0, y0, exact, seed=1)
    X_near, y_near, src_near = duplicate_samples(X0, y0, near, noise=0.03, seed=2)
    return (np.concatenate([X0, X_exact, X_near]), np.concatenate([y0, y_exact, y_near]),
            np.concatenate([np.arange(n_originals), src_exact, src_near]))


def _rates(nearest: np.ndarray, leaked: np.ndarray, correct: np.ndarray, threshold: float) -> dict:
    """What flagging every test image within ``threshold`` of the training set gives."""
    flagged = nearest <= threshold
    kept = ~flagged
    caught = int(np.sum(flagged & leaked))
    return {
        "flagged": int(flagged.sum()),
        "caught": caught,
        "false_alarms": int(np.sum(flagged & ~leaked)),
        "missed": int(np.sum(~flagged & leaked)),
        "precision": caught / flagged.sum() if flagged.any() else float("nan"),
        "recall": caught / leaked.sum() if leaked.any() else float("nan"),
        "accuracy_kept": float(correct[kept].mean()) if kept.any() else float("nan"),
    }


def duplicate_explorer(split_seed: int = 10, epochs: int = 60) -> Explorer:
    """Threshold -> test images flagged as near duplicates of training images, and the accuracy left."""
    import torch
    from scipy.spatial.distance import cdist, pdist

    from course_utils.data import set_seed
    from course_utils.train import fit, mlp, torch_threads

    X, y, source = scraped_digits()
    order = np.random.default_rng(split_seed).permutation(len(X))
    n_train = int(round(0.7 * len(X)))
    train, test = order[:n_train], order[n_train:]
    leaked = np.isin(source[test], source[train])

    with torch_threads(1):  # a network this small trains faster on one thread
        set_seed(0)
        model = mlp([64, 64, 10], "relu")  # the lesson's network and training (its seed 0)
        fit(model, X[train], y[train], epochs=epochs, lr=0.1, momentum=0.9)
        with torch.no_grad():
            correct = model(torch.as_tensor(X[test])).argmax(dim=1).numpy() == y[test]

    nearest = cdist(X[test], X[train]).min(axis=1)
    train_pairs = np.sort(pdist(X[train]))
    curves = [_rates(nearest, leaked, correct, t) for t in GRID]
    accuracy_all = float(correct.mean())
    accuracy_unseen = float(correct[~leaked].mean())
    bins = np.linspace(0.0, MAX_THRESHOLD, 61)
    shown = np.minimum(nearest, MAX_THRESHOLD - 1e-9)

    controls = {"threshold": widgets.FloatSlider(value=0.3, min=0.0, max=MAX_THRESHOLD, step=0.01,
                                                 description="threshold", readout_format=".2f")}

    def setup(fig):
        ax_hist, ax_acc, ax_flags = fig.subplots(1, 3, width_ratios=[1.2, 1, 1])
        fig.subplots_adjust(left=0.06, right=0.98, bottom=0.2, top=0.9, wspace=0.3)
        ax_hist.hist([shown[leaked], shown[~leaked]], bins=bins, stacked=True, color=["tab:orange", "tab:blue"],
                     label=["has a copy in train", "unseen"])
        ax_hist.set(xlabel="distance to the nearest training image\n(last bin: beyond)", ylabel="test images",
                    xlim=(0, MAX_THRESHOLD))
        ax_hist.set_title("test images", fontsize=10)
        ax_hist.legend(fontsize=8, loc="upper right")
        line_hist = ax_hist.axvline(0.3, color="k", lw=1.5)

        ax_acc.plot(GRID, [c["accuracy_kept"] for c in curves], color="tab:green", label="test images kept")
        ax_acc.axhline(accuracy_unseen, color="grey", ls="--", lw=1, label="truly unseen images")
        ax_acc.set(xlabel="threshold", ylabel="measured accuracy", xlim=(0, MAX_THRESHOLD), ylim=(0.75, 1.005))
        ax_acc.set_title("accuracy on the test images kept", fontsize=10)
        ax_acc.legend(fontsize=8, loc="lower left")
        marker_acc, = ax_acc.plot([0.3], [accuracy_all], "o", color="tab:green")

        ax_flags.plot(GRID, [c["caught"] for c in curves], color="tab:orange", label="leaked, flagged")
        ax_flags.plot(GRID, [c["false_alarms"] for c in curves], color="tab:blue", label="unseen, flagged")
        ax_flags.set(xlabel="threshold", ylabel="test images", xlim=(0, MAX_THRESHOLD), ylim=(0, len(test) + 5))
        ax_flags.set_title("flags", fontsize=10)
        ax_flags.legend(fontsize=8, loc="upper left")
        marker_caught, = ax_flags.plot([0.3], [0], "o", color="tab:orange")
        marker_false, = ax_flags.plot([0.3], [0], "o", color="tab:blue")
        return {"line_hist": line_hist, "marker_acc": marker_acc, "marker_caught": marker_caught,
                "marker_false": marker_false}

    def update(artists, threshold):
        rates = _rates(nearest, leaked, correct, threshold)
        artists["line_hist"].set_xdata([threshold, threshold])
        shown_accuracy = rates["accuracy_kept"] if np.isfinite(rates["accuracy_kept"]) else np.nan
        artists["marker_acc"].set_data([threshold], [shown_accuracy])
        artists["marker_caught"].set_data([threshold], [rates["caught"]])
        artists["marker_false"].set_data([threshold], [rates["false_alarms"]])
        return {**rates, "threshold": threshold, "test_images": len(test), "leaked": int(leaked.sum()),
                "accuracy_all": accuracy_all, "accuracy_unseen": accuracy_unseen,
                "train_pairs": int(np.searchsorted(train_pairs, threshold, side="right"))}

    def readout(result, threshold):
        kept = result["test_images"] - result["flagged"]
        accuracy = f"{result['accuracy_kept']:.3f}" if kept else "undefined (nothing left)"
        return (f"flagged {result['flagged']} of {result['test_images']} test images: "
                f"{result['caught']} of the {result['leaked']} leaked ones, {result['false_alarms']} unseen ones · "
                f"accuracy on the {kept} kept: <b>{accuracy}</b> (all test images {result['accuracy_all']:.3f}, "
                f"truly unseen {result['accuracy_unseen']:.3f}) · "
                f"{result['train_pairs']} pairs inside the training set within the threshold")

    return Explorer(controls, setup, update, readout=readout)
