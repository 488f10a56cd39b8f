"""Explorer for lesson 03: how initialization shapes the activations and the gradients, layer by layer.

Controls: depth, activation, scheme (a Gaussian of a chosen std, Xavier or He)
and the std. Left: the distribution of each layer's activations (one row per
layer, values beyond +-2 piled in the edge bins). Right, on a log scale: each
layer's activation std, and each layer's weight-gradient norm relative to the
last layer's (a random error signal backpropagated from the last layer).

The diagnosis uses the three measurements of lesson 03 (:func:`diagnose`): the
share of saturated units, the std ratio last/first layer and the gradient-norm
ratio first/last layer.

>>> explorer = activation_explorer()
>>> explorer.set(activation="tanh", scheme="gaussian", std=0.01).result["diagnosis"]
'vanishing'
>>> explorer.set(activation="relu", scheme="he").result["diagnosis"]
'healthy'
>>> explorer.set(activation="sigmoid", scheme="gaussian", std=0.01).result["diagnosis"]  # stds look fine
'vanishing'
"""

from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np

from ..diagnosis import diagnose, saturated_share
from .base import Explorer

ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda h: np.maximum(h, 0.0),
    "sigmoid": lambda h: 1.0 / (1.0 + np.exp(-np.clip(h, -500, 500))),
    "linear": lambda h: h,
}
MAX_DEPTH = 20
RANGE = 2.0
BINS = np.linspace(-RANGE, RANGE, 61)
HISTOGRAM_ROWS = 120  # 120 inputs x 256 units = 30k values per layer: plenty for 60 bins


def scheme_std(scheme: str, fan_in: int, fan_out: int, std: float) -> float:
    """The weight std of a scheme: the slider's std, Xavier's sqrt(2/(in+out)) or He's sqrt(2/in)."""
    if scheme == "xavier":
        return math.sqrt(2.0 / (fan_in + fan_out))
    if scheme == "he":
        return math.sqrt(2.0 / fan_in)
    return std


def layer_activations(weights: np.ndarray, x: np.ndarray, depth: int, activation: str, scale: float) -> list[np.ndarray]:
    """Forward ``x`` through ``depth`` square layers ``weights[l] * scale`` (no bias)."""
    act = ACTIVATIONS[activation]
    outputs, h = [], x
    with np.errstate(over="ignore", invalid="ignore"):
        for layer in range(depth):
            h = act(h @ (weights[layer] * scale))
            outputs.append(h)
    return outputs


def histograms(outputs: list[np.ndarray], bins: int = len(BINS) - 1) -> np.ndarray:
    """One row per layer: counts of activation values in ``bins`` equal bins over [-2, 2],
    values beyond piled in the edge bins, each row scaled to a maximum of 1."""
    values = np.nan_to_num(np.clip(np.stack([h.ravel() for h in outputs]), -RANGE, RANGE), nan=0.0)
    index = np.minimum(((values + RANGE) * (bins / (2 * RANGE))).astype(np.int64), bins - 1)
    index += bins * np.arange(len(outputs))[:, None]
    counts = np.bincount(index.ravel(), minlength=bins * len(outputs)).reshape(len(outputs), bins)
    return counts / np.maximum(counts.max(axis=1, keepdims=True), 1)


def saturation(outputs: list[np.ndarray], activation: str) -> float:
    """The share of saturated units, averaged over the layers: |tanh| > 0.99, sigmoid outside
    [0.01, 0.99]; ReLU and linear units do not saturate (0). See :mod:`course_utils.diagnosis`.

    >>> saturation([np.array([0.0, 0.995, -1.0, 0.5])], "tanh")
    0.5
    """
    return float(np.mean([saturated_share(h, activation) for h in outputs]))


DERIVATIVES = {  # the activation's derivative, from its output
    "tanh": lambda a: 1.0 - a * a,
    "relu": lambda a: (a > 0).astype(a.dtype),
    "sigmoid": lambda a: a * (1.0 - a),
    "linear": lambda a: np.ones_like(a),
}


def gradient_norms(weights: np.ndarray, x: np.ndarray, outputs: list[np.ndarray], activation: str, scale: float,
                   upstream: np.ndarray) -> list[float]:
    """The norm of each layer's weight gradient when ``upstream`` (the error signal at the last layer's
    output) is backpropagated through the layers of :func:`layer_activations`; ``inf`` once it overflows.

    >>> rng = np.random.default_rng(0)
    >>> w, x = rng.standard_normal((2, 4, 4)), rng.standard_normal((3, 4))
    >>> outs = layer_activations(w, x, 2, "linear", 1.0)
    >>> g = gradient_norms(w, x, outs, "linear", 1.0, np.ones((3, 4)))
    >>> bool(np.isclose(g[1], np.linalg.norm(outs[0].T @ np.ones((3, 4)))))
    True
    """
    derivative = DERIVATIVES[activation]
    norms, signal = [], upstream
    with np.errstate(over="ignore", invalid="ignore"):
        for layer in range(len(outputs) - 1, -1, -1):
            delta = signal * derivative(outputs[layer])
            below = outputs[layer - 1] if layer > 0 else x
            norm = float(np.linalg.norm(below.T @ delta))  # the gradient of the weights as used, weights * scale
            norms.append(norm if np.isfinite(norm) else math.inf)
            signal = delta @ (weights[layer] * scale).T
    return norms[::-1]


