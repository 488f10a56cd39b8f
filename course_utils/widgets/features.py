"""Explorer for lesson 11: the hidden-layer features of a network, epoch by epoch.

:func:`train_with_snapshots` trains a small MLP exactly as the shared loop
:func:`course_utils.train.fit` does, and keeps after every epoch the features of
every hidden layer for the images to show, and the accuracy on held-out images.
:func:`feature_explorer` turns one or more such runs (a clean one, a poisoned
one...) into an explorer. Controls: the epoch, the run, the layer (when the runs
give several), and the view: all images, or only the images labelled as the
target class (in their own PCA basis: what a spectral-signature detector looks
at). Left, the features projected on their two principal components (each epoch
in its own basis, signs aligned with the previous epoch, scaled to unit spread
along the first component), coloured by the label the network was trained with,
the marked points (the poisoned ones) drawn as black crosses. Right, epoch by
epoch: the held-out accuracy, the silhouette score of the classes in the chosen
layer (on a fixed subset of at most 500 images), and, for a run with marked
images, the recall of a spectral-signature detection in the target class.
Everything is computed when the explorer is built; a control change only swaps
precomputed arrays.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> labels = np.arange(40) % 4
>>> snapshots = np.stack([rng.normal(size=(40, 6)) + k * np.eye(6)[labels] for k in range(3)])
>>> explorer = feature_explorer({"demo": {"features": snapshots, "labels": labels, "accuracy": [0.2, 0.6, 0.9]}})
>>> explorer.set(epoch=2).result["accuracy"]
0.9
>>> explorer.result["silhouette"] > explorer.set(epoch=0).result["silhouette"]
True
"""

from __future__ import annotations

from typing import Sequence

import ipywidgets as widgets
import numpy as np

from .base import Explorer, limited_threads

SILHOUETTE_POINTS = 500  # the explorer's silhouettes use this many points (a fixed random subset)
LIMIT = 3.0  # the scatter shows [-LIMIT, LIMIT]^2 in units of the spread along the first component
COLORS = np.array([(0.12, 0.47, 0.71), (1.0, 0.5, 0.05), (0.17, 0.63, 0.17), (0.84, 0.15, 0.16),
                   (0.58, 0.4, 0.74), (0.55, 0.34, 0.29), (0.89, 0.47, 0.76), (0.5, 0.5, 0.5),
                   (0.74, 0.74, 0.13), (0.09, 0.75, 0.81)])  # matplotlib's tab10


def penultimate(model, X) -> np.ndarray:
    """The input of the last layer of an ``nn.Sequential`` for every row of ``X``, in evaluation mode."""
    import torch

    was_training = model.training
    model.eval()
    with torch.no_grad():
        features = model[:-1](torch.as_tensor(np.asarray(X, dtype=np.float32))).numpy()
    model.train(was_training)
    return features


def hidden_layers(model, X) -> list[np.ndarray]:
    """The output of every hidden activation of an MLP built by :func:`course_utils.train.mlp` (the
    input of each Linear layer but the first), in evaluation mode; the last one is the penultimate layer."""
    import torch
    from torch import nn

    was_training = model.training
    model.eval()
    outputs = []
    with torch.no_grad():
        h = torch.as_tensor(np.asarray(X, dtype=np.float32))
        for index, layer in enumerate(model):
            if isinstance(layer, nn.Linear) and index > 0:
                outputs.append(h.numpy().copy())
            h = layer(h)
    model.train(was_training)
    return outputs


def train_with_snapshots(X_train, y_train, X_show, X_eval, y_eval, *, sizes: Sequence[int] = (64, 128, 64, 10),
                         epochs: int = 20, lr: float = 0.05, momentum: float = 0.9, batch_size: int = 32,
                         seed: int = 0, progress: bool | str = False):
    """Train ``mlp(sizes)`` exactly as ``set_seed(seed)``, ``mlp(sizes)`` and :func:`course_utils.train.fit`
    with SGD (``lr``, ``momentum``) would: same initialization, same batches, same weights at the end.

    Returns ``(model, run)``: ``run["features"]`` has shape ``(epochs + 1, len(X_show), width)``, the
    penultimate features of ``X_show`` before training and after each epoch; ``run["layers"]`` is the list
    of such arrays for every hidden layer (``run["layers"][-1]`` is ``run["features"]``); ``run["accuracy"]``
    the accuracy on ``(X_eval, y_eval)`` at the same moments. ``progress=True`` (or a label) shows a bar over
    the epochs (:func:`course_utils.train.progress_bar`).
    """
    import torch
    from torch import nn

    from course_utils.data import set_seed, to_tensors
    from course_utils.train import evaluate, mlp, progress_bar, train_epoch

    set_seed(seed)
    model = mlp(list(sizes))
    X, y = to_tensors(X_train, y_train)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)  # the batches of fit(..., seed=seed)
    snapshots, accuracy = [hidden_layers(model, X_show)], [evaluate(model, X_eval, y_eval)["accuracy"]]
    for _ in progress_bar(range(epochs), progress, unit="epoch"):
        train_epoch(model, X, y, optimizer, loss_fn, batch_size, generator)
        snapshots.append(hidden_layers(model, X_show))
        accuracy.append(evaluate(model, X_eval, y_eval)["accuracy"])
    layers = [np.stack([snapshot[k] for snapshot in snapshots]) for k in range(len(snapshots[0]))]
    return model, {"features": layers[-1], "layers": layers, "accuracy": np.array(accuracy)}