def activation_explorer(seed: int = 0, width: int = 256, batch: int = 500) -> Explorer:
    """Depth, activation, scheme and std -> per-layer activation histograms and std curve."""
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal((MAX_DEPTH, width, width), dtype=np.float32)
    x = rng.standard_normal((batch, width), dtype=np.float32)
    upstream = rng.standard_normal((HISTOGRAM_ROWS, width), dtype=np.float32)  # the error at the last layer

    controls = {
        "depth": widgets.IntSlider(value=10, min=1, max=MAX_DEPTH, description="depth"),
        "activation": widgets.Dropdown(options=list(ACTIVATIONS), value="tanh", description="activation"),
        "scheme": widgets.Dropdown(options=["gaussian", "xavier", "he"], value="gaussian", description="scheme"),
        "std": widgets.FloatLogSlider(value=0.01, base=10, min=-3, max=1, step=0.05, description="std",
                                      readout_format=".3g"),
    }

    def setup(fig):
        hist_ax, std_ax = fig.subplots(1, 2, width_ratios=[1.4, 1])
        fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.9, wspace=0.22)
        image = hist_ax.imshow(np.zeros((MAX_DEPTH, len(BINS) - 1)), aspect="auto", cmap="magma",
                               extent=(-RANGE, RANGE, MAX_DEPTH + 0.5, 0.5), vmin=0, vmax=1,
                               interpolation="nearest")
        hist_ax.set_xlabel("activation value (edges: beyond ±2)")
        hist_ax.set_ylabel("layer")
        hist_ax.set_title("distribution of activations per layer", fontsize=10)
        line, = std_ax.semilogy([], [], "o-", color="tab:blue", label="std of activations")
        gradient, = std_ax.semilogy([], [], "s--", ms=3, color="tab:red", label="weight-gradient norm / last layer's")
        std_ax.axhline(1.0, color="grey", lw=0.8, ls="--", label="input std")
        std_ax.set_ylim(1e-8, 1e8)
        std_ax.set_xlabel("layer")
        std_ax.set_title("activations and gradients per layer (log scale)", fontsize=10)
        std_ax.legend(loc="upper left", fontsize=8)
        return {"image": image, "hist_ax": hist_ax, "line": line, "gradient": gradient, "std_ax": std_ax}

    def update(artists, depth, activation, scheme, std):
        scale = scheme_std(scheme, width, width, std)
        outputs = layer_activations(weights, x, depth, activation, scale)
        artists["image"].set_data(histograms([h[:HISTOGRAM_ROWS] for h in outputs]))
        artists["image"].set_extent((-RANGE, RANGE, depth + 0.5, 0.5))
        artists["hist_ax"].set_ylim(depth + 0.5, 0.5)
        with np.errstate(over="ignore", invalid="ignore"):
            stds = [float(np.std(h)) if np.isfinite(h).all() else math.inf for h in outputs]
        shown = np.clip(np.nan_to_num(stds, posinf=1e8), 1e-8, 1e8)
        artists["line"].set_data(np.arange(1, depth + 1), shown)
        artists["std_ax"].set_xlim(0.5, max(depth, 2) + 0.5)
        rows = [h[:HISTOGRAM_ROWS] for h in outputs]
        gradients = gradient_norms(weights, x[:HISTOGRAM_ROWS], rows, activation, scale, upstream[:, :width])
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            relative = np.array(gradients) / gradients[-1] if 0 < gradients[-1] < math.inf else \
                np.full(depth, np.nan)
            ratio = gradients[0] / gradients[-1] if gradients[-1] > 0 else math.inf
        artists["gradient"].set_data(np.arange(1, depth + 1), np.clip(np.nan_to_num(relative, nan=1e8, posinf=1e8),
                                                                       1e-8, 1e8))
        saturated = saturation(outputs, activation)
        ratio = ratio if np.isfinite(ratio) else math.inf
        return {"stds": stds, "weight_std": scale, "saturated": saturated, "gradients": gradients,
                "gradient_ratio": ratio, "diagnosis": diagnose(stds, saturated, ratio)}

    def on_change(controls, scheme, **_):
        controls["std"].disabled = scheme != "gaussian"

    def readout(result, depth, **_):
        stds = result["stds"]
        return (f"weight std {result['weight_std']:.3g} · layer 1 std {stds[0]:.3g} · "
                f"layer {depth} std {stds[-1]:.3g} · saturated {result['saturated']:.0%} · "
                f"gradient norm, layer 1 / layer {depth}: {result['gradient_ratio']:.2g} · "
                f"<b>{result['diagnosis']}</b>")

    return Explorer(controls, setup, update, readout=readout, on_change=on_change)