def pca_2d(features: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """``features`` (n, d) projected on their first two principal components, divided by the spread
    along the first; each axis flipped if that makes it agree better with ``reference`` (n, 2)."""
    centred = features - features.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    coords = centred @ vt[:2].T
    if coords.shape[1] < 2:
        coords = np.column_stack([coords, np.zeros(len(coords))])
    spread = coords[:, 0].std()
    coords = coords / spread if spread > 0 else coords
    if reference is not None:
        signs = np.where((coords * reference).sum(axis=0) < 0, -1.0, 1.0)
        coords = coords * signs
    return coords


def silhouette(features: np.ndarray, labels: np.ndarray, max_points: int | None = None) -> float:
    """Silhouette score of the classes in feature space (-1 .. 1; near 0: no clusters), on at most
    ``max_points`` points chosen at random (seeded) when given."""
    from sklearn.metrics import silhouette_score

    labels = np.asarray(labels)
    if np.ptp(features) == 0 or len(np.unique(labels)) < 2:
        return 0.0
    if max_points is not None and len(labels) > max_points:
        rows = np.random.default_rng(0).choice(len(labels), max_points, replace=False)
        features, labels = features[rows], labels[rows]
    return float(silhouette_score(features, labels))


def spectral_recall(features: np.ndarray, marked: np.ndarray, factor: float = 1.5) -> float:
    """Spectral-signature detection in ``features`` (the images of one class): flag the ``factor`` x
    ``marked.sum()`` largest squared projections on the top singular direction of the centred features;
    return the fraction of the marked images flagged."""
    centred = features - features.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    scores = (centred @ vt[0]) ** 2
    flagged = np.argsort(scores)[::-1][:int(factor * marked.sum())]
    return float(marked[flagged].sum() / marked.sum())


def _trajectory(snapshots) -> np.ndarray:
    """2-D coordinates of every snapshot, each in its own PCA basis, signs aligned epoch to epoch."""
    coords, previous = [], None
    for snapshot in snapshots:
        previous = pca_2d(snapshot, previous)
        coords.append(np.clip(previous, -LIMIT, LIMIT))
    return np.stack(coords)


def _prepare(run: dict) -> dict:
    """Everything the explorer shows for one run, per layer: 2-D coordinates of all images and of the
    images labelled as the target class, silhouettes, spectral recalls."""
    layers = run["features"] if isinstance(run["features"], dict) else {"penultimate": run["features"]}
    labels = np.asarray(run["labels"])
    marked = np.zeros(len(labels), bool) if run.get("marked") is None else np.asarray(run["marked"], bool)
    target = int(run.get("target", 0))
    in_target = labels == target
    prepared = {"colors": COLORS[labels % len(COLORS)], "marked": marked, "target": target, "in_target": in_target,
                "accuracy": np.asarray(run["accuracy"], dtype=float), "layers": {}}
    for name, snapshots in layers.items():
        snapshots = np.asarray(snapshots, dtype=np.float64)
        prepared["layers"][name] = {
            "all images": _trajectory(snapshots),
            "target class only": _trajectory(snapshots[:, in_target]),
            "silhouette": np.array([silhouette(snapshot, labels, SILHOUETTE_POINTS) for snapshot in snapshots]),
            "recall": np.array([spectral_recall(snapshot[in_target], marked[in_target]) if marked.any() else np.nan
                                for snapshot in snapshots]),
        }
    return prepared


def feature_explorer(runs: dict[str, dict]) -> Explorer:
    """Epoch, run, layer and view -> the features in 2-D, and the accuracy, silhouette and detection curves.

    ``runs`` maps a name to ``{"features": (epochs + 1, n, d) array, or {layer name: such an array},
    "labels": (n,), "accuracy": (epochs + 1,), "marked": optional boolean (n,), "target": the class the
    marked images were relabelled to (default 0)}`` (see :func:`train_with_snapshots`). Every run must
    have the same layer names. The view "target class only" shows the images labelled as the target,
    in their own PCA basis: where a spectral signature looks.
    """
    with limited_threads(1):  # many small SVDs: one BLAS thread is faster, and much faster on a busy machine
        prepared = {name: _prepare(run) for name, run in runs.items()}
    first = next(iter(prepared.values()))
    layer_names = list(first["layers"])
    n_epochs = len(first["accuracy"]) - 1
    any_marked = any(run["marked"].any() for run in prepared.values())

    controls = {"epoch": widgets.IntSlider(value=n_epochs, min=0, max=n_epochs, description="epoch"),
                "run": widgets.ToggleButtons(options=list(prepared), description="training set")}
    if len(layer_names) > 1:
        controls["layer"] = widgets.ToggleButtons(options=layer_names, value=layer_names[-1], description="layer")
    controls["view"] = widgets.ToggleButtons(options=["all images", "target class only"], description="show")

    def setup(fig):
        ax_scatter, ax_curves = fig.subplots(1, 2, width_ratios=[1.15, 1])
        fig.subplots_adjust(left=0.05, right=0.98, bottom=0.15, top=0.9, wspace=0.3)
        ax_scatter.set(xlim=(-LIMIT, LIMIT), ylim=(-LIMIT, LIMIT), xticks=[], yticks=[],
                       xlabel="principal component 1", ylabel="principal component 2")
        for digit in range(10):
            ax_scatter.plot([], [], "o", ms=5, color=COLORS[digit], label=str(digit))
        ax_scatter.plot([], [], "x", color="k", label="marked")
        ax_scatter.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), handletextpad=0.1,
                          borderaxespad=0.2, frameon=False)
        title = ax_scatter.text(0.5, 1.03, "", transform=ax_scatter.transAxes, ha="center", fontsize=10)
        points = ax_scatter.scatter(np.zeros(0), np.zeros(0), s=7, linewidths=0)
        crosses = ax_scatter.scatter(np.zeros(0), np.zeros(0), s=22, marker="x", c="k", linewidths=0.9)

        epochs = np.arange(n_epochs + 1)
        ax_curves.set(xlim=(0, n_epochs), ylim=(-0.1, 1.02), xlabel="epoch")
        ax_curves.set_title("held-out accuracy, silhouette" + (", detection" if any_marked else ""), fontsize=10)
        ax_curves.axhline(0.0, color="grey", lw=0.6)
        accuracy_line, = ax_curves.plot(epochs, first["accuracy"], color="tab:green", label="held-out accuracy")
        silhouette_line, = ax_curves.plot(epochs, np.zeros_like(epochs, dtype=float), "--", color="tab:purple",
                                          label="silhouette of the classes")
        recall_line, = ax_curves.plot(epochs, np.full(len(epochs), np.nan), ":", color="k", lw=1.5,
                                      label="spectral recall (target class)" if any_marked else None)
        ax_curves.legend(fontsize=8, loc="lower right")
        accuracy_marker, = ax_curves.plot([n_epochs], [first["accuracy"][-1]], "o", color="tab:green")
        silhouette_marker, = ax_curves.plot([n_epochs], [0.0], "o", color="tab:purple")
        recall_marker, = ax_curves.plot([n_epochs], [np.nan], "o", color="k")
        return {"title": title, "points": points, "crosses": crosses, "accuracy_line": accuracy_line,
                "silhouette_line": silhouette_line, "recall_line": recall_line,
                "accuracy_marker": accuracy_marker, "silhouette_marker": silhouette_marker,
                "recall_marker": recall_marker}

    def update(artists, epoch, run, view, layer=None):
        data = prepared[run]
        layer = layer or layer_names[-1]
        curves = data["layers"][layer]
        coords = curves[view][epoch]
        rows = data["in_target"] if view == "target class only" else np.ones(len(data["colors"]), bool)
        marked = data["marked"][rows]
        artists["points"].set_offsets(coords)
        artists["points"].set_facecolor(data["colors"][rows])
        artists["crosses"].set_offsets(coords[marked] if marked.any() else np.zeros((0, 2)))
        shown = f"images labelled {data['target']}" if view == "target class only" else "all training images"
        artists["title"].set_text(f"{layer} features, {shown}")
        artists["accuracy_line"].set_ydata(data["accuracy"])
        artists["silhouette_line"].set_ydata(curves["silhouette"])
        artists["recall_line"].set_ydata(curves["recall"])
        artists["accuracy_marker"].set_data([epoch], [data["accuracy"][epoch]])
        artists["silhouette_marker"].set_data([epoch], [curves["silhouette"][epoch]])
        artists["recall_marker"].set_data([epoch], [curves["recall"][epoch]])
        return {"epoch": int(epoch), "run": run, "layer": layer, "view": view,
                "accuracy": float(data["accuracy"][epoch]), "silhouette": float(curves["silhouette"][epoch]),
                "recall": float(curves["recall"][epoch]), "points": int(len(coords)), "marked": int(marked.sum())}

    def readout(result, epoch, run, view, layer=None):
        text = (f"{run}, epoch {epoch}: held-out accuracy <b>{result['accuracy']:.3f}</b>, silhouette of the "
                f"classes in the {result['layer']} features <b>{result['silhouette']:.2f}</b> · "
                f"{result['points']} images shown")
        if result["marked"]:
            text += (f", {result['marked']} marked (crosses) · spectral signature in the target class finds "
                     f"<b>{result['recall']:.0%}</b> of the marked images")
        return text

    return Explorer(controls, setup, update, readout=readout, figsize=(9.5, 4.0))
